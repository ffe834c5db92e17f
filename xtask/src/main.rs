//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `ci`: what CI runs — fmt check, clippy with `-D warnings` on every target and feature, the
//!   whole test suite, then `features`.
//! - `features`: builds the facade and the CLI with no provider and with each provider feature
//!   alone, and runs each provider's tests alone, so a provider never depends on another by
//!   accident.
//! - `bench`: the server benchmark (`docs/benchmarks.md`).
//!
//! The provider list is read from
//!   the facade's Cargo.toml: nothing else lists providers.

mod bench;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root).context("cannot enter the workspace root")?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("features") => features(),
        Some("tls") => tls(),
        Some("bench") => bench::run(&args[1..]).map_err(anyhow::Error::msg),
        Some("providers") => {
            for id in provider_features(&root)? {
                println!("{id}");
            }
            Ok(())
        }
        _ => {
            eprintln!("usage: cargo xtask <ci|features|tls|bench|providers>");
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf)
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("\n$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn has_nextest() -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    if has_nextest() {
        // nextest runs each test in its own process: a hung or crashing test cannot take the
        // others down, and the build lock is released while tests run.
        cargo(&[
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ])?;
        cargo(&["test", "--workspace", "--all-features", "--doc"])?;
    } else {
        cargo(&["test", "--workspace", "--all-features", "--no-fail-fast"])?;
    }
    // The CLI without any provider must build, run and say so.
    cargo(&["test", "-p", "opsdeck-cli", "--no-default-features"])?;
    tls()?;
    features()
}

/// One TLS stack: rustls + aws-lc-rs. Fails if ring, OpenSSL or native-tls enter the build.
fn tls() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for banned in ["ring", "openssl-sys", "native-tls"] {
        let out = Command::new(&cargo)
            .args([
                "tree",
                "--workspace",
                "--all-features",
                "-e",
                "normal,build",
                "-i",
                banned,
            ])
            .output()
            .with_context(|| format!("cannot run {cargo} tree"))?;
        // `cargo tree -i X` fails with "did not match any packages" when X is absent: that is
        // the passing case.
        if out.status.success() && !out.stdout.is_empty() {
            bail!(
                "{banned} is in the dependency graph; opsdeck uses rustls + aws-lc-rs only:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
    eprintln!("tls: no ring / openssl / native-tls in the graph");
    Ok(())
}

/// Provider features of the facade: those that enable an `opsdeck-provider-*` dependency.
fn provider_features(root: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join("crates/opsdeck/Cargo.toml"))
        .context("cannot read crates/opsdeck/Cargo.toml")?;
    let doc: toml::Table = text
        .parse()
        .context("crates/opsdeck/Cargo.toml is not TOML")?;
    let mut ids = Vec::new();
    if let Some(features) = doc.get("features").and_then(|f| f.as_table()) {
        for (name, deps) in features {
            let is_provider = deps.as_array().is_some_and(|d| {
                d.iter().any(|v| {
                    v.as_str()
                        .is_some_and(|s| s.starts_with("dep:opsdeck-provider-"))
                })
            });
            if is_provider {
                ids.push(name.clone());
            }
        }
    }
    ids.sort();
    Ok(ids)
}

/// Each provider alone: the CLI builds with only that feature, and the provider crate's own
/// tests pass when it is the only provider compiled (features are resolved for it alone).
fn features() -> Result<()> {
    let root = workspace_root();
    let nextest = has_nextest();
    cargo(&["check", "-p", "opsdeck", "--no-default-features"])?;
    for id in provider_features(&root)? {
        cargo(&[
            "check",
            "-p",
            "opsdeck-cli",
            "--no-default-features",
            "--features",
            &id,
        ])?;
        let package = format!("opsdeck-provider-{id}");
        if nextest {
            cargo(&["nextest", "run", "-p", &package])?;
        } else {
            cargo(&["test", "-p", &package])?;
        }
    }
    Ok(())
}
