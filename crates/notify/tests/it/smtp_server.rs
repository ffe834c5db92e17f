//! The in-test SMTP server now lives in the crate behind the `testing` feature, so the server's
//! tests can use it too.

pub use opsdeck_notify::testing::*;
