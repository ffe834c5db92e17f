//! Command-line arguments. Flags, subcommands and exit codes are a user-facing contract
//! (design.md, "CLI"): extend compatibly only. Every flag that repeats also takes a comma list,
//! durations are written like `5s`, and each command's `--help` ends with examples.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const MAIN_EXAMPLES: &str = "\
Examples:
  opsdeck init --provider github          # write opsdeck.toml with a GitHub block
  export GITHUB_TOKEN=ghp_...             # secrets come from the environment
  opsdeck test                            # test every enabled service
  opsdeck test gh-main --json             # one service, JSON for scripts
  opsdeck costs --since mtd               # month-to-date cost across providers

Exit codes: 0 all connected, 1 any failed or unknown, 2 configuration or usage error.
Docs: docs/configuration.md";

/// Test connections to your SaaS and cloud services and collect their metrics.
#[derive(Debug, Parser)]
#[command(
    name = "opsdeck",
    version,
    about,
    propagate_version = true,
    after_help = MAIN_EXAMPLES
)]
pub struct Cli {
    /// More logs on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter opsdeck.toml: the providers you name as live blocks, the others
    /// commented out.
    #[command(after_help = "\
Examples:
  opsdeck init --provider github                 # GitHub live, the rest commented out
  opsdeck init --provider github,aws             # a comma list works as well as repeating
  opsdeck init                                   # on a terminal: asks which providers
  opsdeck init --path ops/opsdeck.toml --force   # write elsewhere, overwrite

Live blocks read secrets from the environment (token = \"${GITHUB_TOKEN}\"); init prints which
variables to set. Nothing is written that would act on credentials you did not name.")]
    Init(InitArgs),
    /// List the providers compiled into this build.
    #[command(after_help = "\
Examples:
  opsdeck providers                    # id, category, fields
  opsdeck providers show github        # one provider's fields
  opsdeck providers show github --json # its JSON Schema")]
    Providers(ProvidersArgs),
    /// Check the config file without contacting any service: every problem at once
    /// (exit 0 valid, 2 invalid).
    #[command(after_help = "\
Examples:
  opsdeck validate                      # ./opsdeck.toml, or OPSDECK_CONFIG
  opsdeck validate gh-main jira         # only what `opsdeck test gh-main jira` would run
  opsdeck validate -c prod.toml --json  # {\"valid\":true,\"services\":[…]} or the problems

Disabled services (enabled = false) are checked, except for their ${VAR}s.")]
    Validate(ValidateArgs),
    /// Test connections concurrently (exit 0 all connected, 1 any failed or unknown, 2 config error).
    #[command(after_help = "\
Examples:
  opsdeck test                          # every enabled service in ./opsdeck.toml
  opsdeck test gh-main,jira             # only these (repeat or comma-separate names)
  opsdeck test --timeout 5s -o wide     # 5 seconds per service, messages in full
  opsdeck test --json | jq '.[] | select(.status != \"connected\")'

Disabled services are listed but not tested and do not change the exit code.")]
    Test(RunArgs),
    /// Collect metrics concurrently (exit 0 all collected, 1 any error, 2 config error).
    #[command(after_help = "\
Examples:
  opsdeck metrics                       # every enabled service
  opsdeck metrics gh-main --json        # one service, JSON for scripts
  opsdeck metrics --timeout 30s         # slow APIs (cost reports) get more time")]
    Metrics(RunArgs),
    /// AI token usage and cost over a window across every AI service, saying which cannot
    /// (exit 0 all answered or unavailable, 1 any error, 2 config error). Default window: 30d.
    #[command(after_help = "\
Examples:
  opsdeck ai-usage                      # last 30 days
  opsdeck ai-usage --since 7d --json    # last week, JSON for scripts
  opsdeck ai-usage --since mtd          # this month so far (UTC)")]
    AiUsage(CrossArgs),
    /// Cost over a window across every service that reports it (exit codes as ai-usage).
    /// Default window: month to date.
    #[command(after_help = "\
Examples:
  opsdeck costs                         # month to date (UTC)
  opsdeck costs --since 30d             # last 30 days
  opsdeck costs aws-prod,vercel         # only these services")]
    Costs(CrossArgs),
    /// Deployments over a window across every service that lists them (exit codes as
    /// ai-usage). Default window: 24h.
    #[command(after_help = "\
Examples:
  opsdeck deployments                   # last 24 hours
  opsdeck deployments --since 7d -o wide")]
    Deployments(CrossArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  opsdeck completions bash > ~/.local/share/bash-completion/completions/opsdeck
  opsdeck completions zsh > ~/.zfunc/_opsdeck     # with fpath+=(~/.zfunc) before compinit
  opsdeck completions fish > ~/.config/fish/completions/opsdeck.fish
  opsdeck completions powershell >> $PROFILE")]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the file.
    #[arg(long, default_value = "opsdeck.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
    /// Providers to write as live blocks (repeat, or a comma list). Without it, init asks on a
    /// terminal; otherwise every block is written commented out.
    #[arg(long = "provider", value_name = "ID", value_delimiter = ',')]
    pub providers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    #[command(subcommand)]
    pub command: Option<ProvidersCommand>,
    #[command(flatten)]
    pub output: OutputArgs,
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

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table fitted to the terminal (long messages wrapped or listed under it).
    Table,
    /// A table with every value in full, however wide.
    Wide,
    /// JSON for scripts.
    Json,
}

/// `--json`, `--wide` and `-o FORMAT`, which say the same things.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print JSON instead of a table (same as -o json).
    #[arg(long, conflicts_with_all = ["wide", "output"])]
    pub json: bool,
    /// Never shorten anything to fit the terminal (same as -o wide).
    #[arg(long, conflicts_with = "output")]
    pub wide: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<Format>,
}

impl OutputArgs {
    /// The format asked for; a table by default.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else if self.wide {
            Format::Wide
        } else {
            self.output.unwrap_or(Format::Table)
        }
    }

    /// JSON output.
    pub fn json(&self) -> bool {
        self.format() == Format::Json
    }
}

