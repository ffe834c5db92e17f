//! The shared HTTP policy: exact requests, classification, secret scrubbing and the body cap
//! against a local stand-in; retries, `Retry-After` against the deadline and timeouts through
//! `execute` with a scripted transport under `tokio::time::pause` (no wall clock involved).

use std::io::Write as _;
use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use opsdeck_core::deadline::with_timeout;
use opsdeck_core::http::address::FilteringResolver;
use opsdeck_core::http::{
    DefaultVendor, HttpClient, HttpResponse, HttpSettings, Redactor, Reply, RequestCtx, USER_AGENT,
    Vendor, VendorError, VendorErrors, Verdict, execute,
};
use opsdeck_core::{Error, FailureKind, Result, secrecy::SecretString};
use tokio::time::Instant;
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings() -> HttpSettings {
    HttpSettings::new().with_backoff(Duration::from_millis(10), Duration::from_millis(40))
}

fn client(server: &MockServer, token: &str) -> HttpClient {
    let base = Url::parse(&format!("{}/api/v3", server.uri())).unwrap_or_else(|e| panic!("{e}"));
    HttpClient::builder("Demo", &base, &settings())
        .bearer(&SecretString::from(token.to_owned()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn expect_err<T>(r: Result<T>) -> Error {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn sends_auth_and_user_agent_and_keeps_the_base_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/user"))
        .and(header("authorization", "Bearer tok-123456"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"login": "me"})))
        .expect(1)
        .mount(&server)
        .await;
    let (v, _): (serde_json::Value, _) = client(&server, "tok-123456")
        .get_json("/user", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["login"], "me");
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r: Result<(serde_json::Value, _)> = client(&server, "tok-123456").get_json("/x", &[]).await;
    assert!(r.is_ok(), "{:?}", r.err());
}

#[tokio::test]
async fn auth_errors_are_never_retried_and_the_hint_is_apart() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"message": "Bad credentials"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = expect_err(
        client(&server, "tok-123456")
            .get_json::<serde_json::Value>("/x", &[])
            .await,
    );
    assert_eq!(err.kind(), FailureKind::InvalidCredentials);
    assert_eq!(
        err.message(),
        "Demo rejected the credentials (HTTP 401: Bad credentials)."
    );
    assert!(err.hint().is_some_and(|h| h.contains("revoked")), "{err}");
}

#[tokio::test]
async fn a_400_is_rejected_not_invalid_config() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(serde_json::json!({"message": "Validation Failed"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = expect_err(
        client(&server, "tok-123456")
            .get_json::<serde_json::Value>("/x", &[])
            .await,
    );
    assert_eq!(err.kind(), FailureKind::Rejected);
    assert_eq!(err.kind().status(), opsdeck_core::Status::Failed);
}

#[tokio::test]
async fn echoed_secrets_are_scrubbed_from_messages() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/x"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": {"message": "Invalid API key: tok-secret-999"}}),
        ))
        .mount(&server)
        .await;
    let err = expect_err(
        client(&server, "tok-secret-999")
            .get_json::<serde_json::Value>("/x", &[])
            .await,
    );
    assert!(!err.to_string().contains("tok-secret-999"), "{err}");
    assert!(err.message().contains("[REDACTED]"));
}

#[tokio::test]
async fn html_pages_and_redirects_are_explained() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/html"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw("<!DOCTYPE html><html>Access denied</html>", "text/html"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/moved"))
        .respond_with(
            ResponseTemplate::new(301).insert_header("location", "https://elsewhere.example/"),
        )
        .mount(&server)
        .await;
    let c = client(&server, "tok-123456");
    let html = expect_err(c.get_json::<serde_json::Value>("/html", &[]).await);
    assert!(html.message().contains("HTML page"), "{}", html.message());
    let moved = expect_err(c.get_json::<serde_json::Value>("/moved", &[]).await);
    assert_eq!(moved.kind(), FailureKind::InvalidResponse);
    assert!(
        moved.message().contains("elsewhere.example"),
        "{}",
        moved.message()
    );
    assert!(moved.hint().is_some_and(|h| h.contains("base_url")));
}

#[tokio::test]
async fn links_to_other_hosts_are_refused() {
    let server = MockServer::start().await;
    let c = client(&server, "tok-123456");
    let err = expect_err(c.url("https://evil.example/steal"));
    assert_eq!(err.kind(), FailureKind::InvalidResponse);
    assert!(
        c.url(&format!("{}/api/v3/next?page=2", server.uri()))
            .is_ok()
    );
}

