//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `ci`: what CI runs — fmt check, clippy with `-D warnings` on every target and feature, the
//!   whole test suite, then `tls`, `features`, `examples`, `package` and `semver`; it prints
//!   how long each step took.
//! - `features`: builds the facade and the CLI with no provider and with each provider feature
//!   alone, and runs each provider's tests alone, so a provider never depends on another by
//!   accident.
//! - `tls`: each shipped build configuration has exactly one TLS crypto provider.
//! - `examples`: runs every example of the library (`crates/opsdeck/examples`) against its
//!   local stand-ins.
//! - `package`: `cargo package` (with verification) of every publishable crate, in dependency
//!   order, the way `cargo publish` would upload them.
//! - `semver`: `cargo semver-checks` of `opsdeck-core` (`--all`: every publishable library)
//!   against the last `v*` tag.
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
        Some("examples") => examples(),
        Some("package") => package(args.get(1).map(String::as_str) == Some("--verify")),
        Some("semver") => semver(args.get(1).map(String::as_str) == Some("--all")),
        Some("bench") => bench::run(&args[1..]).map_err(anyhow::Error::msg),
        Some("providers") => {
            for id in provider_features(&root)? {
                println!("{id}");
            }
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|features|tls|examples|package|semver|bench|providers>"
            );
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
    let mut steps = Steps::default();
    steps.run("fmt", || cargo(&["fmt", "--all", "--check"]))?;
    steps.run("clippy", || {
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ])
    })?;
    if has_nextest() {
        // nextest runs each test in its own process: a hung or crashing test cannot take the
        // others down, and the build lock is released while tests run.
        steps.run("tests", || {
            cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--no-fail-fast",
            ])
        })?;
        steps.run("doctests", || {
            cargo(&["test", "--workspace", "--all-features", "--doc"])
        })?;
    } else {
        steps.run("tests", || {
            cargo(&["test", "--workspace", "--all-features", "--no-fail-fast"])
        })?;
    }
    // The CLI without any provider must build, run and say so.
    steps.run("cli without providers", || {
        cargo(&["test", "-p", "opsdeck-cli", "--no-default-features"])
    })?;
    steps.run("tls", tls)?;
    steps.run("features", features)?;
    steps.run("examples", examples)?;
    steps.run("package", || package(false))?;
    steps.run("semver", || semver(false))?;
    steps.report();
    Ok(())
}

