//! Server settings: flags and environment variables (design.md, "Server"), resolved once in
//! `main` and passed down as a plain struct so tests can build one directly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use opsdeck_core::clock::SharedClock;
use secrecy::SecretString;

use crate::features::Features;
use crate::serve::HttpLimits;

/// Everything the server needs to start. `Debug` hides the database URL (it may carry a
/// password) along with the secrets.
#[derive(Clone)]
pub struct Settings {
    /// Address to bind (`127.0.0.1:7878`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Data directory: SQLite file, key file, lock file.
    pub data_dir: PathBuf,
    /// `OPSDECK_DATABASE_URL`; `None` = SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// `OPSDECK_SECRET_KEY`; `None` = key file in `data_dir`.
    pub secret_key: Option<SecretString>,
    /// `OPSDECK_ADMIN_TOKEN`; `None` = a token generated and printed on first start.
    pub admin_token: Option<SecretString>,
    /// Services to provision from a config file.
    pub config: Option<PathBuf>,
    /// Default time between two scheduled checks of a service.
    pub check_interval: Duration,
    /// Time allowed for one check or metrics collection.
    pub check_timeout: Duration,
    /// Checks run at the same time (scheduler and test-all each).
    pub check_concurrency: usize,
    /// How often the scheduler looks for due services.
    pub scheduler_tick: Duration,
    /// How long a claimed check stays leased to this instance; another instance takes the
    /// service over once it expires. Must exceed a check plus a metrics collection.
    pub lease: Duration,
    /// Run the scheduler at all (the benchmark turns it off to measure the API alone).
    pub scheduler: bool,
    /// HTTP server limits (timeouts, connection cap, body size).
    pub http: HttpLimits,
    /// Failed authentications allowed from one address at once...
    pub auth_failure_burst: u32,
    /// ...and refilled at this many a minute.
    pub auth_failure_per_minute: u32,
    /// A `POST /test-all` run's deadline.
    pub test_all_timeout: Duration,
    /// Run-time feature flags (the `--config` file's `[features]` table is applied at start).
    pub features: Features,
    /// History retention, the metric series cap and the monitoring loop's pace.
    pub monitoring: crate::monitoring::MonitoringSettings,
    /// Wall-clock time (tests inject a manual clock).
    pub clock: SharedClock,
    /// Incident grouping: flap control and windows (`docs/incidents.md`).
    pub incidents: crate::incidents::IncidentSettings,
    /// Vendor status pages: overrides, poll intervals, timeout.
    pub status_pages: crate::vendor_status::StatusPageSettings,
    /// Alerts: `public_url` for links, loop tick, channel retry policy, evidence sources.
    pub alerting: crate::alerting::AlertSettings,
}

impl Settings {
    /// Defaults for everything but the data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        let check_timeout = Duration::from_secs(10);
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            data_dir,
            database_url: None,
            secret_key: None,
            admin_token: None,
            config: None,
            check_interval: Duration::from_secs(300),
            check_timeout,
            check_concurrency: 16,
            scheduler_tick: Duration::from_secs(1),
            lease: default_lease(check_timeout),
            scheduler: true,
            http: HttpLimits::default(),
            auth_failure_burst: 20,
            auth_failure_per_minute: 30,
            test_all_timeout: Duration::from_secs(600),
            features: Features::default(),
            monitoring: crate::monitoring::MonitoringSettings::default(),
            clock: opsdeck_core::clock::system(),
            incidents: crate::incidents::IncidentSettings::default(),
            status_pages: crate::vendor_status::StatusPageSettings::default(),
            alerting: crate::alerting::AlertSettings::default(),
        }
    }
}

/// A check and a collection, each bounded by the timeout, plus a margin for clock skew between
/// instances and database latency.
pub fn default_lease(check_timeout: Duration) -> Duration {
    check_timeout * 2 + Duration::from_secs(30)
}

