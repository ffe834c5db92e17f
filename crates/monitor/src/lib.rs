//! # opsdeck-monitor
//!
//! The watching half of opsdeck as pure logic: check history and its rollups, uptime and
//! latency percentiles, status-change events, metric history, alert rules with flap control,
//! silences, budgets, forecasts, incidents and vendor status pages.
//!
//! Nothing here does I/O or reads a clock: every function takes `now` (UTC unix milliseconds,
//! how opsdeck stores time) or its inputs, and returns what to store or send. The store persists
//! it, the server runs the loops and serves it, and a library user can drive it directly from
//! their own [`ServiceManager`](opsdeck_core::ServiceManager) runs.
//!
//! | module | what it owns |
//! |---|---|
//! | [`history`], [`digest`] | [`CheckSample`](history::CheckSample), [`Bucket`](history::Bucket), uptime, the mergeable [`LatencyDigest`](digest::LatencyDigest) |
//! | [`window`] | which daily/hourly/raw pieces answer a window, and the combiner |
//! | [`rollup`] | the incremental, idempotent rollup step and its cursor |
//! | [`retention`] | retention settings, cutoffs and the delete predicates |
//! | [`events`] | the status-change detector |
//! | [`metric_history`] | metric samples, series keys, last-value rollup, the series cap |
//! | [`alerts`], [`alert_state`], [`silence`], [`scope`] | `[alerts.*]` and `[silences.*]`, evaluators, the state machine |
//! | [`budget`] | `[budgets.*]`, spend, forecast, reach date, monthly thresholds |
//! | [`forecast`] | credential expiry, rate-limit run-out, latency trend |
//! | [`incident`], [`statuspage`] | grouping, cause, timeline, MTTA/MTTR; Statuspage v2 summaries |
//! | [`config`] | every-problem-at-once validation ([`WatchConfig`](config::WatchConfig)) |
//!
//! ## Example: watching the reports of a `ServiceManager` run
//!
//! ```
//! use std::collections::{BTreeMap, BTreeSet};
//!
//! use opsdeck_core::{ConnectionReport, ManagerOptions, ServiceManager, ServiceReport, Status};
//! use opsdeck_monitor::alert_state::{self, AlertState};
//! use opsdeck_monitor::alerts::Evidence;
//! use opsdeck_monitor::config::WatchConfig;
//! use opsdeck_monitor::events::{self, LastState};
//! use opsdeck_monitor::history::{Bucket, CheckSample, WindowTotals};
//! use opsdeck_monitor::scope::ServiceRef;
//! use opsdeck_monitor::time::BucketWidth;
//!
//! /// What a library user keeps between runs (the server keeps it in its database).
//! #[derive(Default)]
//! struct Watch {
//!     hours: BTreeMap<(String, i64), Bucket>,
//!     last: BTreeMap<String, LastState>,
//!     alerts: BTreeMap<(String, String), AlertState>,
//! }
//!
//! impl Watch {
//!     /// Feeds one report: history, status-change events, alert transitions.
//!     fn feed(&mut self, cfg: &WatchConfig, r: &ServiceReport, now_ms: i64) -> Vec<String> {
//!         let mut said = Vec::new();
//!         let sample = CheckSample::from_report(&r.report);
//!         let key = (r.service.clone(), BucketWidth::Hour.align(sample.at_ms));
//!         let bucket = self.hours.entry(key).or_insert_with(|| Bucket::containing(BucketWidth::Hour, sample.at_ms));
//!         bucket.add(&sample).expect("aligned to its own hour");
//!
//!         let (state, change) = events::detect_change(self.last.get(&r.service), &sample, &r.report.message);
//!         self.last.extend(state.map(|s| (r.service.clone(), s)));
//!         if let Some(c) = change {
//!             said.push(format!("{}: {:?} -> {}", r.service, c.from, c.to));
//!         }
//!
//!         let tags = Vec::new();
//!         let svc = ServiceRef { name: &r.service, provider: &r.provider, tags: &tags, category: None };
//!         for rule in cfg.alerts.iter().filter(|rule| rule.scope.matches(&svc)) {
//!             let obs = rule.condition.observe(&Evidence::Check(&r.report), now_ms);
//!             let silence = opsdeck_monitor::silence::active_silence(&cfg.silences, &svc, now_ms);
//!             let key = (rule.name.clone(), r.service.clone());
//!             let state = self.alerts.remove(&key).unwrap_or_default();
//!             let (state, transitions) =
//!                 alert_state::step(&rule.policy(), &state, &obs, silence.map(|s| s.name.as_str()), now_ms);
//!             self.alerts.insert(key, state);
//!             said.extend(transitions.iter().filter(|t| t.notify).map(|t| format!("{:?} {}: {}", t.kind, rule.name, t.message)));
//!         }
//!         said
//!     }
//! }
//!
//! /// One scheduled pass, as a library user would run it every minute.
//! async fn run_once(manager: &ServiceManager, cfg: &WatchConfig, watch: &mut Watch, now_ms: i64) -> Vec<String> {
//!     let mut said = Vec::new();
//!     for report in manager.test_all().await {
//!         said.extend(watch.feed(cfg, &report, now_ms));
//!     }
//!     said
//! }
//!
//! let cfg = WatchConfig::from_toml_str(
//!     r#"
//!     [alerts.down]
//!     condition = "status"
//!     services = ["*"]
//!     failure_threshold = 2
//!     channels = []
//!     "#,
//!     &BTreeSet::new(),
//! )?;
//! let mut watch = Watch::default();
//!
//! // A real run (no services configured here, so it reports nothing).
//! let manager = ServiceManager::new(ManagerOptions::default());
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! assert!(runtime.block_on(run_once(&manager, &cfg, &mut watch, 0)).is_empty());
//!
//! // The reports such a run returns for a service that goes down, minute by minute.
//! let t0 = chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")?.to_utc();
//! let mut said = Vec::new();
//! for (minute, up) in [(0, true), (1, false), (2, false), (3, true), (4, true)] {
//!     let at = t0 + chrono::Duration::minutes(minute);
//!     let mut report = ConnectionReport::disabled();
//!     report.status = if up { Status::Connected } else { Status::Failed };
//!     report.failure = (!up).then_some(opsdeck_core::FailureKind::Timeout);
//!     report.message = if up { "ok".into() } else { "no answer within 10 s".into() };
//!     report.latency_ms = 120;
//!     report.checked_at = at;
//!     let r = ServiceReport::new("gh-main", "github", report);
//!     said.extend(watch.feed(&cfg, &r, at.timestamp_millis()));
//! }
//! assert_eq!(
//!     said,
//!     [
//!         "gh-main: None -> connected",
//!         "gh-main: Some(Connected) -> failed",
//!         "Firing down: failed (timeout): no answer within 10 s",
//!         "gh-main: Some(Failed) -> connected",
//!         "Resolved down: connected: ok",
//!     ]
//! );
//!
//! // Uptime of the hour: 3 connected, 2 failed.
//! let mut totals = WindowTotals::new();
//! watch.hours.values().for_each(|b| totals.add_bucket(b));
//! assert_eq!(totals.finish().uptime, Some(0.6));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod alert_state;
pub mod alerts;
pub mod budget;
pub mod config;
pub mod digest;
pub mod events;
pub mod forecast;
pub mod history;
pub mod incident;
pub mod metric_history;
pub mod retention;
pub mod rollup;
pub mod scope;
pub mod silence;
pub mod statuspage;
pub mod time;
pub mod window;