/// Which services, from which file.
#[derive(Debug, Args)]
pub struct Selection {
    /// Services to use (default: all in the config file); repeat or comma-separate.
    #[arg(value_name = "NAME", value_delimiter = ',')]
    pub names: Vec<String>,
    /// Config file.
    #[arg(
        long,
        short = 'c',
        env = "OPSDECK_CONFIG",
        default_value = "opsdeck.toml"
    )]
    pub config: PathBuf,
}

impl Selection {
    /// The names asked for, each once, in order; `None` means every service (also when only
    /// empty names were given, as `opsdeck test ""` or a stray comma would).
    pub fn names(&self) -> Option<Vec<String>> {
        let mut seen = std::collections::BTreeSet::new();
        let names: Vec<String> = self
            .names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty() && seen.insert(*n))
            .map(str::to_owned)
            .collect();
        (!names.is_empty()).then_some(names)
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print JSON: {"valid":true,"services":[…]} or {"error":"invalid_config","problems":[…]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Services checked at the same time (1 to 4096).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = parse_concurrency)]
    pub concurrency: u32,
    /// Time allowed per service: 5s, 500ms, 2m, or a number of seconds (more than 0, at most 1h).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
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

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// How far back a cross-provider question looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From the first instant of the current UTC month.
    MonthToDate,
    /// This long before now.
    Last(Duration),
}

/// The longest window accepted (vendors keep at most about a year of usage and cost).
const MAX_SINCE: Duration = Duration::from_secs(366 * 86_400);

fn parse_since(s: &str) -> Result<Since, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("mtd") || t.eq_ignore_ascii_case("month") {
        return Ok(Since::MonthToDate);
    }
    let d = humantime::parse_duration(t).map_err(|_| {
        format!("\"{s}\" is not a duration; use e.g. 24h, 7d, 30d, or mtd for month to date")
    })?;
    if d.is_zero() {
        return Err("the window must be longer than 0; use e.g. 24h, 7d or 30d".into());
    }
    if d > MAX_SINCE {
        return Err(format!(
            "the window can be at most 366 days (vendors keep about a year); got {}",
            humantime::format_duration(d)
        ));
    }
    Ok(Since::Last(d))
}

/// The longest `--timeout`: a check that needs more is not a health check.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    // A bare number is seconds, as it always was (`--timeout 3`, `--timeout 2.5`).
    let d = match t.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => {
            Duration::try_from_secs_f64(secs).map_err(|_| format!("\"{s}\" is too long"))?
        }
        Ok(_) => {
            return Err(format!(
                "\"{s}\" is not a usable timeout; use e.g. 5s, 500ms, 2m or a number of seconds"
            ));
        }
        Err(_) => humantime::parse_duration(t).map_err(|_| {
            format!("\"{s}\" is not a duration; use e.g. 5s, 500ms, 2m or a number of seconds")
        })?,
    };
    if d < Duration::from_millis(1) {
        return Err("the timeout must be at least 1ms; use e.g. 5s or 500ms".into());
    }
    if d > MAX_TIMEOUT {
        return Err(format!(
            "the timeout can be at most 1h (3600 seconds); got {}",
            humantime::format_duration(d)
        ));
    }
    Ok(d)
}

fn parse_concurrency(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n @ 1..=4096) => Ok(n),
        Ok(0) => Err("at least 1 service must be checked at a time".into()),
        Ok(_) => Err("at most 4096 services can be checked at a time".into()),
        Err(_) => Err(format!("\"{s}\" is not a whole number from 1 to 4096")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_month_to_date() {
        assert_eq!(
            parse_since("24h"),
            Ok(Since::Last(Duration::from_secs(86_400)))
        );
        assert_eq!(
            parse_since("30d"),
            Ok(Since::Last(Duration::from_secs(30 * 86_400)))
        );
        assert_eq!(parse_since("MTD"), Ok(Since::MonthToDate));
        assert!(parse_since("0s").is_err());
        assert!(parse_since("400d").is_err());
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn timeout_takes_durations_and_plain_seconds() {
        assert_eq!(parse_timeout("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("1h"), Ok(MAX_TIMEOUT));
    }

    #[test]
    fn timeout_range_messages_say_what_is_accepted() {
        let zero = parse_timeout("0").err().unwrap_or_default();
        assert!(zero.contains("at least 1ms"), "{zero}");
        assert!(!zero.contains("between 0"), "{zero}");
        assert!(parse_timeout("0s").is_err());
        let long = parse_timeout("2h").err().unwrap_or_default();
        assert!(
            long.contains("at most 1h") && long.contains("got 2h"),
            "{long}"
        );
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("NaN").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn concurrency_bounds() {
        assert_eq!(parse_concurrency("16"), Ok(16));
        assert!(parse_concurrency("0").is_err());
        assert!(parse_concurrency("5000").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