/// Classifies 403 on `/user` as bad credentials — by the path relative to the base URL.
struct UserPathRule;

impl VendorErrors for UserPathRule {
    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        _: &HttpResponse,
        _: &VendorError,
        default: Verdict,
    ) -> Verdict {
        if ctx.relative_path == "/user" && default.kind == FailureKind::PermissionDenied {
            return default.with_kind(FailureKind::InvalidCredentials);
        }
        default
    }
}

#[tokio::test]
async fn vendor_rules_see_the_path_relative_to_a_prefixed_base_url() {
    let server = MockServer::start().await;
    Mock::given(path("/egress/proxy/user"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    for base in ["/egress/proxy", "/egress/proxy/"] {
        let base = Url::parse(&format!("{}{base}", server.uri())).unwrap_or_else(|e| panic!("{e}"));
        let c = HttpClient::builder("Demo", &base, &settings())
            .vendor(UserPathRule)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = expect_err(c.get_json::<serde_json::Value>("/user", &[]).await);
        assert_eq!(err.kind(), FailureKind::InvalidCredentials, "{err}");
    }
}

#[tokio::test]
async fn hostile_wait_headers_give_typed_failures() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v3/huge"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1e300"))
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/negative"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-reset", "-9223372036854775808")
                .insert_header("x-ratelimit-remaining", "0"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/v3/far"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")
                .insert_header("x-ratelimit-reset", "99999999999999999999999"),
        )
        .mount(&server)
        .await;
    let c = client(&server, "tok-123456");
    let huge = expect_err(
        with_timeout(
            Duration::from_secs(5),
            c.get_json::<serde_json::Value>("/huge", &[]),
        )
        .await,
    );
    assert_eq!(huge.kind(), FailureKind::RateLimited);
    assert_eq!(huge.retry_after(), Some(opsdeck_core::http::MAX_WAIT));
    assert!(huge.message().contains("Not retried"), "{huge}");
    let negative = expect_err(c.get_json::<serde_json::Value>("/negative", &[]).await);
    assert_eq!(negative.kind(), FailureKind::RateLimited);
    let far = expect_err(c.get_json::<serde_json::Value>("/far", &[]).await);
    assert_eq!(far.kind(), FailureKind::ProviderError);
}

/// A server that answers `GET` with a 200 whose body streams `total` bytes (chunked, or with a
/// Content-Length), counting what it managed to write before the client hung up.
fn streaming_server(total: usize, announce_length: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 4096];
        let _ = std::io::Read::read(&mut conn, &mut buf);
        let head = if announce_length {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n"
            )
        } else {
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_owned()
        };
        if conn.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let ok = if announce_length {
                conn.write_all(&chunk)
            } else {
                conn.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .and_then(|()| conn.write_all(&chunk))
                    .and_then(|()| conn.write_all(b"\r\n"))
            };
            if ok.is_err() {
                break;
            }
            sent += chunk.len();
            counter.store(sent, Ordering::SeqCst);
        }
    });
    (format!("http://{addr}"), written)
}

#[tokio::test]
async fn a_100_mb_body_is_refused_without_being_buffered() {
    for announce in [false, true] {
        let (base, written) = streaming_server(100 * 1024 * 1024, announce);
        let base = Url::parse(&base).unwrap_or_else(|e| panic!("{e}"));
        let c = HttpClient::builder("Demo", &base, &settings())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = expect_err(c.get_json::<serde_json::Value>("/big", &[]).await);
        assert_eq!(err.kind(), FailureKind::InvalidResponse, "{err}");
        assert!(err.message().contains("larger than 8 MiB"), "{err}");
        // The client hung up near the cap: socket buffers hold a few MiB at most.
        let sent = written.load(Ordering::SeqCst);
        assert!(sent < 40 * 1024 * 1024, "the server wrote {sent} bytes");
    }
}

