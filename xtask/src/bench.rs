//! `cargo xtask bench`: the server benchmark from issue 4, measured on this machine in one run.
//!
//! 1. Builds `opsdeckd` in release with only the `mock` test provider (providers do not change
//!    what is measured, and this keeps the build short).
//! 2. Starts a local mock vendor that answers every request after 100 ms, and `opsdeckd` on a
//!    temporary SQLite data directory with the scheduler off (the API is measured alone).
//! 3. Creates 1,000 services, then measures `GET /api/v1/status` and `GET /api/v1/services`
//!    throughput and latency with a keep-alive load generator (gzip, and status uncompressed)
//!    beside a static-asset baseline, then `POST /api/v1/test-all?concurrency=64` against the
//!    ideal 1000 / 64 × 100 ms, then opsdeckd's peak RSS (VmHWM).
//! 4. Fair scheduler: a second opsdeckd with the scheduler on, 48 services whose vendor never
//!    answers and 5 healthy ones, all on a 10 s interval; the healthy vendor records when each
//!    healthy service is checked, and the largest gap is compared with 1.5 × the interval.
//! 5. Shared work: two opsdeckd on one PostgreSQL database (`OPSDECK_BENCH_DATABASE_URL`,
//!    default the local `test` database, a fresh schema made with `psql`), 20 services on a
//!    10 s interval for a minute; each instance's share of the checks is compared with half.
//!
//! 6. Monitoring (issue 10): the store's example `monitoring_bench` in release, on SQLite and
//!    on PostgreSQL — 48 h of minute checks for `--services` services through the rollup, the
//!    older days of `--days` as the buckets it would have written, database bytes per
//!    service-hour, and 30-day uptime (one service, all), the 90-bar and 96-bar strips against
//!    a plain `SELECT COUNT(*)` measured in the same run. `--only monitoring` runs it alone.
//!
//! Only the standard library is used, so the benchmark adds nothing to the build graph. Every
//! socket is on 127.0.0.1, every loop is bounded in time or count, and every process it starts
//! is stopped at the end.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const ADMIN: &str = "bench-admin-token";
const SERVICES: usize = 1000;
const VENDOR_LATENCY: Duration = Duration::from_millis(100);
const TEST_ALL_CONCURRENCY: usize = 64;

/// Options: `--duration SECS` (status load, default 10), `--connections N` (default 16),
/// `--services N` (default 1000), `--days N` (monitoring history, default 30),
/// `--only api|fair|shared|monitoring` (one part), `--write` (append the
/// results to docs/benchmarks.md).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut duration = Duration::from_secs(10);
    let mut connections = 16usize;
    let mut services = SERVICES;
    let mut write = false;
    let mut only: Option<String> = None;
    let mut days = 30u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--duration" => duration = Duration::from_secs(num(it.next(), "--duration")?),
            "--connections" => connections = num(it.next(), "--connections")? as usize,
            "--services" => services = num(it.next(), "--services")? as usize,
            "--only" => only = it.next().cloned(),
            "--days" => days = num(it.next(), "--days")?,
            "--write" => write = true,
            other => {
                return Err(format!(
                    "unknown bench option {other:?}; see xtask/src/bench.rs"
                ));
            }
        }
    }

    if only.as_deref() == Some("monitoring") {
        let mut report = header();
        report.push_str(&monitoring(services, days)?);
        println!("{report}");
        return append(write, &report);
    }
    eprintln!("bench: building opsdeckd (release, mock provider only)…");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "-p",
            "opsdeck-server",
            "--no-default-features",
            "--features",
            "test-provider",
        ])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building opsdeckd failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("release/opsdeckd");

    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let mut report = String::new();
    report.push_str(&header());
    if part("api") {
        let vendor = MockVendor::start()?;
        let data_dir = std::env::temp_dir().join(format!("opsdeck-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let mut server = Server::start(
            &bin,
            &data_dir,
            &[
                ("OPSDECK_NO_SCHEDULER", "true"),
                ("OPSDECK_CHECK_TIMEOUT", "30s"),
                ("OPSDECK_CHECK_CONCURRENCY", "64"),
            ],
        )?;
        let result = measure(&server, &vendor, services, duration, connections);
        server.stop();
        vendor.stop();
        let _ = std::fs::remove_dir_all(&data_dir);
        report.push_str(&result?);
    }
    if part("fair") {
        report.push_str(&fair(&bin)?);
    }
    if part("shared") {
        report.push_str(&shared(&bin)?);
    }
    if part("monitoring") {
        report.push_str(&monitoring(services, days)?);
    }
    println!("{report}");
    append(write, &report)
}

