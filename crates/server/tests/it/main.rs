//! opsdeckd integration tests: the real server on port 0 against SQLite (temp dir) and
//! PostgreSQL (a fresh database per test), talking HTTP to it; process tests start the
//! `opsdeckd` binary itself.

// Tests fail by panicking on unexpected values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerts;
mod api;
mod auth;
mod hardening;
mod incidents;
mod monitoring;
mod pipeline;
mod process;
mod scheduler;
mod secrets;
mod support;
mod ui;
mod ui_api;
