//! The web UI end to end, in real headless Chromium driven over WebDriver (chromedriver), against
//! the real server and a wiremock stand-in for GitHub. Each scenario also fails on any console
//! error, CSP violation or uncaught exception. Screenshots of every screen are written as it
//! goes (see `driver::screenshot_dir`).
//!
//! Needs Debian's `chromium` and `chromium-driver`; `.ci/run` installs them. Without them the
//! tests print `SKIPPED:` locally and fail in CI.

// Tests fail by panicking on unexpected values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod app;
mod driver;
mod scenarios;
