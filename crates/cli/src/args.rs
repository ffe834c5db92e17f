//! Command-line arguments. Flags, subcommands and exit codes are a user-facing contract
//! (design.md, "CLI"): extend compatibly only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Test connections to your SaaS and cloud services and collect their metrics.
#[derive(Debug, Parser)]
#[command(name = "opsdeck", version, about, propagate_version = true)]
pub struct Cli {
    /// More logs on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter opsdeck.toml with one block per compiled-in provider.
    Init(InitArgs),
    /// List the providers compiled into this build.
    Providers(ProvidersArgs),
    /// Test connections concurrently (exit 0 all connected, 1 any failed or unknown, 2 config error).
    Test(RunArgs),
    /// Collect metrics concurrently (exit 0 all collected, 1 any error, 2 config error).
    Metrics(RunArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the file.
    #[arg(long, default_value = "opsdeck.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
    /// Only these providers (default: every compiled-in provider).
    #[arg(long = "provider", value_name = "ID")]
    pub providers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    #[command(subcommand)]
    pub command: Option<ProvidersCommand>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// One provider's config fields; with --json, its JSON Schema.
    Show {
        /// Provider id, e.g. github.
        id: String,
        /// Print the JSON Schema of the provider's config.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Services to run (default: all in the config file).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Config file.
    #[arg(
        long,
        short = 'c',
        env = "OPSDECK_CONFIG",
        default_value = "opsdeck.toml"
    )]
    pub config: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Services checked at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Seconds allowed per service.
    #[arg(long, default_value_t = 10.0, value_parser = parse_timeout)]
    pub timeout: f64,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 3600.0 {
        Ok(v)
    } else {
        Err("the timeout must be between 0 and 3600 seconds".into())
    }
}