/// Appends the report to docs/benchmarks.md when `--write` was given.
fn append(write: bool, report: &str) -> Result<(), String> {
    if write {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        writeln!(f, "\n{report}").map_err(|e| e.to_string())?;
        eprintln!("bench: appended to {}", path.display());
    }
    Ok(())
}

fn num(v: Option<&String>, flag: &str) -> Result<u64, String> {
    v.and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

/// The same-run baseline route: a small static asset, no auth, no database.
const BASELINE: &str = "/ui/app.css";

fn header() -> String {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "### {date} — {cpu}, {cores} cores, load average {load} at the start (server and load generator on the same machine)\n\n| measurement | result | target |\n|---|---|---|\n"
    )
}

fn measure(
    server: &Server,
    vendor: &MockVendor,
    services: usize,
    duration: Duration,
    connections: usize,
) -> Result<String, String> {
    eprintln!("bench: creating {services} services…");
    let mut conn = Conn::open(&server.addr)?;
    for i in 0..services {
        let body = format!(
            r#"{{"name":"svc-{i:04}","provider":"mock","tags":["bench","team-{}"],"config":{{"base_url":"http://{}","token":"bench-token-{i}","team":"platform"}}}}"#,
            i % 10,
            vendor.addr
        );
        let (code, text) = conn.request("POST", "/api/v1/services", Some(&body), false)?;
        if code != 201 {
            return Err(format!("creating a service failed: {code} {text}"));
        }
    }

    eprintln!("bench: test-all over {services} services at concurrency {TEST_ALL_CONCURRENCY}…");
    let started = Instant::now();
    let (code, text) = conn.request(
        "POST",
        &format!("/api/v1/test-all?concurrency={TEST_ALL_CONCURRENCY}"),
        None,
        false,
    )?;
    let test_all = started.elapsed();
    if code != 200 {
        return Err(format!("test-all failed: {code} {text}"));
    }
    let connected = text.matches("\"status\":\"connected\"").count();
    let ideal = VENDOR_LATENCY.as_secs_f64() * (services as f64 / TEST_ALL_CONCURRENCY as f64);

    // Baseline in the same run: a small static asset (no auth, no database) through the same
    // server, HTTP stack and load generator — the floor any route pays. The figures are also
    // reported as a ratio to it, which stays comparable across machines and across runs
    // disturbed by other load.
    let run_load = |path: &'static str, gzip: bool| -> Result<LoadResult, String> {
        eprintln!(
            "bench: GET {path}, {connections} connections, {duration:?}{}…",
            if gzip { " (gzip)" } else { "" }
        );
        let _ = load(
            &server.addr,
            path,
            connections,
            Duration::from_secs(1),
            gzip,
        )?; // warm-up
        load(&server.addr, path, connections, duration, gzip)
    };
    let base = run_load(BASELINE, false)?;
    let gz = run_load("/api/v1/status", true)?;
    let list = run_load("/api/v1/services", true)?;
    let plain = run_load("/api/v1/status", false)?;
    let list_plain = run_load("/api/v1/services", false)?;
    let (_, status_body) = conn.request("GET", "/api/v1/status", None, false)?;
    let (_, list_body) = conn.request("GET", "/api/v1/services", None, false)?;
    let rss = peak_rss_kib(server.pid());

    let mut out = String::new();
    out.push_str(&format!(
        "| `GET /api/v1/status`, {services} services, gzip ({} KiB body → {} KiB), {connections} keep-alive connections | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | ≥ 20,000 req/s, p99 ≤ 10 ms |\n",
        status_body.len() / 1024,
        gz.bytes_per_response / 1024,
        gz.rps,
        gz.p50_ms,
        gz.p99_ms
    ));
    out.push_str(&format!(
        "| `GET /api/v1/services`, {services} services, gzip ({} KiB body → {} KiB) | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms = **{:.2}×** the status throughput | within 2× of `/status` (≥ 0.5×) |\n",
        list_body.len() / 1024,
        list.bytes_per_response / 1024,
        list.rps,
        list.p50_ms,
        list.p99_ms,
        list.rps / gz.rps
    ));
    out.push_str(&format!(
        "| same without compression: status · services | {:.0} req/s (p99 {:.2} ms) · {:.0} req/s (p99 {:.2} ms) = {:.2}× | — |\n",
        plain.rps, plain.p99_ms, list_plain.rps, list_plain.p99_ms, list_plain.rps / plain.rps
    ));
    out.push_str(&format!(
        "| baseline `GET {BASELINE}` (static, same server, client and run) | {:.0} req/s, p99 {:.2} ms; status gzip = {:.2}×, services gzip = {:.2}× its throughput | — |\n",
        base.rps,
        base.p99_ms,
        gz.rps / base.rps,
        list.rps / base.rps
    ));
    out.push_str(&format!(
        "| `POST /api/v1/test-all`, {services} services, vendor latency 100 ms, concurrency {TEST_ALL_CONCURRENCY} ({connected} connected) | {:.2} s = {:.2}× the ideal {:.2} s | ≤ 1.3× |\n",
        test_all.as_secs_f64(),
        test_all.as_secs_f64() / ideal,
        ideal
    ));
    out.push_str(&format!(
        "| opsdeckd peak RSS (VmHWM) over the API part | {:.1} MiB | ≤ 64 MiB |\n",
        rss as f64 / 1024.0
    ));
    Ok(out)
}