/// `opsdeckd` command line.
#[derive(Debug, Parser)]
#[command(
    name = "opsdeckd",
    version,
    about = "opsdeck server: REST API, Prometheus export and scheduled connection checks"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Services to create or update at start (same format as the CLI's opsdeck.toml); they are
    /// marked provisioned and can only be changed in the file.
    #[arg(long, env = "OPSDECK_CONFIG")]
    pub config: Option<PathBuf>,
    /// The address users open the web UI at (e.g. https://opsdeck.example.com); links in
    /// alert notifications point there.
    #[arg(long, env = "OPSDECK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "OPSDECK_LISTEN", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Default interval between scheduled checks of a service, e.g. 5m, 90s.
    #[arg(long, env = "OPSDECK_CHECK_INTERVAL", default_value = "5m", value_parser = humantime_duration)]
    pub check_interval: Duration,
    /// Time allowed for one check, e.g. 10s.
    #[arg(long, env = "OPSDECK_CHECK_TIMEOUT", default_value = "10s", value_parser = humantime_duration)]
    pub check_timeout: Duration,
    /// Checks run at the same time.
    #[arg(long, env = "OPSDECK_CHECK_CONCURRENCY", default_value_t = 16)]
    pub check_concurrency: usize,
    /// How often the scheduler looks for due services.
    #[arg(long, env = "OPSDECK_SCHEDULER_TICK", default_value = "1s", value_parser = humantime_duration, hide = true)]
    pub scheduler_tick: Duration,
    /// Lease of a claimed check (default: 2 × check timeout + 30s).
    #[arg(long, env = "OPSDECK_SCHEDULER_LEASE", value_parser = humantime_duration, hide = true)]
    pub scheduler_lease: Option<Duration>,
    /// Do not run scheduled checks on this instance.
    #[arg(
        long,
        env = "OPSDECK_NO_SCHEDULER",
        hide = true,
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true"
    )]
    pub no_scheduler: bool,
    /// Time allowed for a request head once its first byte arrived.
    #[arg(long, env = "OPSDECK_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime_duration)]
    pub http_header_timeout: Duration,
    /// Time allowed for a whole request body.
    #[arg(long, env = "OPSDECK_HTTP_BODY_TIMEOUT", default_value = "30s", value_parser = humantime_duration)]
    pub http_body_timeout: Duration,
    /// An idle keep-alive connection is closed after this.
    #[arg(long, env = "OPSDECK_HTTP_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime_duration)]
    pub http_idle_timeout: Duration,
    /// Open connections at most (more wait in the kernel's backlog).
    #[arg(long, env = "OPSDECK_HTTP_MAX_CONNECTIONS", default_value_t = 512)]
    pub http_max_connections: usize,
    /// Largest request body, in bytes (or with KiB/MiB).
    #[arg(long, env = "OPSDECK_HTTP_MAX_BODY", default_value = "1MiB", value_parser = byte_size)]
    pub http_max_body: usize,
    /// Failed authentications allowed from one address before it gets 429.
    #[arg(long, env = "OPSDECK_AUTH_FAILURE_BURST", default_value_t = 20)]
    pub auth_failure_burst: u32,
    /// Failed authentications an address regains per minute.
    #[arg(long, env = "OPSDECK_AUTH_FAILURE_RATE", default_value_t = 30)]
    pub auth_failure_rate: u32,
    /// Deadline of one POST /test-all run.
    #[arg(long, env = "OPSDECK_TEST_ALL_TIMEOUT", default_value = "10m", value_parser = humantime_duration)]
    pub test_all_timeout: Duration,
    /// Consecutive failed checks of a service that open (or join) an incident.
    #[arg(long, env = "OPSDECK_INCIDENT_FAILURE_THRESHOLD", default_value_t = 3)]
    pub incident_failure_threshold: u32,
    /// Consecutive successful checks after which a service in an incident counts as recovered.
    #[arg(long, env = "OPSDECK_INCIDENT_SUCCESS_THRESHOLD", default_value_t = 2)]
    pub incident_success_threshold: u32,
    /// Failures this close to an incident's latest failure may join it.
    #[arg(long, env = "OPSDECK_INCIDENT_GROUP_WINDOW", default_value = "5m", value_parser = humantime_duration)]
    pub incident_group_window: Duration,
    /// Deployments this long before an incident opened go on its timeline.
    #[arg(long, env = "OPSDECK_INCIDENT_DEPLOYMENT_WINDOW", default_value = "30m", value_parser = humantime_duration)]
    pub incident_deployment_window: Duration,
    /// Vendor status page overrides: `github=https://www.githubstatus.com,openai=off` (wins over
    /// the config file's [status_pages] table).
    #[arg(long, env = "OPSDECK_STATUS_PAGES")]
    pub status_pages: Option<String>,
    /// Background poll of the vendor status pages.
    #[arg(long, env = "OPSDECK_STATUS_POLL_INTERVAL", default_value = "10m", value_parser = humantime_duration)]
    pub status_poll_interval: Duration,
    /// Poll of a vendor's page while one of its services is failing or in an open incident.
    #[arg(long, env = "OPSDECK_STATUS_POLL_ACTIVE", default_value = "1m", value_parser = humantime_duration)]
    pub status_poll_active: Duration,
    /// How long raw check results and metric samples are kept (25h to 30days).
    #[arg(long, env = "OPSDECK_RETENTION_RAW", default_value = "48h", value_parser = humantime_duration)]
    pub retention_raw: Duration,
    /// How long hourly history buckets are kept (2days to 3years).
    #[arg(long, env = "OPSDECK_RETENTION_HOURLY", default_value = "90days", value_parser = humantime_duration)]
    pub retention_hourly: Duration,
    /// How long daily history buckets and status-change events are kept (32days to 20years).
    #[arg(long, env = "OPSDECK_RETENTION_DAILY", default_value = "400days", value_parser = humantime_duration)]
    pub retention_daily: Duration,
    /// Most metric series kept per service; new series beyond it are not stored.
    #[arg(long, env = "OPSDECK_METRIC_SERIES_MAX", default_value_t = opsdeck_monitor::metric_history::DEFAULT_MAX_SERIES)]
    pub metric_series_max: usize,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `1048576`, `512KiB`, `1MiB`.
