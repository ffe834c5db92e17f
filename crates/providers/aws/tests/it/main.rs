//! Integration tests for the AWS provider:
//! - `conformance`: the shared offline suite (wiremock speaking AWS's error shapes);
//! - `wire`: exact STS and Cost Explorer requests (SigV4 scope, protocol headers, bodies),
//!   metrics parsed from realistic bodies, pagination, empty results, the cache, every AWS
//!   error code we map, and the category verbs;
//! - `secrets`: no credential (configured or resolved by the chain) in any report or log even
//!   when the host echoes the signed headers; no ambient credential without the opt-in;
//!   metadata endpoints refused;
//! - `emulator`: end to end against moto in server mode, which verifies real SigV4 signatures
//!   and serves Cost Explorer results seeded through its API.

mod common;
mod conformance;
mod emulator;
mod secrets;
mod wire;

// The crate must be linked for its registration to exist; naming it does that.
use opsdeck_provider_aws as _;
