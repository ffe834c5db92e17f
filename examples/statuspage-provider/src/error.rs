//! Statuspage error mapping. The public API has no credentials, so the shared defaults fit;
//! the one special case is a page that is private or was deleted, which Statuspage answers with
//! 404 (documented in "Public API" → errors).

use opsdeck_core::FailureKind;
use opsdeck_core::http::{HttpResponse, RequestCtx, VendorError, VendorErrors, Verdict};

/// Vendor-specific classification for Statuspage.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatuspageErrors;

impl VendorErrors for StatuspageErrors {
    fn classify(
        &self,
        _: &RequestCtx<'_>,
        response: &HttpResponse,
        _: &VendorError,
        default: Verdict,
    ) -> Verdict {
        if default.kind == FailureKind::NotFound {
            return default.with_hint(format!(
                "{} has no public status summary at {}: check that base_url is the status page's address and that the page is public.",
                response.provider(),
                response.path
            ));
        }
        default
    }
}
