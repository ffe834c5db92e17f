//! AWS error mapping. AWS signals what went wrong with an error *code*, not the HTTP status:
//! a throttled Cost Explorer call is HTTP 400 `LimitExceededException`, a bad key is 403
//! `InvalidClientTokenId` on STS but 400 `UnrecognizedClientException` on JSON services.
//!
//! Where the code lives:
//! - STS (query protocol): XML `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>`.
//!   Emulators such as moto add an `<Errors>` level, which the SDK's parser does not read, so
//!   the code is taken from the raw body here, wherever the first `<Code>` element is.
//! - Cost Explorer (awsJson1.1): header `x-amzn-errortype`, else body `__type` / `code`, possibly
//!   prefixed with a namespace (`com.amazonaws.ce#`) or suffixed with `:<url>`; message in
//!   `message`, `Message` or `errorMessage`.
//!
//! References: AWS "Common Errors" (AccessDeniedException 400, InvalidClientTokenId 403,
//! RequestExpired 400, ThrottlingException 400, ServiceUnavailable 503); Cost Explorer API
//! errors LimitExceededException ("You made too many calls in a short period of time"),
//! DataUnavailableException, BillExpirationException, InvalidNextTokenException,
//! RequestChangedException. The notes in docs/providers/aws.md cite the sources.

use opsdeck_core::FailureKind;
use opsdeck_core::http::{
    HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict, default_vendor_message,
};

/// Vendor-specific classification for AWS. The request's operation (`RequestCtx::operation`)
/// is the IAM action the call needs (e.g. `ce:GetCostAndUsage`), named in permission messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsErrors;

/// The AWS error code and message of an error response, from whichever protocol answered.
pub fn error_code(response: &HttpResponse) -> Option<String> {
    if let Some(h) = response.header("x-amzn-errortype") {
        let code = sanitize(h);
        if !code.is_empty() {
            return Some(code.to_owned());
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&response.body) {
        return ["__type", "code", "Code"]
            .iter()
            .find_map(|k| v.get(k).and_then(|c| c.as_str()))
            .map(|c| sanitize(c).to_owned())
            .filter(|c| !c.is_empty());
    }
    xml_element(&String::from_utf8_lossy(&response.body), "Code")
}

/// The human message of an AWS error response.
pub fn error_message(response: &HttpResponse) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&response.body) {
        return ["message", "Message", "errorMessage"]
            .iter()
            .find_map(|k| v.get(k).and_then(|c| c.as_str()))
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty());
    }
    xml_element(&String::from_utf8_lossy(&response.body), "Message")
        .or_else(|| default_vendor_message(response))
}

/// Strip a `namespace#` prefix and a `:url` suffix, as the awsJson protocols allow.
fn sanitize(code: &str) -> &str {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code).trim()
}

/// Text of the first `<name>` element. AWS error bodies are small and flat, so a search is
/// enough and tolerates the different envelopes real AWS and emulators use.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&close)?;
    let text = body[start..start + len].trim();
    (!text.is_empty()).then(|| unescape(text))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

