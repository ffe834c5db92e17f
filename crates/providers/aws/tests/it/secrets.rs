//! No credential leaves in text: whatever the source of the credentials (configured keys, or
//! the machine's chain when `credentials = "default_chain"` asks for it), a stand-in that echoes
//! the signed `Authorization` header and `x-amz-security-token` back in its error body cannot
//! make opsdeck report, store or log them. And without that opt-in, no ambient credential is
//! ever used. Link-local and metadata endpoints are refused.

use std::process::Command;

use opsdeck_core::{FailureKind, Status};
use opsdeck_testkit::wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use opsdeck_testkit::{LogCapture, wiremock::matchers::method};
use serde_json::json;

use crate::common::*;

/// Answers every request with STS's 403 `InvalidClientTokenId`, whose message echoes the
/// request's signed headers — what a hostile or careless host behind `base_url` could do.
struct Echo;

impl Respond for Echo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let header = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>We saw Authorization: {} and token {}</Message></Error><RequestId>1</RequestId></ErrorResponse>",
            header("authorization"),
            header("x-amz-security-token")
        );
        ResponseTemplate::new(403).set_body_raw(body, "text/xml")
    }
}

/// Log lines of opsdeck itself. The AWS SDK's own DEBUG/TRACE targets print the access key id;
/// binaries cap them (`opsdeck::QUIET_LOG_DIRECTIVES`, see docs/decisions.md "Quiet log
/// targets"), so they are not opsdeck's output to check here.
fn opsdeck_lines(logs: &str) -> String {
    logs.lines()
        .filter(|l| {
            ![
                "aws_smithy",
                "aws_sigv4",
                "aws_config",
                "aws_runtime",
                "aws_credential_types",
                "aws_sdk_",
            ]
            .iter()
            .any(|t| l.contains(&format!(" {t}")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The report (JSON and Debug) and opsdeck's logs, checked against every value that was sent.
fn assert_scrubbed(report: &opsdeck_core::ConnectionReport, logs: &str, sent: &[String]) {
    let logs = opsdeck_lines(logs);
    assert_eq!(
        report.failure,
        Some(FailureKind::InvalidCredentials),
        "{report:?}"
    );
    let json = serde_json::to_string(report).unwrap_or_default();
    assert!(
        json.contains("[REDACTED]"),
        "the echo was not scrubbed: {json}"
    );
    for value in sent.iter().filter(|v| !v.is_empty()) {
        assert!(!json.contains(value.as_str()), "{value} leaked into {json}");
        assert!(
            !format!("{report:?}").contains(value.as_str()),
            "{value} leaked into Debug"
        );
        assert!(
            !logs.contains(value.as_str()),
            "{value} leaked into the logs"
        );
    }
}

/// The signature and the whole header of the request the stand-in received.
fn signed_values(server_requests: &[Request]) -> Vec<String> {
    let mut out = Vec::new();
    for r in server_requests {
        if let Some(auth) = r.headers.get("authorization").and_then(|v| v.to_str().ok()) {
            out.push(auth.to_owned());
            if let Some(sig) = auth.split("Signature=").nth(1) {
                out.push(sig.to_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn echoed_signed_headers_of_configured_keys_are_scrubbed() {
    let logs = LogCapture::install();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let report = service(keyed_config(&server.uri())).test_connection().await;
    let mut sent = vec![KEY_ID.to_owned(), SECRET.to_owned(), TOKEN.to_owned()];
    sent.extend(signed_values(
        &server.received_requests().await.unwrap_or_default(),
    ));
    assert!(sent.len() > 3, "the stand-in saw no signed request");
    assert_scrubbed(&report, &logs.contents(), &sent);
}

const CHAIN_KEY_ID: &str = "AKIAAMBIENTCHAIN0001";
const CHAIN_SECRET: &str = "ambientChainSecretAccessKey0123456789abcd";
const CHAIN_TOKEN: &str = "FwoGZXIvYXdzAMBIENTchainSESSIONtoken0123456789";

/// Credentials from the machine's chain (here the environment of a child process, since a test
/// may not change its own environment) are scrubbed like configured ones.
#[tokio::test]
async fn echoed_credentials_resolved_by_the_default_chain_are_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let uri = server.uri();
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args([
                "--exact",
                "secrets::default_chain_child",
                "--ignored",
                "--nocapture",
            ])
            .env("OPSDECK_TEST_ECHO_URL", uri)
            .env("AWS_ACCESS_KEY_ID", CHAIN_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", CHAIN_SECRET)
            .env("AWS_SESSION_TOKEN", CHAIN_TOKEN)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/opsdeck-test-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/opsdeck-test-credentials",
            )
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run: {stdout}"
    );
    // The chain's credentials really were used (and echoed): the stand-in saw them.
    let seen = server.received_requests().await.unwrap_or_default();
    assert!(
        seen.iter().any(|r| r
            .headers
            .get("x-amz-security-token")
            .is_some_and(|t| t.as_bytes() == CHAIN_TOKEN.as_bytes())),
        "the default chain was not used"
    );
}

/// Run by the test above in a child process whose environment holds the chain's credentials.
#[tokio::test]
#[ignore = "run in a child process by echoed_credentials_resolved_by_the_default_chain_are_scrubbed"]
async fn default_chain_child() {
    let logs = LogCapture::install();
    let base = std::env::var("OPSDECK_TEST_ECHO_URL").unwrap_or_else(|e| panic!("{e}"));
    let report = service(json!({
        "credentials": "default_chain",
        "region": "eu-west-1",
        "base_url": base,
    }))
    .test_connection()
    .await;
    assert_eq!(report.status, Status::Failed, "{report:?}");
    let sent = [CHAIN_KEY_ID, CHAIN_SECRET, CHAIN_TOKEN].map(str::to_owned);
    assert_scrubbed(&report, &logs.contents(), &sent);
}

#[test]
fn without_keys_or_an_opt_in_no_ambient_credential_is_used() {
    // The service is refused before anything could reach for the machine's credentials.
    let err = try_service(json!({"region": "eu-west-1", "base_url": "http://127.0.0.1:9"}))
        .err()
        .unwrap_or_else(|| panic!("a service without credentials was accepted"));
    assert!(err.contains("No AWS credentials are configured"), "{err}");
}

#[test]
fn metadata_endpoints_are_refused_at_validation() {
    for base in [
        "http://169.254.169.254",
        "http://[fd00:ec2::254]/",
        "http://2852039166/",
    ] {
        let err = try_service(json!({
            "access_key_id": KEY_ID, "secret_access_key": SECRET, "base_url": base
        }))
        .err()
        .unwrap_or_else(|| panic!("{base} was accepted"));
        assert!(err.contains("base_url"), "{err}");
        assert!(err.contains("metadata"), "{err}");
    }
}
