//! `spawn_app`, per-test databases and the mock vendor.

use std::time::Duration;

use opsdeck_server::{Server, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ADMIN: &str = "test-admin-token-0123456789";
pub const GOOD_TOKEN: &str = "mock-secret-token-s3cr3t-value";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh PostgreSQL schema on the local server; `None` (test skipped with a visible notice)
/// only when PostgreSQL is down and we are not in CI — the store's tests follow the same policy.
pub async fn pg_database() -> Option<String> {
    opsdeck_store::testing::postgres_url(std::thread::current().name().unwrap_or("server test"))
        .await
}

pub async fn drop_database(url: &str) {
    opsdeck_store::testing::drop_postgres(url).await;
}

pub struct TestApp {
    pub base: String,
    pub server: Option<Server>,
    pub dir: TempDir,
    pub db_url: Option<String>,
    pub client: reqwest::Client,
    pub mock: MockServer,
}

pub async fn mock_vendor() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/check"))
        .and(header(
            "authorization",
            format!("Bearer {GOOD_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"login": "octo", "plan": "pro"})),
        )
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .and(path("/metrics"))
        .and(header(
            "authorization",
            format!("Bearer {GOOD_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": 42})))
        .mount(&mock)
        .await;
    // Anything else (a wrong token): the vendor's 401.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "bad token"})))
        .mount(&mock)
        .await;
    mock
}

pub fn settings(dir: &TempDir, db_url: Option<String>) -> Settings {
    let mut s = Settings::new(dir.path().to_owned());
    s.listen = "127.0.0.1:0".parse().unwrap();
    s.database_url = db_url;
    s.admin_token = Some(ADMIN.to_owned().into());
    s.scheduler = false;
    s.check_timeout = Duration::from_secs(5);
    // The auth matrix alone fails authentication dozens of times from 127.0.0.1; the throttle
    // has its own test.
    s.auth_failure_burst = 100_000;
    s
}

/// Starts the server; `None` when the database is unavailable outside CI.
pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_with(db, |_| {}).await
}

pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    opsdeck_core::install_crypto_provider();
    let db_url = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(pg_database().await?),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&dir, db_url.clone());
    tweak(&mut s);
    let server = opsdeck_server::start(s).await.unwrap();
    Some(TestApp {
        base: format!("http://{}", server.addr),
        server: Some(server),
        dir,
        db_url,
        client: reqwest::Client::new(),
        mock: mock_vendor().await,
    })
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub async fn call(
        &self,
        m: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, body, text }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, Some(ADMIN), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(ADMIN), Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(ADMIN), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, Some(ADMIN), None).await
    }

    /// A `mock` service body pointing at this app's mock vendor.
    pub fn mock_service(&self, name: &str, token: &str) -> Value {
        json!({
            "name": name,
            "provider": "mock",
            "config": {"base_url": self.mock.uri(), "token": token, "team": "platform"},
            "tags": ["t1"],
        })
    }

    pub async fn create(&self, name: &str) -> Resp {
        let r = self
            .post("/api/v1/services", self.mock_service(name, GOOD_TOKEN))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r
    }

    pub async fn finish(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        if let Some(url) = &self.db_url {
            drop_database(url).await;
        }
    }
}

/// Generates `mod NAME { sqlite, postgres }` tests that run `NAME(Db)` on each backend.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::support::Db::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::support::Db::Postgres).await
            }
        }
    )*};
}

/// A vendor stand-in that holds every request until released and counts how many are open at
/// once: a request is open from its head until the answer, or until the client closes the
/// connection (an aborted probe).
pub struct HoldingVendor {
    pub uri: String,
    open: std::sync::Arc<tokio::sync::watch::Sender<usize>>,
    max_open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    seen: tokio::sync::watch::Receiver<usize>,
    closed_early: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    release: std::sync::Arc<tokio::sync::Notify>,
    released: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HoldingVendor {
    pub async fn start() -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let open = Arc::new(tokio::sync::watch::Sender::new(0usize));
        let max_open = Arc::new(AtomicUsize::new(0));
        let closed_early = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let released = Arc::new(AtomicBool::new(false));
        let (seen_tx, seen) = tokio::sync::watch::channel(0usize);
        let seen_tx = Arc::new(seen_tx);
        let (o, m, c, r, rd) = (
            open.clone(),
            max_open.clone(),
            closed_early.clone(),
            release.clone(),
            released.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (o, m, c, r, rd, seen_tx) = (
                    o.clone(),
                    m.clone(),
                    c.clone(),
                    r.clone(),
                    rd.clone(),
                    seen_tx.clone(),
                );
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        // One request per connection is enough for these tests.
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    o.send_modify(|n| {
                        *n += 1;
                        m.fetch_max(*n, Ordering::SeqCst);
                    });
                    seen_tx.send_modify(|n| *n += 1);
                    let released = r.notified();
                    tokio::pin!(released);
                    released.as_mut().enable();
                    let answer = if rd.load(Ordering::SeqCst) {
                        true
                    } else {
                        tokio::select! {
                            () = released => true,
                            n = sock.read(&mut chunk) => {
                                // EOF (or anything else): the client went away.
                                let _ = n;
                                false
                            }
                        }
                    };
                    if answer {
                        let body = r#"{"login":"held"}"#;
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                    } else {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    o.send_modify(|n| *n -= 1);
                });
            }
        });
        HoldingVendor {
            uri,
            open,
            max_open,
            seen,
            closed_early,
            release,
            released,
        }
    }

    /// Waits until `n` requests have arrived in total (at most 30 s).
    pub async fn wait_seen(&self, n: usize) {
        let mut rx = self.seen.clone();
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| *s >= n))
            .await
            .expect("the stand-in saw the requests")
            .expect("stand-in alive");
    }

    /// Waits until no request is open (at most 30 s).
    pub async fn wait_idle(&self) {
        let mut rx = self.open.subscribe();
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|n| *n == 0))
            .await
            .expect("requests still open at the stand-in")
            .expect("stand-in alive");
    }

    /// Answers every held request, and every later one at once.
    pub fn release(&self) {
        self.released
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.release.notify_waiters();
    }

    pub fn max_open(&self) -> usize {
        self.max_open.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn closed_early(&self) -> usize {
        self.closed_early.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A `mock` service body pointing at this stand-in.
    pub fn service(&self, name: &str) -> Value {
        json!({
            "name": name,
            "provider": "mock",
            "config": {"base_url": self.uri, "token": GOOD_TOKEN},
        })
    }
}