impl VendorErrors for AwsErrors {
    /// The AWS error code (header, JSON or XML) and `code: message` as the message.
    fn parse(&self, response: &HttpResponse) -> VendorError {
        let code = error_code(response);
        let message = match (&code, error_message(response)) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (Some(c), None) => Some(c.clone()),
            (None, m) => m,
        };
        VendorError::new().with_code(code).with_message(message)
    }

    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let p = response.provider();
        let action = ctx.operation;
        let Some(code) = error.code.as_deref() else {
            // GetCallerIdentity needs no permission ("No permissions are required to perform
            // this operation", STS API reference), so a code-less 403 there can only mean the
            // credentials were refused.
            if response.status.as_u16() == 403 && action == "sts:GetCallerIdentity" {
                return default.with_kind(FailureKind::InvalidCredentials).with_hint(
                    "STS needs no permission for this call, so the credentials themselves were refused: check access_key_id and secret_access_key.",
                );
            }
            return default;
        };
        let said = |needle: &str| error.message_contains(needle);
        let verdict = |kind: FailureKind, summary: String, hint: Option<&str>| {
            let v = default.clone().with_kind(kind).with_summary(summary);
            match hint {
                Some(h) => v.with_hint(h),
                None => v,
            }
        };
        let signature = matches!(
            code,
            "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature"
        );
        let denied = matches!(
            code,
            "AccessDenied" | "AccessDeniedException" | "NotAuthorized" | "UnauthorizedOperation"
        );
        match code {
            "InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidAccessKeyId" => {
                verdict(
                    FailureKind::InvalidCredentials,
                    format!("{p} does not recognise the access key id"),
                    Some(
                        "Check access_key_id (or the credentials the AWS chain found) and that the key is active.",
                    ),
                )
            }
            _ if signature
                && (said("scoped to a valid region") || said("credential should be scoped")) =>
            {
                verdict(
                    FailureKind::InvalidConfig,
                    format!("{p} rejected the signing region"),
                    Some("Check the region field (and base_url)."),
                )
            }
            _ if signature && said("signature expired") => verdict(
                FailureKind::InvalidConfig,
                format!(
                    "{p} says the request signature has expired: this machine's clock is off by more than 15 minutes"
                ),
                Some("Fix the system time."),
            ),
            _ if signature => verdict(
                FailureKind::InvalidCredentials,
                format!(
                    "{p} rejected the request signature: the secret access key does not belong to the access key id"
                ),
                Some("Check secret_access_key."),
            ),
            "ExpiredToken" | "ExpiredTokenException" | "TokenRefreshRequired" => verdict(
                FailureKind::InvalidCredentials,
                format!("{p} says the session token has expired"),
                Some(
                    "Refresh the temporary credentials (e.g. `aws sso login`, or a new session_token).",
                ),
            ),
            "RequestExpired" | "RequestTimeTooSkewed" => verdict(
                FailureKind::InvalidConfig,
                format!(
                    "{p} refused the request as too old or too far in the future: this machine's clock is off by more than 15 minutes"
                ),
                Some("Fix the system time."),
            ),
            _ if denied && said("not enabled for cost explorer") => verdict(
                FailureKind::PermissionDenied,
                "Cost Explorer is not enabled for this AWS account".to_owned(),
                Some(
                    "Enable it once in the Billing and Cost Management console; data appears within 24 hours.",
                ),
            ),
            _ if denied => {
                let scp = if said("explicit deny") {
                    " An explicit deny (e.g. an Organizations service control policy) overrides any allow: ask the account administrator."
                } else {
                    ""
                };
                default
                    .with_kind(FailureKind::PermissionDenied)
                    .with_summary(format!(
                        "The AWS credentials are valid but may not call {action}"
                    ))
                    .with_hint(format!(
                        "Allow the IAM action {action} for this user or role.{scp}"
                    ))
            }
            "OptInRequired" | "SubscriptionRequiredException" => verdict(
                FailureKind::PermissionDenied,
                format!("{p} says the account is not subscribed to this service"),
                None,
            ),
            "LimitExceededException"
            | "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded" => verdict(
                FailureKind::RateLimited,
                format!("{p} is throttling requests"),
                None,
            ),
            // Not retried: the data will not appear within this check, and every request
            // costs money.
            "DataUnavailableException" | "BillExpirationException" => verdict(
                FailureKind::NotFound,
                format!("{p} has no data for this period yet"),
                Some("New accounts and newly enabled Cost Explorer need up to 24 hours."),
            ),
            "InvalidNextTokenException" | "RequestChangedException" => verdict(
                FailureKind::InvalidResponse,
                format!("{p} could not complete the cost query"),
                Some("Try again later."),
            ),
            "ValidationException" | "ValidationError" | "InvalidParameterValue" => verdict(
                FailureKind::Rejected,
                format!("{p} rejected the request as invalid"),
                Some("Check region and base_url; if they are right, the AWS API may have changed."),
            ),
            "InternalFailure"
            | "InternalError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException" => verdict(
                FailureKind::ProviderError,
                format!("{p} had a server error"),
                Some("This is usually temporary; check the AWS Health Dashboard."),
            ),
            _ => default,
        }
    }
}
