//! Integration tests (placeholder while the library compiles).
use opsdeck_provider_aws as _;
