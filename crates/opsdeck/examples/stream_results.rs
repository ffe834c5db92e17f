//! Test many services concurrently and handle each report as soon as it arrives.
//!
//! ```sh
//! cargo run -p opsdeck-sdk --features github --example stream_results
//! ```
//!
//! One service is fine, one has a bad token, one points at a port where nothing listens:
//! each gets its own typed answer, and none disturbs the others.

mod support;

use std::time::Duration;

use opsdeck::providers::github::GithubConfig;
use opsdeck::{FailureKind, ManagerOptions, ServiceManager, ServiceSpec, StreamExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stand_in = support::github().await;
    // A port that was free a moment ago: connection refused.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}", l.local_addr()?)
    };
    let spec = |name: &str, token: &str, base: &str| {
        ServiceSpec::builder(name, GithubConfig::builder().token(token).base_url(base)).build()
    };
    let specs = vec![
        spec("good", support::GOOD_TOKEN, &stand_in.uri())?,
        spec("bad-token", "ghp_revoked", &stand_in.uri())?,
        spec("down", support::GOOD_TOKEN, &dead)?,
    ];

    let factory = opsdeck::factory()?;
    let options = ManagerOptions {
        concurrency: 8,
        timeout: Duration::from_secs(10),
    };
    let manager = ServiceManager::from_specs(&factory, &specs, options)?;

    let mut seen = Vec::new();
    let mut reports = manager.test_stream(None);
    while let Some(r) = reports.next().await {
        let failure = r.report.failure.map_or("-".into(), |f| f.to_string());
        println!(
            "{:<10} {:<10} {:<20} {}",
            r.service, r.report.status, failure, r.report.message
        );
        seen.push((r.service, r.report.failure));
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let expected = vec![
        (
            "bad-token".to_owned(),
            Some(FailureKind::InvalidCredentials),
        ),
        ("down".to_owned(), Some(FailureKind::Unreachable)),
        ("good".to_owned(), None),
    ];
    std::process::exit(if seen == expected { 0 } else { 1 });
}
