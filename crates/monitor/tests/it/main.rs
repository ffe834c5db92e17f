//! Integration tests of opsdeck-monitor's public API: the user-facing config contract, the
//! issue scenarios (incidents, status pages) and a check stream end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod incidents;
mod statuspage;
mod stream;
