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

use opsdeck_core::http::{HttpResponse, VendorErrors, default_vendor_message};
use opsdeck_core::{Error, FailureKind};

/// Vendor-specific classification for one AWS operation. `action` is the IAM action the call
/// needs (e.g. `ce:GetCostAndUsage`), named in permission messages.
#[derive(Debug, Clone, Copy)]
pub struct AwsErrors {
    /// IAM action of the operation.
    pub action: &'static str,
}

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
    fn vendor_message(&self, response: &HttpResponse) -> Option<String> {
        error_message(response)
    }

    fn classify(&self, response: &HttpResponse, default: Error) -> Error {
        let p = response.provider();
        let status = response.status.as_u16();
        let Some(code) = error_code(response) else {
            // GetCallerIdentity needs no permission ("No permissions are required to perform
            // this operation", STS API reference), so a code-less 403 there can only mean the
            // credentials were refused.
            if status == 403 && self.action == "sts:GetCallerIdentity" {
                return default.with_kind(FailureKind::InvalidCredentials).with_hint(
                    "STS needs no permission for this call, so the credentials themselves were refused: check access_key_id and secret_access_key.",
                );
            }
            return default;
        };
        let said = match error_message(response) {
            Some(m) => format!("{code}: {m}"),
            None => code.clone(),
        };
        let lower = said.to_ascii_lowercase();
        let (kind, message) = match code.as_str() {
            "InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidAccessKeyId" => (
                FailureKind::InvalidCredentials,
                format!(
                    "{p} does not recognise the access key id ({said}). Check access_key_id (or the credentials the AWS chain found) and that the key is active."
                ),
            ),
            "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature"
                if lower.contains("scoped to a valid region")
                    || lower.contains("credential should be scoped") =>
            {
                (
                    FailureKind::InvalidConfig,
                    format!(
                        "{p} rejected the signing region ({said}). Check the region field (and base_url)."
                    ),
                )
            }
            "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature"
                if lower.contains("signature expired") =>
            {
                (
                    FailureKind::InvalidConfig,
                    format!(
                        "{p} says the request signature has expired ({said}): this machine's clock is off by more than 15 minutes. Fix the system time."
                    ),
                )
            }
            "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature" => (
                FailureKind::InvalidCredentials,
                format!(
                    "{p} rejected the request signature ({said}): the secret access key does not belong to the access key id. Check secret_access_key."
                ),
            ),
            "ExpiredToken" | "ExpiredTokenException" | "TokenRefreshRequired" => (
                FailureKind::InvalidCredentials,
                format!(
                    "{p} says the session token has expired ({said}). Refresh the temporary credentials (e.g. `aws sso login`, or a new session_token)."
                ),
            ),
            "RequestExpired" | "RequestTimeTooSkewed" => (
                FailureKind::InvalidConfig,
                format!(
                    "{p} refused the request as too old or too far in the future ({said}): this machine's clock is off by more than 15 minutes. Fix the system time."
                ),
            ),
            "AccessDenied"
            | "AccessDeniedException"
            | "NotAuthorized"
            | "UnauthorizedOperation"
                if lower.contains("not enabled for cost explorer") =>
            {
                (
                    FailureKind::PermissionDenied,
                    format!(
                        "Cost Explorer is not enabled for this AWS account ({said}). Enable it once in the Billing and Cost Management console; data appears within 24 hours."
                    ),
                )
            }
            "AccessDenied"
            | "AccessDeniedException"
            | "NotAuthorized"
            | "UnauthorizedOperation" => {
                let scp = if lower.contains("explicit deny") {
                    " An explicit deny (e.g. an Organizations service control policy) overrides any allow: ask the account administrator."
                } else {
                    ""
                };
                (
                    FailureKind::PermissionDenied,
                    format!(
                        "The AWS credentials are valid but may not call {action} ({said}). Allow the IAM action {action} for this user or role.{scp}",
                        action = self.action
                    ),
                )
            }
            "OptInRequired" | "SubscriptionRequiredException" => (
                FailureKind::PermissionDenied,
                format!("{p} says the account is not subscribed to this service ({said})."),
            ),
            "LimitExceededException"
            | "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded" => {
                let wait = default
                    .retry_after()
                    .map(|d| format!(" Retry after {}s.", d.as_secs().max(1)))
                    .unwrap_or_else(|| " Try again later.".to_owned());
                (
                    FailureKind::RateLimited,
                    format!("{p} is throttling requests ({said}).{wait}"),
                )
            }
            // Not retried: the data will not appear within this check, and every request
            // costs money.
            "DataUnavailableException" | "BillExpirationException" => (
                FailureKind::NotFound,
                format!(
                    "{p} has no data for this period yet ({said}). New accounts and newly enabled Cost Explorer need up to 24 hours."
                ),
            ),
            "InvalidNextTokenException" | "RequestChangedException" => (
                FailureKind::InvalidResponse,
                format!("{p} could not complete the cost query ({said}). Try again later."),
            ),
            "ValidationException" | "ValidationError" | "InvalidParameterValue" => (
                FailureKind::InvalidConfig,
                format!("{p} rejected the request as invalid ({said})."),
            ),
            "InternalFailure"
            | "InternalError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException" => (
                FailureKind::ProviderError,
                format!(
                    "{p} had a server error (HTTP {status}, {said}). This is usually temporary; check the AWS Health Dashboard."
                ),
            ),
            _ => return default,
        };
        let retry_after = default.retry_after();
        let mut err = Error::new(kind, message)
            .with_http_status(status)
            .with_retry_after(retry_after);
        *err.details_mut() = default.details().clone();
        err
    }
}
