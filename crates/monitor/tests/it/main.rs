//! Integration tests of opsdeck-monitor's public API: the user-facing config contract and
//! end-to-end scenarios (a check stream through rollup, uptime, events and alerts; incidents).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
