//! # opsdeck-monitor
//!
//! The watching half of opsdeck as pure logic (work in progress).
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
