//! Load services from an `opsdeck.toml` document and test them.
//!
//! ```sh
//! cargo run -p opsdeck-sdk --features github --example test_from_file
//! ```
//!
//! The loader interpolates `${VAR}`s, validates every service and reports every problem at
//! once; a disabled service needs none of its variables; tables other than `[services]`
//! (here `[channels]`) are handed back for the program to read.

mod support;

use opsdeck::{ManagerOptions, ServiceManager, Status};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stand_in = support::github().await;
    let text = format!(
        r#"
[services.gh-main]
provider = "github"
token = "${{GITHUB_TOKEN}}"
base_url = "{base}"
tags = ["platform"]

[services.gh-old]
provider = "github"
enabled = false
token = "${{OLD_GITHUB_TOKEN}}"   # not set, and that is fine: the service is disabled

[channels.ops]
kind = "slack"
"#,
        base = stand_in.uri()
    );
    // A real program passes nothing here and gets the process environment.
    let env = |name: &str| (name == "GITHUB_TOKEN").then(|| support::GOOD_TOKEN.to_owned());

    let factory = opsdeck::factory()?;
    let loaded = factory.loader().env(env).load(&text)?;
    println!(
        "{} services; other tables: {:?}",
        loaded.services.len(),
        loaded.tables.keys().collect::<Vec<_>>()
    );

    let manager =
        ServiceManager::from_specs(&factory, &loaded.services, ManagerOptions::default())?;
    let reports = manager.test_all().await;
    for r in &reports {
        println!("{}: {} — {}", r.service, r.report.status, r.report.message);
    }

    // The same document with mistakes: every problem, each with its service, field and code.
    let broken = text.replace(
        "provider = \"github\"\ntoken",
        "provider = \"githb\"\ntoken",
    );
    if let Err(errors) = factory.loader().env(|_| None).load(&broken) {
        println!("\nThe loader lists every problem at once:");
        for p in &errors.problems {
            println!("  [{}] {p}", p.code);
        }
    }

    let enabled_ok = reports
        .iter()
        .filter(|r| r.service == "gh-main")
        .all(|r| r.report.status == Status::Connected);
    std::process::exit(if enabled_ok { 0 } else { 1 });
}
