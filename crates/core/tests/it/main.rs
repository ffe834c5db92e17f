//! Integration tests of opsdeck-core: the manager's concurrency, timeout and isolation
//! guarantees, and the shared HTTP policy against a local mock server.

mod contracts;
mod http_policy;
mod manager;