/// 48 services whose vendor never answers and 5 healthy ones, all on a 10 s interval, with the
/// default check timeout (10 s) and concurrency (16): how often is each healthy service
/// checked?
fn fair(bin: &Path) -> Result<String, String> {
    const HANGING: usize = 48;
    const HEALTHY: usize = 5;
    const INTERVAL: Duration = Duration::from_secs(10);
    const WARM_UP: Duration = Duration::from_secs(25);
    const WINDOW: Duration = Duration::from_secs(60);
    let healthy = MockVendor::start_with_latency(Duration::from_millis(50))?;
    let hanging = HangingVendor::start()?;
    let data_dir = std::env::temp_dir().join(format!("opsdeck-bench-fair-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut server = Server::start(bin, &data_dir, &[])?;
    let result = (|| -> Result<String, String> {
        let mut conn = Conn::open(&server.addr)?;
        for i in 0..HANGING.max(HEALTHY) {
            for (kind, addr, n) in [
                ("hang", &hanging.addr, HANGING),
                ("ok", &healthy.addr, HEALTHY),
            ] {
                if i >= n {
                    continue;
                }
                let body = format!(
                    r#"{{"name":"{kind}-{i:02}","provider":"mock","interval_secs":{},"config":{{"base_url":"http://{addr}","token":"{kind}-token-{i}"}}}}"#,
                    INTERVAL.as_secs()
                );
                let (code, text) = conn.request("POST", "/api/v1/services", Some(&body), false)?;
                if code != 201 {
                    return Err(format!("creating a service failed: {code} {text}"));
                }
            }
        }
        eprintln!(
            "bench: fair scheduler, {HANGING} hanging + {HEALTHY} healthy services, {}s warm-up + {}s window…",
            WARM_UP.as_secs(),
            WINDOW.as_secs()
        );
        let start = Instant::now();
        std::thread::sleep(WARM_UP + WINDOW);
        let from = start + WARM_UP;
        let to = start + WARM_UP + WINDOW;
        let seen = healthy.checks();
        let mut worst_gap = Duration::ZERO;
        let mut counts = Vec::new();
        for i in 0..HEALTHY {
            let times: Vec<Instant> = seen
                .get(&format!("ok-token-{i}"))
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|t| *t >= from && *t <= to)
                        .collect()
                })
                .unwrap_or_default();
            counts.push(times.len());
            // The gaps inside the window, and from its edges to the first and last check.
            let mut edges = vec![from];
            edges.extend(times.iter().copied());
            edges.push(to);
            for w in edges.windows(2) {
                worst_gap = worst_gap.max(w[1].saturating_duration_since(w[0]));
            }
        }
        let hang_checks = hanging.accepted();
        let ideal = WINDOW.as_secs_f64() / INTERVAL.as_secs_f64();
        Ok(format!(
            "| fair scheduler: {HANGING} services hanging + {HEALTHY} healthy, 10 s interval, timeout 10 s, concurrency 16, {}s window after {}s warm-up | healthy checks per service {} (ideal {ideal:.0}); longest gap **{:.1} s = {:.2}× the interval**; {hang_checks} checks of hanging services in the whole run | every healthy service checked at least once per 1.5 × its interval |\n",
            WINDOW.as_secs(),
            WARM_UP.as_secs(),
            counts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("/"),
            worst_gap.as_secs_f64(),
            worst_gap.as_secs_f64() / INTERVAL.as_secs_f64()
        ))
    })();
    server.stop();
    healthy.stop();
    hanging.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

