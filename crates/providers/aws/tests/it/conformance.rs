//! The shared conformance suite. Error bodies are shaped like STS's query-protocol errors
//! (`<ErrorResponse><Error><Code>…`), because the connection test talks to STS.

use opsdeck_core::FailureKind;
use opsdeck_testkit::wiremock::matchers::{body_string, header, method, path};
use opsdeck_testkit::wiremock::{Mock, MockServer, ResponseTemplate};
use opsdeck_testkit::{Conformance, MountFuture, Scenario};

use crate::common::*;

fn mount_sts(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string(STS_BODY))
            .and(signed_for("eu-west-1", "sts"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(fixture("sts_get_caller_identity_200.xml"), "text/xml"),
            )
            .expect(1..)
            .mount(server)
            .await;
    })
}

fn mount_cost_explorer(server: &MockServer) -> MountFuture<'_> {
    Box::pin(async move {
        let days = Days::now();
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("x-amz-target", TARGET_USAGE))
            .and(header("content-type", CE_JSON))
            .and(signed_for("us-east-1", "ce"))
            .and(ce_body(serde_json::json!({"Granularity": "MONTHLY"})))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                fixture("ce_get_cost_and_usage_by_service_page2.json"),
                CE_JSON,
            ))
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("x-amz-target", TARGET_USAGE))
            .and(signed_for("us-east-1", "ce"))
            .and(ce_body(serde_json::json!({"Granularity": "DAILY"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(daily_body(&days)))
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("x-amz-target", TARGET_FORECAST))
            .and(signed_for("us-east-1", "ce"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(fixture("ce_get_cost_forecast.json"), CE_JSON),
            )
            .mount(server)
            .await;
    })
}

fn sts_error(status: u16) -> ResponseTemplate {
    let (code, message) = match status {
        401 => (
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        ),
        403 => (
            "InvalidClientTokenId",
            "The security token included in the request is invalid",
        ),
        404 => ("NotFound", "The requested resource was not found"),
        429 => ("Throttling", "Rate exceeded"),
        _ => ("ServiceUnavailable", "Service is unable to handle request."),
    };
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{code}</Code>\n    <Message>{message}</Message>\n  </Error>\n  <RequestId>0c5b2e58-8b6a-4d4c-9d2e-3b1f6a7e9c10</RequestId>\n</ErrorResponse>\n"
    );
    ResponseTemplate::new(status)
        .insert_header("x-amzn-requestid", "0c5b2e58-8b6a-4d4c-9d2e-3b1f6a7e9c10")
        .set_body_raw(body, "text/xml")
}

#[tokio::test]
async fn conformance() {
    Conformance::new("aws", keyed_config)
        // Not the access key id: AWS treats it as an identifier (it is in every Authorization
        // header) and the SDK prints it in its own DEBUG/TRACE logs (`Credentials` Debug, which
        // redacts the secret and the session token). opsdeck still stores it write-only and
        // scrubs it from messages; docs/providers/aws.md says so.
        .secret(SECRET)
        .secret(TOKEN)
        .success(mount_sts)
        .metrics(mount_cost_explorer)
        .error_body(sts_error)
        // STS answers a key it does not know with 403 InvalidClientTokenId: that is a bad
        // credential, not a missing permission (GetCallerIdentity needs none).
        .expect(Scenario::Forbidden, FailureKind::InvalidCredentials)
        .run()
        .await;
}
