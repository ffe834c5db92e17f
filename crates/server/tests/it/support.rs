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