#[tokio::test]
async fn link_local_and_metadata_targets_are_refused() {
    for base in [
        "http://169.254.169.254/latest",
        "http://2852039166/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
    ] {
        let url = Url::parse(base).unwrap_or_else(|e| panic!("{e}"));
        let err = expect_err(HttpClient::builder("Demo", &url, &settings()).build());
        assert_eq!(err.kind(), FailureKind::InvalidConfig, "{base}");
        assert!(err.message().contains("metadata"), "{err}");
    }
    // After DNS: a name that resolves to the metadata address is refused at connect time.
    let server = MockServer::start().await;
    Mock::given(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    let port = server.address().port();
    let resolver = FilteringResolver::with_lookup(
        false,
        Arc::new(|name: String| {
            Box::pin(async move {
                let ip: IpAddr = if name == "metadata.test" {
                    [169, 254, 169, 254].into()
                } else {
                    [127, 0, 0, 1].into()
                };
                Ok(vec![ip])
            })
        }),
    );
    let reqwest = reqwest::Client::builder()
        .dns_resolver(Arc::new(resolver))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let sneaky =
        Url::parse(&format!("http://metadata.test:{port}/")).unwrap_or_else(|e| panic!("{e}"));
    let c = HttpClient::builder("Demo", &sneaky, &settings())
        .reqwest_client(reqwest.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = expect_err(c.get_json::<serde_json::Value>("/ok", &[]).await);
    assert_eq!(err.kind(), FailureKind::InvalidConfig, "{err}");
    assert!(err.message().contains("metadata.test"), "{err}");
    // Loopback (a self-hosted server, a proxy, this test) stays allowed.
    let local = Url::parse(&format!("http://local.test:{port}/")).unwrap_or_else(|e| panic!("{e}"));
    let c = HttpClient::builder("Demo", &local, &settings())
        .reqwest_client(reqwest)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.get_json::<serde_json::Value>("/ok", &[]).await.is_ok());
}

// ---- the retry loop under paused time, with a scripted transport ----

fn vendor() -> Vendor {
    Vendor::new(
        "Demo",
        "demo.example",
        Arc::new(DefaultVendor),
        Redactor::new([SecretString::from("tok-secret-999")]),
    )
}

fn answer(status: u16, headers: &[(&'static str, &str)]) -> HttpResponse {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(*k, v);
        }
    }
    HttpResponse::new(
        StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
        h,
        Bytes::new(),
        "/x",
    )
}

const CTX: RequestCtx<'static> = RequestCtx {
    operation: "GET",
    relative_path: "/x",
};

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_deadline_is_reported_not_slept() {
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    let r: Result<u32> = with_timeout(
        Duration::from_secs(5),
        execute(&settings(), &vendor(), &CTX, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok(Reply::Response(answer(429, &[("retry-after", "60")]))) }
        }),
    )
    .await;
    let err = expect_err(r);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(err.kind(), FailureKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert!(err.message().contains("Not retried"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn short_retry_after_is_honoured_within_the_deadline() {
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    let r = with_timeout(
        Duration::from_secs(5),
        execute(&settings(), &vendor(), &CTX, |_| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Ok(Reply::Response(answer(429, &[("retry-after", "1")])))
                } else {
                    Ok(Reply::Value(42u32))
                }
            }
        }),
    )
    .await;
    assert_eq!(r.ok(), Some(42), "the typed result comes back");
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn slow_answers_time_out_within_the_deadline() {
    let started = Instant::now();
    let r: Result<u32> = with_timeout(
        Duration::from_millis(400),
        execute(&settings(), &vendor(), &CTX, |_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(Reply::Value(1))
        }),
    )
    .await;
    let err = expect_err(r);
    assert_eq!(err.kind(), FailureKind::Timeout);
    assert_eq!(started.elapsed(), Duration::from_millis(400));
}

#[tokio::test(start_paused = true)]
async fn server_errors_back_off_and_give_up_after_the_retry_budget() {
    let calls = AtomicUsize::new(0);
    let started = Instant::now();
    let r: Result<u32> = execute(&settings(), &vendor(), &CTX, |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok(Reply::Response(answer(503, &[]))) }
    })
    .await;
    let err = expect_err(r);
    assert_eq!(err.kind(), FailureKind::ProviderError);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "first try + 2 retries");
    // Equal jitter: 5-10 ms, then 10-20 ms.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(15) && waited <= Duration::from_millis(30),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn transport_errors_are_scrubbed_and_not_retried_when_permanent() {
    let calls = AtomicUsize::new(0);
    let r: Result<u32> = execute(&settings(), &vendor(), &CTX, |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        async {
            Err(Error::invalid_config("the proxy refused tok-secret-999")
                .with_hint("rotate tok-secret-999"))
        }
    })
    .await;
    let err = expect_err(r);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!err.to_string().contains("tok-secret-999"), "{err}");
}
