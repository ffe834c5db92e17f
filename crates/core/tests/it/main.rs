//! Integration tests of opsdeck-core: the manager's concurrency, timeout and isolation
//! guarantees, the shared HTTP policy against a local mock server and under paused time, and
//! property tests of every vendor-input parser.

mod contracts;
mod http_policy;
mod manager;
mod parsers;
