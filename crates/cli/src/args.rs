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
    /// AI token usage and cost over a window across every AI service, saying which cannot
    /// (exit 0 all answered or unavailable, 1 any error, 2 config error). Default window: 30d.
    AiUsage(CrossArgs),
    /// Cost over a window across every service that reports it (exit codes as ai-usage).
    /// Default window: month to date.
    Costs(CrossArgs),
    /// Deployments over a window across every service that lists them (exit codes as
    /// ai-usage). Default window: 24h.
    Deployments(CrossArgs),
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

/// A cross-provider question: the usual run flags plus the window.
#[derive(Debug, Args)]
pub struct CrossArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The window, ending now: a duration such as 24h, 7d or 30d, or `mtd` for month to date
    /// (UTC). Default: 30d for ai-usage, mtd for costs, 24h for deployments.
    #[arg(long, value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<Since>,
}

/// How far back a cross-provider question looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From the first instant of the current UTC month.
    MonthToDate,
    /// This long before now.
    Last(std::time::Duration),
}

/// The longest window accepted (vendors keep at most about a year of usage and cost).
const MAX_SINCE: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

fn parse_since(s: &str) -> Result<Since, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("mtd") || t.eq_ignore_ascii_case("month") {
        return Ok(Since::MonthToDate);
    }
    let d = humantime::parse_duration(t).map_err(|_| {
        format!("\"{s}\" is not a duration; use e.g. 24h, 7d, 30d, or mtd for month to date")
    })?;
    if d.is_zero() || d > MAX_SINCE {
        return Err("the window must be longer than 0 and at most 366 days".into());
    }
    Ok(Since::Last(d))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_month_to_date() {
        assert_eq!(
            parse_since("24h"),
            Ok(Since::Last(std::time::Duration::from_secs(86_400)))
        );
        assert_eq!(
            parse_since("30d"),
            Ok(Since::Last(std::time::Duration::from_secs(30 * 86_400)))
        );
        assert_eq!(parse_since("MTD"), Ok(Since::MonthToDate));
        assert!(parse_since("0s").is_err());
        assert!(parse_since("400d").is_err());
        assert!(parse_since("yesterday").is_err());
    }
}