/// Wall time per CI step, printed at the end so slow steps are visible in every run.
#[derive(Default)]
struct Steps(Vec<(&'static str, std::time::Duration)>);

impl Steps {
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result<()>) -> Result<()> {
        let started = std::time::Instant::now();
        let outcome = step();
        self.0.push((name, started.elapsed()));
        if outcome.is_err() {
            self.report();
        }
        outcome
    }

    fn report(&self) {
        eprintln!("\nxtask ci step times:");
        for (name, took) in &self.0 {
            eprintln!("  {name:<24} {:>7.1} s", took.as_secs_f64());
        }
        let total: std::time::Duration = self.0.iter().map(|(_, d)| *d).sum();
        eprintln!("  {:<24} {:>7.1} s", "total", total.as_secs_f64());
    }
}

/// The build configurations opsdeck ships or documents, each of which must carry exactly one
/// rustls crypto provider: aws-lc-rs by default and wherever AWS is compiled in, graviola for
/// lean builds (which must then need no C compiler: no `cc`, no `aws-lc-sys`).
const TLS_CONFIGS: &[(&str, &[&str], &str)] = &[
    ("opsdeck-cli", &[], "aws-lc-rs"),
    ("opsdeck-server", &[], "aws-lc-rs"),
    ("opsdeck-sdk", &["--features", "github"], "aws-lc-rs"),
    ("opsdeck-sdk", &["--features", "all"], "aws-lc-rs"),
    (
        "opsdeck-sdk",
        &[
            "--no-default-features",
            "--features",
            "tls-graviola,ai,development,project-management,observability,billing,railway,vercel",
        ],
        "rustls-graviola",
    ),
    (
        "opsdeck-sdk",
        &["--no-default-features", "--features", "github,tls-graviola"],
        "rustls-graviola",
    ),
];

/// One TLS stack per build: rustls with exactly one crypto provider, never OpenSSL or
/// native-tls; a graviola build needs no C compiler.
fn tls() -> Result<()> {
    let providers = ["aws-lc-rs", "rustls-graviola", "ring"];
    for (package, args, want) in TLS_CONFIGS {
        let graph = crates_in_tree(package, args)?;
        let present: Vec<&str> = providers
            .iter()
            .chain(&["openssl-sys", "native-tls", "aws-lc-sys", "cc"])
            .copied()
            .filter(|k| graph.contains(*k))
            .collect();
        let shown = format!("{package} {}", args.join(" "));
        let found: Vec<&str> = present
            .iter()
            .copied()
            .filter(|p| providers.contains(p))
            .collect();
        if found != [*want] {
            bail!("{shown}: TLS crypto providers {found:?}; expected exactly [{want:?}]");
        }
        if present
            .iter()
            .any(|p| *p == "openssl-sys" || *p == "native-tls")
        {
            bail!("{shown}: OpenSSL / native-tls entered the build: {present:?}");
        }
        if *want == "rustls-graviola" && present.iter().any(|p| *p == "cc" || *p == "aws-lc-sys") {
            bail!("{shown}: a lean build must need no C compiler, but it has {present:?}");
        }
        eprintln!("tls: {shown}: {want} only");
    }
    Ok(())
}

/// Names of every crate in `package`'s normal/build dependency graph with `args`.
fn crates_in_tree(package: &str, args: &[&str]) -> Result<std::collections::BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "tree",
            "-p",
            package,
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .args(args)
        .output()
        .with_context(|| format!("cannot run {cargo} tree"))?;
    if !out.status.success() {
        bail!(
            "cargo tree -p {package} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// Every `[[example]]` of the facade, run with all features against its local stand-ins.
fn examples() -> Result<()> {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("crates/opsdeck/Cargo.toml"))
        .context("cannot read crates/opsdeck/Cargo.toml")?;
    let doc: toml::Table = text
        .parse()
        .context("crates/opsdeck/Cargo.toml is not TOML")?;
    let names: Vec<String> = doc
        .get("example")
        .and_then(|e| e.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|e| e.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        bail!("no [[example]] in crates/opsdeck/Cargo.toml");
    }
    for name in names {
        cargo(&[
            "run",
            "-q",
            "-p",
            "opsdeck-sdk",
            "--all-features",
            "--example",
            &name,
        ])?;
    }
    Ok(())
}

/// Names of the publishable workspace crates (no `publish = false`).
fn publishable() -> Result<Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .with_context(|| format!("cannot run {cargo} metadata"))?;
    if !out.status.success() {
        bail!("cargo metadata failed");
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata is not JSON")?;
    let mut names = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        // `publish` is null when publishable anywhere, [] for `publish = false`.
        if p["publish"].as_array().is_some_and(Vec::is_empty) {
            continue;
        }
        if let Some(name) = p["name"].as_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn package_args(names: &[String]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| ["-p".to_owned(), n.clone()])
        .collect()
}

/// `cargo package` of every publishable crate: cargo orders them by dependency and resolves
/// their dependencies on each other through a local overlay, so this passes before anything
/// is on crates.io. CI packages without verification (manifests, included files, dependency
/// resolution); `--verify` also builds each packaged crate on its own, about 25 minutes on two
/// cores — run it before a release.
fn package(verify: bool) -> Result<()> {
    let mut args = vec!["package".to_owned()];
    if !verify {
        args.push("--no-verify".to_owned());
    }
    args.extend(package_args(&publishable()?));
    if std::env::var_os("CI").is_none() {
        // Locally the tree is usually dirty; CI runs on a clean clone.
        args.push("--allow-dirty".to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cargo(&args)
}

/// `cargo semver-checks` against the newest `v*` tag: a breaking change must come with a
/// version bump (0.x → 0.(x+1)). The baseline is the tag, not crates.io, because nothing is
/// published yet.
///
/// semver-checks builds each crate's rustdoc twice (baseline and current) in a target
/// directory of its own, dependencies included: about 5 minutes per crate on two cores, 17 for
/// the AWS provider. CI checks `opsdeck-core`, whose types every provider and user builds on;
/// `--all` checks every publishable library (run it before tagging a release).
fn semver(all: bool) -> Result<()> {
    let out = Command::new("git")
        .args(["tag", "--list", "v*", "--sort=-v:refname"])
        .output()
        .context("cannot run git tag")?;
    let tags = String::from_utf8_lossy(&out.stdout);
    // A clone without tags still has the history: xtask/semver-baseline names the commit of the
    // last release.
    let recorded = std::fs::read_to_string("xtask/semver-baseline")
        .ok()
        .and_then(|s| {
            s.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
        });
    let Some(tag) = tags
        .lines()
        .next()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or(recorded)
    else {
        bail!(
            "no v* tag or xtask/semver-baseline to compare against (tag the last release, e.g. `git tag v0.1.0 <commit>`)"
        );
    };
    let tag = tag.as_str();
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let installed = Command::new(&cargo_bin)
        .args(["semver-checks", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        bail!("cargo-semver-checks is not installed: cargo install cargo-semver-checks --locked");
    }
    // Libraries only: the CLI's contract is its flags and output, pinned by its tests.
    let libs: Vec<String> = if all {
        publishable()?
            .into_iter()
            .filter(|n| n != "opsdeck-cli")
            .collect()
    } else {
        vec!["opsdeck-core".to_owned()]
    };
    let mut args = vec![
        "semver-checks".to_owned(),
        "check-release".to_owned(),
        "--baseline-rev".to_owned(),
        tag.to_owned(),
    ];
    args.extend(package_args(&libs));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cargo(&args)
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
    cargo(&["check", "-p", "opsdeck-sdk", "--no-default-features"])?;
    for id in provider_features(&root)? {
        cargo(&[
            "check",
            "-p",
            "opsdeck-cli",
            "--no-default-features",
            "--features",
            &id,
        ])?;
        // Crate names use '-' where provider ids use '_' (azure_openai).
        let package = format!("opsdeck-provider-{}", id.replace('_', "-"));
        if nextest {
            cargo(&["nextest", "run", "-p", &package])?;
        } else {
            cargo(&["test", "-p", &package])?;
        }
    }
    Ok(())
}
