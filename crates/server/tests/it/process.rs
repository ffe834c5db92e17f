//! Tests that run the `opsdeckd` binary: crash durability (SIGKILL), graceful SIGTERM, and two
//! instances sharing one PostgreSQL database through leases.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use reqwest::StatusCode;
use sqlx::Row;

use crate::support::{ADMIN, GOOD_TOKEN, drop_database, mock_vendor, pg_database};

const KEY: &str = "6f70736465636b2d746573742d6b65792d6f6e6c792d666f722d746573747321";

struct Proc {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

fn spawn_proc(envs: &[(&str, String)]) -> Proc {
    spawn_cmd(Command::new(env!("CARGO_BIN_EXE_opsdeckd")), envs)
}

fn spawn_cmd(mut cmd: Command, envs: &[(&str, String)]) -> Proc {
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .env("OPSDECK_ADMIN_TOKEN", ADMIN)
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn opsdeckd");
    let stderr = child.stderr.take().expect("piped stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("serving http://").nth(1) {
                let _ = tx.send(
                    addr.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("opsdeckd did not start:\n{}", log.lock().unwrap()));
    Proc {
        child,
        base: format!("http://{addr}"),
        log,
    }
}

fn kill9(p: &mut Proc) {
    // std's kill() is SIGKILL on Unix: no shutdown code runs.
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

async fn create(client: &reqwest::Client, base: &str, name: &str, mock: &str) {
    let r = client
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({
            "name": name, "provider": "mock",
            "config": {"base_url": mock, "token": GOOD_TOKEN, "team": name},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
}

async fn durability(db_url: Option<String>) {
    let mock = mock_vendor().await;
    let dir = tempfile::tempdir().unwrap();
    let mut envs = vec![("OPSDECK_DATA_DIR", dir.path().display().to_string())];
    if let Some(url) = &db_url {
        envs.push(("OPSDECK_DATABASE_URL", url.clone()));
    }
    let client = reqwest::Client::new();
    let mut first = spawn_proc(&envs);
    for i in 0..20 {
        create(&client, &first.base, &format!("svc-{i:02}"), &mock.uri()).await;
    }
    kill9(&mut first);

    let mut second = spawn_proc(&envs);
    let list: serde_json::Value = client
        .get(format!("{}/api/v1/services", second.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names.len(), 20, "{list}");
    for (i, s) in list.as_array().unwrap().iter().enumerate() {
        assert_eq!(s["name"], format!("svc-{i:02}"));
        assert_eq!(s["config"]["team"], format!("svc-{i:02}"));
        assert_eq!(s["config"]["token"], serde_json::json!({"set": true}));
    }
    // The secrets survived too: a check with the stored token connects.
    let r: serde_json::Value = client
        .post(format!("{}/api/v1/services/svc-07/test", second.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "connected", "{r}");

    // SIGTERM: graceful shutdown, exit code 0.
    let pid = second.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = second.child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    let logs = format!(
        "{}{}",
        first.log.lock().unwrap(),
        second.log.lock().unwrap()
    );
    assert!(logs.contains("shutting down"), "{logs}");
    opsdeck_testkit::assert_no_secrets("opsdeckd logs", &logs, &[GOOD_TOKEN]);
    if let Some(url) = &db_url {
        drop_database(url).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_durability_sqlite() {
    durability(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_durability_postgres() {
    let Some(url) = pg_database().await else {
        return;
    };
    durability(Some(url)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn second_instance_on_one_sqlite_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![("OPSDECK_DATA_DIR", dir.path().display().to_string())];
    let mut first = spawn_proc(&envs);
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeckd"))
        .args(["--listen", "127.0.0.1:0"])
        .env("OPSDECK_DATA_DIR", dir.path())
        .env("OPSDECK_ADMIN_TOKEN", ADMIN)
        .env_remove("OPSDECK_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another opsdeckd") && err.contains("PostgreSQL"),
        "{err}"
    );
    kill9(&mut first);
}

/// Two opsdeckd processes, one PostgreSQL database, 50 services, a 2 s interval: each service is
/// checked once per interval and never twice; after one process is SIGKILLed the other takes its
/// services over once their leases expire.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_the_work_and_take_over() {
    let Some(url) = pg_database().await else {
        return;
    };
    let mock = mock_vendor().await;
    let interval_ms = 2000;
    let lease_ms = 3000;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let common = |dir: &tempfile::TempDir| {
        vec![
            ("OPSDECK_DATA_DIR", dir.path().display().to_string()),
            ("OPSDECK_DATABASE_URL", url.clone()),
            ("OPSDECK_SECRET_KEY", KEY.to_owned()),
            ("OPSDECK_CHECK_INTERVAL", "2s".to_owned()),
            ("OPSDECK_CHECK_TIMEOUT", "1s".to_owned()),
            ("OPSDECK_SCHEDULER_TICK", "100ms".to_owned()),
            ("OPSDECK_SCHEDULER_LEASE", "3s".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
    };
    let mut a = spawn_proc(&common(&dir_a));
    let mut b = spawn_proc(&common(&dir_b));
    let client = reqwest::Client::new();
    for i in 0..50 {
        create(&client, &a.base, &format!("s{i:02}"), &mock.uri()).await;
    }
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let killed_at = opsdeck_store::now_ms();
    kill9(&mut a);
    tokio::time::sleep(Duration::from_millis(8000)).await;
    let ended_at = opsdeck_store::now_ms();
    kill9(&mut b);

    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows = sqlx::query(
        "SELECT s.name, r.checked_at, r.instance FROM check_results r JOIN services s ON s.id = r.service_id \
         ORDER BY s.name, r.checked_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut by_service: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for row in rows {
        by_service
            .entry(row.try_get::<String, _>(0).unwrap())
            .or_default()
            .push((row.try_get(1).unwrap(), row.try_get(2).unwrap()));
    }
    assert_eq!(by_service.len(), 50, "every service was checked");
    let before: BTreeSet<&str> = by_service
        .values()
        .flatten()
        .filter(|(t, _)| *t < killed_at)
        .map(|(_, i)| i.as_str())
        .collect();
    assert_eq!(
        before.len(),
        2,
        "both instances ran checks before the kill: {before:?}"
    );
    let survivor: BTreeSet<&str> = by_service
        .values()
        .flatten()
        .filter(|(t, _)| *t > killed_at + 200)
        .map(|(_, i)| i.as_str())
        .collect();
    assert_eq!(
        survivor.len(),
        1,
        "only the survivor checks after the kill: {survivor:?}"
    );
    for (name, checks) in &by_service {
        for w in checks.windows(2) {
            let gap = w[1].0 - w[0].0;
            // Never twice in one interval (two checks of one slot would be milliseconds apart),
            // never starved longer than an interval plus a lease (the takeover) plus slack.
            assert!(gap >= interval_ms / 2, "{name}: two checks {gap} ms apart");
            assert!(
                gap <= interval_ms + lease_ms + 1500,
                "{name}: {gap} ms without a check"
            );
        }
        let last = checks.last().map_or(0, |c| c.0);
        assert!(
            last > ended_at - interval_ms - lease_ms,
            "{name} was not taken over: last check at {last}"
        );
        // Once per interval from the first check until the kill: floor(window / interval) + 1
        // slots, give or take one at either edge — the one in flight at the kill, and a first
        // check that finished late on a loaded machine (`checked_at` is when a check ends, so
        // the window measured from it is short by that delay). Double checks are ruled out by
        // the gap assertion above, not by this count.
        let first = checks.first().map_or(0, |c| c.0);
        let expected = (killed_at - first) / interval_ms + 1;
        let got = checks.iter().filter(|(t, _)| *t < killed_at).count() as i64;
        assert!(
            (expected - 1..=expected + 1).contains(&got),
            "{name}: {got} checks before the kill, expected {expected}"
        );
    }
    drop_database(&url).await;
}

/// Key file created 0600 on first start; a missing key is a clear error; `opsdeckd rotate-key`
/// re-encrypts every secret and the server starts with the new key.
#[tokio::test(flavor = "multi_thread")]
async fn key_file_rotation_and_missing_key() {
    use std::os::unix::fs::PermissionsExt;
    let mock = mock_vendor().await;
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![("OPSDECK_DATA_DIR", dir.path().display().to_string())];
    let client = reqwest::Client::new();
    let mut first = spawn_proc(&envs);
    create(&client, &first.base, "rot", &mock.uri()).await;
    kill9(&mut first);
    let key_file = dir.path().join("secret.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode {mode:o}");
    let old_key = std::fs::read_to_string(&key_file).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_opsdeckd"))
        .arg("rotate-key")
        .env("OPSDECK_DATA_DIR", dir.path())
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_SECRET_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("re-encrypted 1 secrets"), "{err}");
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(old_key, new_key);
    assert!(!dir.path().join("secret.key.new").exists());

    let mut second = spawn_proc(&envs);
    let r: serde_json::Value = client
        .post(format!("{}/api/v1/services/rot/test", second.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["status"], "connected",
        "secrets readable under the new key: {r}"
    );
    kill9(&mut second);

    // The old key (e.g. a stale OPSDECK_SECRET_KEY) is refused with both key ids.
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeckd"))
        .args(["--listen", "127.0.0.1:0"])
        .env("OPSDECK_DATA_DIR", dir.path())
        .env("OPSDECK_SECRET_KEY", old_key.trim())
        .env("OPSDECK_ADMIN_TOKEN", ADMIN)
        .env_remove("OPSDECK_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("does not match the key this database was encrypted with"),
        "{err}"
    );

    // A lost key file: a clear error, and no new key is made up.
    std::fs::remove_file(&key_file).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeckd"))
        .args(["--listen", "127.0.0.1:0"])
        .env("OPSDECK_DATA_DIR", dir.path())
        .env("OPSDECK_ADMIN_TOKEN", ADMIN)
        .env_remove("OPSDECK_DATABASE_URL")
        .env_remove("OPSDECK_SECRET_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no secret key") && err.contains("restore the key file"),
        "{err}"
    );
    assert!(
        !key_file.exists(),
        "no key may be generated for a database that has secrets"
    );
}

/// Under a low file-descriptor limit, silent connections cannot lock legitimate clients out:
/// the accept loop backs off on EMFILE instead of failing, the server closes connections that
/// send nothing, and a real request is then served.
#[tokio::test(flavor = "multi_thread")]
async fn survives_emfile_under_idle_connections() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "ulimit -n 64 && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_opsdeckd"),
    ]);
    let envs = vec![
        ("OPSDECK_DATA_DIR", dir.path().display().to_string()),
        ("OPSDECK_HTTP_HEADER_TIMEOUT", "1s".to_owned()),
        ("OPSDECK_HTTP_IDLE_TIMEOUT", "1s".to_owned()),
        ("OPSDECK_HTTP_MAX_CONNECTIONS", "10000".to_owned()),
        ("OPSDECK_NO_SCHEDULER", "true".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let mut p = spawn_cmd(cmd, &envs);
    let addr = p.base.trim_start_matches("http://").to_owned();
    let a = addr.clone();
    let served = tokio::task::spawn_blocking(move || {
        // Far more silent connections than the process has descriptors.
        let silent: Vec<std::net::TcpStream> = (0..150)
            .filter_map(|_| std::net::TcpStream::connect(&a).ok())
            .collect();
        assert!(silent.len() > 100, "connected {}", silent.len());
        let mut s = std::net::TcpStream::connect(&a).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(
            format!("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        drop(silent);
        answer
    })
    .await
    .unwrap();
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    // The process is still serving afterwards.
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let log = p.log.lock().unwrap().clone();
    assert!(
        log.contains("accept error"),
        "EMFILE was hit and survived: {log}"
    );
    kill9(&mut p);
}