/// Two instances on one PostgreSQL database, 20 services on a 10 s interval, one minute: how
/// evenly do they share the checks?
fn shared(bin: &Path) -> Result<String, String> {
    const SERVICES: usize = 20;
    const WINDOW: Duration = Duration::from_secs(60);
    let base = std::env::var("OPSDECK_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("opsdeck_bench_{}", std::process::id());
    psql(&base, &format!("CREATE SCHEMA {schema}"))?;
    let url = format!(
        "{base}{}options=-c%20search_path%3D{schema}",
        if base.contains('?') { '&' } else { '?' }
    );
    let vendor = MockVendor::start_with_latency(Duration::from_millis(50))?;
    let dirs: Vec<PathBuf> = (0..2)
        .map(|i| std::env::temp_dir().join(format!("opsdeck-bench-pg{i}-{}", std::process::id())))
        .collect();
    let key = "6f70736465636b2d62656e63682d6b65792d6f6e6c792d666f722d62656e6368";
    let env = [
        ("OPSDECK_DATABASE_URL", url.as_str()),
        ("OPSDECK_SECRET_KEY", key),
    ];
    let mut servers = Vec::new();
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
        servers.push(Server::start(bin, d, &env)?);
    }
    let result = (|| -> Result<String, String> {
        let mut conn = Conn::open(&servers[0].addr)?;
        for i in 0..SERVICES {
            let body = format!(
                r#"{{"name":"pg-{i:02}","provider":"mock","interval_secs":10,"config":{{"base_url":"http://{}","token":"pg-token-{i}"}}}}"#,
                vendor.addr
            );
            let (code, text) = conn.request("POST", "/api/v1/services", Some(&body), false)?;
            if code != 201 {
                return Err(format!("creating a service failed: {code} {text}"));
            }
        }
        eprintln!(
            "bench: 2 instances on PostgreSQL, {SERVICES} services, {}s…",
            WINDOW.as_secs()
        );
        let started = psql(
            &base,
            "SELECT CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT)",
        )?;
        std::thread::sleep(WINDOW);
        let rows = psql(
            &base,
            &format!(
                "SELECT instance, count(*) FROM {schema}.check_results WHERE checked_at >= {} GROUP BY instance ORDER BY instance",
                started.trim()
            ),
        )?;
        let counts: Vec<u64> = rows
            .lines()
            .filter_map(|l| l.split('|').nth(1).and_then(|n| n.trim().parse().ok()))
            .collect();
        let doubles = psql(
            &base,
            &format!(
                "SELECT count(*) FROM {schema}.check_results a JOIN {schema}.check_results b \
                 ON a.service_id = b.service_id AND a.id < b.id AND b.checked_at - a.checked_at < 5000 \
                 WHERE a.checked_at >= {}",
                started.trim()
            ),
        )?;
        let total: u64 = counts.iter().sum();
        let half = total as f64 / 2.0;
        let worst = counts
            .iter()
            .map(|c| (*c as f64 - half).abs() / half)
            .fold(0.0, f64::max);
        Ok(format!(
            "| 2 opsdeckd on one PostgreSQL database, {SERVICES} services, 10 s interval, {}s | checks per instance {} of {total} (ideal {}); largest deviation from an even split **{:.0} %**; checks of one service less than half an interval apart: {} | each instance within ±25 % of an even share |\n",
            WINDOW.as_secs(),
            counts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
            SERVICES * WINDOW.as_secs() as usize / 10,
            worst * 100.0,
            doubles.trim()
        ))
    })();
    for mut s in servers {
        s.stop();
    }
    vendor.stop();
    let _ = psql(&base, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    result
}

/// Runs one SQL statement with `psql` (the bench adds no database driver to xtask).
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([url, "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql (needed for the PostgreSQL part): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

struct LoadResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes_per_response: usize,
}

/// `connections` threads, each sending requests back to back on one keep-alive connection for
/// `duration`.
fn load(
    addr: &str,
    path: &'static str,
    connections: usize,
    duration: Duration,
    gzip: bool,
) -> Result<LoadResult, String> {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let addr = addr.to_owned();
            std::thread::spawn(move || -> Result<(Vec<u32>, usize), String> {
                let mut c = Conn::open(&addr)?;
                let mut lat = Vec::with_capacity(100_000);
                let mut bytes = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let (code, n) = c.request_len("GET", path, gzip)?;
                    if code != 200 {
                        return Err(format!("{path} returned {code}"));
                    }
                    bytes = n;
                    lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                Ok((lat, bytes))
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut bytes = 0;
    for h in handles {
        let (lat, b) = h
            .join()
            .map_err(|_| "a load thread panicked".to_owned())??;
        all.extend(lat);
        bytes = b;
    }
    if all.is_empty() {
        return Err("no request completed".into());
    }
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0;
    Ok(LoadResult {
        rps: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        bytes_per_response: bytes,
    })
}

/// A minimal HTTP/1.1 keep-alive client (enough for our own server's responses).
struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> Result<Self, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
        Ok(Conn {
            addr: addr.to_owned(),
            reader: BufReader::with_capacity(256 * 1024, s),
        })
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        gzip: bool,
    ) -> Result<(), String> {
        let body = body.unwrap_or("");
        let enc = if gzip {
            "accept-encoding: gzip\r\n"
        } else {
            ""
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {ADMIN}\r\n{enc}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .map_err(|e| e.to_string())
    }

    /// Reads one response; returns the status and the body.
    fn read(&mut self) -> Result<(u16, Vec<u8>), String> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            line.clear();
            self.reader
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader
                    .read_line(&mut line)
                    .map_err(|e| e.to_string())?;
                let n = usize::from_str_radix(line.trim(), 16).map_err(|e| e.to_string())?;
                let mut chunk = vec![0; n + 2];
                self.reader
                    .read_exact(&mut chunk)
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else {
            body.resize(len, 0);
            self.reader
                .read_exact(&mut body)
                .map_err(|e| e.to_string())?;
        }
        Ok((code, body))
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        gzip: bool,
    ) -> Result<(u16, String), String> {
        self.send(method, path, body, gzip)?;
        let (code, b) = self.read()?;
        Ok((code, String::from_utf8_lossy(&b).into_owned()))
    }

    fn request_len(
        &mut self,
        method: &str,
        path: &str,
        gzip: bool,
    ) -> Result<(u16, usize), String> {
        self.send(method, path, None, gzip)?;
        let (code, b) = self.read()?;
        Ok((code, b.len()))
    }
}

/// When each token's `/check` requests arrived (the fair-scheduler part reads it).
type CheckLog = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// The vendor stand-in: answers `/check` and `/metrics` after a fixed delay, keep-alive,
/// one thread per connection (the server opens at most `concurrency` of them), and records
/// when each bearer token's `/check` arrived.
struct MockVendor {
    addr: String,
    stop: Arc<AtomicBool>,
    log: CheckLog,
}

impl MockVendor {
    fn start() -> Result<Self, String> {
        Self::start_with_latency(VENDOR_LATENCY)
    }

    fn start_with_latency(latency: Duration) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let log: CheckLog = Arc::default();
        let sink = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let sink = sink.clone();
                std::thread::spawn(move || serve_vendor(stream, latency, &sink));
            }
        });
        Ok(MockVendor { addr, stop, log })
    }

    fn checks(&self) -> HashMap<String, Vec<Instant>> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve_vendor(stream: TcpStream, latency: Duration, log: &CheckLog) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut len = 0usize;
        let mut token = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if let Some(v) = l.strip_prefix("authorization: bearer ") {
                token = v.trim().to_owned();
            }
        }
        let mut sink = vec![0; len];
        if reader.read_exact(&mut sink).is_err() {
            return;
        }
        if path.starts_with("/check")
            && let Ok(mut l) = log.lock()
        {
            l.entry(token).or_default().push(Instant::now());
        }
        std::thread::sleep(latency);
        let body = if path.starts_with("/metrics") {
            r#"{"value":1}"#
        } else {
            r#"{"login":"bench"}"#
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A vendor that accepts connections and never answers (until the client gives up).
struct HangingVendor {
    addr: String,
    stop: Arc<AtomicBool>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl HangingVendor {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (flag, count) = (stop.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::Relaxed);
                // Read and discard until the client closes; never answer.
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        Ok(HangingVendor {
            addr,
            stop,
            accepted,
        })
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// The opsdeckd process under test.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(bin: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Result<Self, String> {
        let mut cmd = Command::new(bin);
        cmd.args(["--listen", "127.0.0.1:0"])
            .env("OPSDECK_DATA_DIR", data_dir)
            .env("OPSDECK_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "warn")
            .env_remove("OPSDECK_DATABASE_URL")
            .env_remove("OPSDECK_CONFIG")
            .env_remove("OPSDECK_NO_SCHEDULER");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(a) = line.split("serving http://").nth(1) {
                    let _ = tx.send(a.split_whitespace().next().unwrap_or_default().to_owned());
                } else {
                    eprintln!("opsdeckd: {line}");
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => Ok(Server { child, addr }),
            Err(_) => {
                let _ = child.kill();
                Err("opsdeckd did not start within 30 s".into())
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident set size of a process in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The monitoring part: runs `crates/store/examples/monitoring_bench.rs` in release on both
/// backends and renders its JSON as a table.
fn monitoring(services: usize, days: u64) -> Result<String, String> {
    let mut out = format!(
        "\n### Monitoring ({services} services, {days} days of minute checks: 48 h raw through the rollup, older days as buckets)\n\n\
         | backend | ingest insert+rollup (results/s) | rollup alone | guarded record_results | bytes per service-hour | baseline COUNT | 30 d uptime, one | 30 d uptime, all | 90-bar strip | 96-bar 24 h strip | dashboard strips, all services (÷ one per service × N) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for backend in ["sqlite", "postgres"] {
        eprintln!("bench: monitoring on {backend} ({services} services, {days} days)…");
        let output = Command::new(env!("CARGO"))
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "opsdeck-store",
                "--example",
                "monitoring_bench",
                "--",
                "--backend",
                backend,
                "--services",
                &services.to_string(),
                "--days",
                &days.to_string(),
            ])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !output.status.success() {
            return Err(format!("monitoring bench on {backend} failed"));
        }
        let v: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("monitoring bench output: {e}"))?;
        let t = |k: &str| format!("{} ms ({}×)", v[k]["median_ms"], v[k]["ratio_to_baseline"]);
        out.push_str(&format!(
            "| {backend} | {} | {} | {} | {} | {} ms | {} | {} | {} | {} | {} ({}) |\n",
            v["ingest_total_results_per_s"],
            v["ingest_rollup_results_per_s"],
            v["guarded_record_results_per_s"],
            v["bytes_per_service_hour"],
            v["baseline_count_ms"],
            t("uptime_30d_one_service"),
            t("uptime_30d_all_services"),
            t("strip_90d_by_day_one_service"),
            t("strip_24h_by_15m_one_service"),
            t("strips_24h_by_hour_all_services"),
            v["strips_all_vs_one_per_service"],
        ));
    }
    Ok(out)
}
