//! Azure OpenAI error mapping on top of the shared HTTP policy.
//!
//! Azure answers errors as `{"error":{"code":"…","message":"…"}}` (the common shape), with a few
//! conventions of its own:
//! - a wrong key *or* a key of another resource is 401 "Access denied due to invalid
//!   subscription key or wrong API endpoint";
//! - a missing deployment is 404 with code `DeploymentNotFound`, while a route this
//!   `api-version` does not serve is a plain 404 "Resource not found";
//! - throttling is 429 with `Retry-After` (seconds) and `retry-after-ms`; the shared policy
//!   reads `Retry-After`, and `retry-after-ms` is used when it is the only one.

use std::time::Duration;

use opsdeck_core::FailureKind;
use opsdeck_core::http::{HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict};

/// `details.extra` key holding Azure's error code, for callers that branch on it.
pub(crate) const ERROR_CODE_DETAIL: &str = "azure_error_code";
/// Azure's code for a deployment that does not exist.
pub(crate) const DEPLOYMENT_NOT_FOUND: &str = "DeploymentNotFound";

/// Vendor-specific classification for Azure OpenAI.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AzureErrors;

impl VendorErrors for AzureErrors {
    fn classify(
        &self,
        ctx: &RequestCtx<'_>,
        response: &HttpResponse,
        error: &VendorError,
        default: Verdict,
    ) -> Verdict {
        let default = match &error.code {
            Some(code) => default.with_detail(ERROR_CODE_DETAIL, code.clone()),
            None => default,
        };
        match response.status.as_u16() {
            401 => default.with_hint(
                "Use KEY 1 or KEY 2 from the resource's Keys and Endpoint page in the Azure portal, and check that `endpoint` is that same resource (a key of another resource is refused the same way).",
            ),
            403 => default.with_hint(
                "The resource refused the key: check its network rules (Networking → firewalls and virtual networks) and that key-based access is not disabled (disableLocalAuth).",
            ),
            404 if error.code_is(DEPLOYMENT_NOT_FOUND) => default
                .with_kind(FailureKind::NotFound)
                .with_summary("Azure OpenAI has no such deployment on this resource")
                .with_hint("Set `deployment` to the deployment name shown in Azure AI Foundry → Deployments (not the model name); a deployment created in the last few minutes may not be visible yet."),
            404 if ctx.relative_path == "/openai/models" => default.with_hint(
                "Check `endpoint` (https://<resource>.openai.azure.com, without a path) and `api_version` (a version Azure OpenAI supports, such as 2024-10-21).",
            ),
            400 if error.message_contains("api-version") || error.code_is("InvalidApiVersion") => default
                .with_kind(FailureKind::InvalidConfig)
                .with_summary("Azure OpenAI does not accept this `api_version`")
                .with_hint("Set `api_version` to a supported version, such as 2024-10-21."),
            429 if response.retry_after().is_none() => {
                let wait = response
                    .header("retry-after-ms")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_millis);
                default.with_retry_after(wait)
            }
            _ => default,
        }
    }
}
