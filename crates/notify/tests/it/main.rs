//! Integration tests of opsdeck-notify: config validation, pinned payloads, webhook and Slack
//! delivery against wiremock, email against an in-test SMTP server, and the documented
//! signature recipes. Nothing here touches the internet.

mod config;
mod email;
mod payloads;
mod recipe;
mod slack;
mod smtp_server;
mod support;
mod webhook;
