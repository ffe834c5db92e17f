//! A stand-in for AWS STS, for tests in this crate and in others (the CLI's end-to-end tests):
//! `GetCallerIdentity` answered with the documented XML in `tests/it/fixtures`, for a service
//! configured with [`KEY_ID`] and [`SECRET`] and `base_url` set to the stand-in. Enabled by the
//! `testing` feature; never part of a release build.

use opsdeck_testkit::wiremock::matchers::{body_string_contains, method};
use opsdeck_testkit::wiremock::{Mock, MockServer, ResponseTemplate};

/// The access key id the stand-in expects to see signed.
pub const KEY_ID: &str = "AKIAOPSDECKTEST00001";
/// The secret access key.
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYopsdeckSECRET";
/// `GetCallerIdentity` as STS answers it.
pub const CALLER_IDENTITY: &str =
    include_str!("../tests/it/fixtures/sts_get_caller_identity_200.xml");

/// STS `GetCallerIdentity` succeeds (the identity is an `arn:aws:` ARN).
pub async fn mount_probe(server: &MockServer) {
    Mock::given(method("POST"))
        .and(body_string_contains("Action=GetCallerIdentity"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(CALLER_IDENTITY, "text/xml"))
        .mount(server)
        .await;
}
