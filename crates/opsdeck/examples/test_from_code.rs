//! Test a GitHub service configured in code.
//!
//! ```sh
//! cargo run -p opsdeck-sdk --features github --example test_from_code
//! ```
//!
//! It talks to a local stand-in for GitHub; set `GITHUB_API=https://api.github.com` and
//! `GITHUB_TOKEN` to check a real token instead.

mod support;

use opsdeck::providers::github::GithubConfig;
use opsdeck::{ManagerOptions, ServiceManager, ServiceSpec, Status};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stand_in = support::github().await;
    let base = std::env::var("GITHUB_API").unwrap_or_else(|_| stand_in.uri());
    let token = std::env::var("GITHUB_TOKEN").unwrap_or_else(|_| support::GOOD_TOKEN.into());

    // The typed builder is checked like opsdeck.toml: names, fields, every problem at once.
    let github = GithubConfig::builder().token(token).base_url(&base);
    let spec = ServiceSpec::builder("gh-main", github)
        .tags(["platform"])
        .build()?;

    let factory = opsdeck::factory()?;
    let manager = ServiceManager::from_specs(&factory, &[spec], ManagerOptions::default())?;
    let reports = manager.test_all().await;
    for r in &reports {
        println!(
            "{} ({}): {} in {} ms — {}",
            r.service, r.provider, r.report.status, r.report.latency_ms, r.report.message
        );
    }

    // A broken spec never reaches the network; all its problems come back together.
    let broken = ServiceSpec::builder("gh main", GithubConfig::builder().base_url("ftp://x"));
    if let Err(problems) = broken.build() {
        println!("\nA broken spec is refused before any request:\n{problems}");
    }

    let ok = reports.iter().all(|r| r.report.status == Status::Connected);
    std::process::exit(if ok { 0 } else { 1 });
}