fn byte_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("MiB") {
        (n, 1024 * 1024)
    } else if let Some(n) = s.strip_suffix("KiB") {
        (n, 1024)
    } else {
        (s, 1)
    };
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid size {s:?}; use bytes, or e.g. 512KiB, 1MiB"))
}

/// Settings every subcommand shares.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Data directory (SQLite database, secret key file).
    #[arg(long, env = "OPSDECK_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// Maintenance subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Re-encrypt every stored secret under a new key. Stop every opsdeckd first.
    RotateKey {
        /// File holding the new key (64 hex characters). Without it the new key is read from
        /// OPSDECK_NEW_SECRET_KEY, or generated.
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

/// `90s`, `5m`, `1h 30m`, `500ms` (humantime, as in `opsdeck.toml`) or a plain number of seconds.
fn humantime_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?} ({e}); use e.g. 90s, 5m, 1h"))
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { Some("[REDACTED]") } else { None };
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redacted(self.database_url.is_some()))
            .field("secret_key", &redacted(self.secret_key.is_some()))
            .field("admin_token", &redacted(self.admin_token.is_some()))
            .field("config", &self.config)
            .field("check_interval", &self.check_interval)
            .field("check_timeout", &self.check_timeout)
            .field("check_concurrency", &self.check_concurrency)
            .field("scheduler", &self.scheduler)
            .field("http", &self.http)
            .field("features", &self.features)
            .field("public_url", &self.alerting.public_url)
            .field("monitoring", &self.monitoring)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// How to open the store for these settings (the server and `rotate-key` share it).
    pub fn store_options(&self) -> opsdeck_store::StoreOptions {
        opsdeck_store::StoreOptions {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            secret_key: self.secret_key.clone(),
        }
    }
}

/// The platform data directory (`~/.local/share/opsdeck` on Linux).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("opsdeck")
}

impl Cli {
    /// Resolves the command line and environment into [`Settings`]; a bad
    /// `OPSDECK_FEATURE_*` variable is an error.
    pub fn settings(&self) -> Result<Settings, String> {
        let data_dir = self
            .common
            .data_dir
            .clone()
            .unwrap_or_else(default_data_dir);
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let features = Features::resolve(None, &env).map_err(|e| e.to_string())?;
        let retention = opsdeck_monitor::retention::RetentionSettings {
            raw: self.retention_raw,
            hourly: self.retention_hourly,
            daily: self.retention_daily,
            ..Default::default()
        };
        let problems = retention.validate();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{} (OPSDECK_RETENTION_RAW / _HOURLY / _DAILY)",
                text.join("; ")
            ));
        }
        let monitoring = crate::monitoring::MonitoringSettings {
            retention,
            max_series: self.metric_series_max.max(1),
            ..Default::default()
        };
        Ok(Settings {
            listen: self.listen,
            database_url: env("OPSDECK_DATABASE_URL"),
            secret_key: env("OPSDECK_SECRET_KEY").map(SecretString::from),
            admin_token: env("OPSDECK_ADMIN_TOKEN").map(SecretString::from),
            config: self.config.clone(),
            check_interval: self.check_interval,
            check_timeout: self.check_timeout,
            check_concurrency: self.check_concurrency.max(1),
            scheduler_tick: self.scheduler_tick,
            lease: self
                .scheduler_lease
                .unwrap_or_else(|| default_lease(self.check_timeout)),
            scheduler: !self.no_scheduler,
            http: HttpLimits {
                header_timeout: self.http_header_timeout,
                body_timeout: self.http_body_timeout,
                idle_timeout: self.http_idle_timeout,
                max_connections: self.http_max_connections.max(1),
                max_body_bytes: self.http_max_body,
            },
            auth_failure_burst: self.auth_failure_burst,
            auth_failure_per_minute: self.auth_failure_rate,
            test_all_timeout: self.test_all_timeout,
            features,
            monitoring,
            clock: opsdeck_core::clock::system(),
            alerting: crate::alerting::AlertSettings {
                public_url: self
                    .public_url
                    .clone()
                    .map(|u| u.trim_end_matches('/').to_owned()),
                ..crate::alerting::AlertSettings::default()
            },
            data_dir,
            incidents: crate::incidents::IncidentSettings {
                failure_threshold: self.incident_failure_threshold.max(1),
                success_threshold: self.incident_success_threshold.max(1),
                group_window: self.incident_group_window,
                deployment_window: self.incident_deployment_window,
                ..crate::incidents::IncidentSettings::default()
            },
            status_pages: crate::vendor_status::StatusPageSettings {
                overrides: match &self.status_pages {
                    Some(text) => {
                        crate::vendor_status::env_overrides(text).map_err(|e| e.to_string())?
                    }
                    None => Default::default(),
                },
                poll_interval: self.status_poll_interval,
                poll_active: self.status_poll_active,
                ..crate::vendor_status::StatusPageSettings::default()
            },
        })
    }
}
