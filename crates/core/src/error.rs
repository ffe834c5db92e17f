//! The one error type of opsdeck's libraries: a [`FailureKind`], a message that says what
//! happened, an optional hint that says what to do, and the facts a retry policy or report needs
//! (HTTP status, Retry-After, rate limit).
//!
//! Messages and hints are written for the operator and must never contain a secret: they are
//! shown in the CLI, returned by the server and logged. The message reads well on its own; the
//! hint is kept apart so a UI can show "what happened" and "what to do" separately.

use std::time::Duration;

use crate::status::{FailureKind, RateLimitInfo, ReportDetails};

/// Boxed source error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used across opsdeck.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with a typed kind and an actionable message. Boxed inside so `Result<T, Error>`
/// stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct Error(Box<Inner>);

impl std::fmt::Display for Error {
    /// The message, then the hint: a whole error printed in one line says both.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)?;
        if let Some(hint) = &self.0.hint {
            f.write_str(" ")?;
            f.write_str(hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[derive(Debug)]
struct Inner {
    kind: FailureKind,
    message: String,
    hint: Option<String>,
    temporary: Option<bool>,
    http_status: Option<u16>,
    retry_after: Option<Duration>,
    details: ReportDetails,
    source: Option<BoxError>,
    /// Config fields the problem is about (an invalid config the field schema could not see).
    fields: Vec<String>,
}

impl Error {
    /// A new error of `kind` with an operator-facing `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            hint: None,
            temporary: None,
            http_status: None,
            retry_after: None,
            details: ReportDetails::default(),
            source: None,
            fields: Vec::new(),
        }))
    }

    /// Shorthand for [`FailureKind::InvalidConfig`].
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(FailureKind::InvalidConfig, message)
    }

    /// Shorthand for [`FailureKind::InvalidResponse`].
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Self::new(FailureKind::InvalidResponse, message)
    }

    /// Shorthand for [`FailureKind::Rejected`].
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Rejected, message)
    }

    /// Shorthand for [`FailureKind::ProviderError`].
    pub fn provider(message: impl Into<String>) -> Self {
        Self::new(FailureKind::ProviderError, message)
    }

    /// The failure kind.
    pub fn kind(&self) -> FailureKind {
        self.0.kind
    }

    /// What happened (operator-facing, without the hint).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// What to do about it, when there is something to do.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }

    /// HTTP status of the response that caused the error, if any.
    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// How long the vendor asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// Rate-limit headroom captured with the error, if any.
    pub fn rate_limit(&self) -> Option<&RateLimitInfo> {
        self.0.details.rate_limit.as_ref()
    }

    /// Report details carried by the error (rate limit, scopes, sub-checks, …).
    pub fn details(&self) -> &ReportDetails {
        &self.0.details
    }

    /// Mutable access to the details, for providers that add facts.
    pub fn details_mut(&mut self) -> &mut ReportDetails {
        &mut self.0.details
    }

    /// Whether retrying the same request may help: what the classification decided, else
    /// [`FailureKind::is_temporary`].
    pub fn is_temporary(&self) -> bool {
        self.0
            .temporary
            .unwrap_or_else(|| self.0.kind.is_temporary())
    }

    /// Override whether a retry may help (e.g. a 429 that means "quota used up" is not).
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.0.temporary = Some(temporary);
        self
    }

    /// Change the kind (vendor-specific reclassification).
    pub fn with_kind(mut self, kind: FailureKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Replace the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.0.message = message.into();
        self
    }

    /// Add a sentence to the hint (what to do); the message is left alone.
    pub fn with_hint(mut self, hint: impl AsRef<str>) -> Self {
        let hint = hint.as_ref().trim();
        if !hint.is_empty() {
            match &mut self.0.hint {
                Some(h) => {
                    h.push(' ');
                    h.push_str(hint);
                }
                None => self.0.hint = Some(hint.to_owned()),
            }
        }
        self
    }

    /// Replace the hint (`None` removes it).
    pub fn with_hint_replaced(mut self, hint: Option<String>) -> Self {
        self.0.hint = hint.filter(|h| !h.trim().is_empty());
        self
    }

    /// Name the config fields an invalid config is about (fields that go together, or one of
    /// several ways to authenticate), so a form can mark them.
    ///
    /// ```
    /// let e = opsdeck_core::Error::invalid_config("No credentials: set `token`.").with_fields(["token"]);
    /// assert_eq!(e.fields(), ["token"]);
    /// ```
    pub fn with_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for f in fields {
            let f = f.into();
            if !self.0.fields.contains(&f) {
                self.0.fields.push(f);
            }
        }
        self
    }

    /// The config fields the error is about (empty when it names none).
    pub fn fields(&self) -> &[String] {
        &self.0.fields
    }

    /// Add a sentence to the message (a fact about what happened, e.g. why a retry was skipped).
    pub fn with_sentence(mut self, sentence: impl AsRef<str>) -> Self {
        let sentence = sentence.as_ref().trim();
        if !sentence.is_empty() {
            if !self.0.message.is_empty() && !self.0.message.ends_with(' ') {
                self.0.message.push(' ');
            }
            self.0.message.push_str(sentence);
        }
        self
    }

    /// Rewrite the message and the hint with `f` (e.g. to scrub secrets from both).
    pub fn map_text(mut self, f: impl Fn(&str) -> String) -> Self {
        self.0.message = f(&self.0.message);
        self.0.hint = self.0.hint.as_deref().map(&f);
        for check in &mut self.0.details.checks {
            check.message = f(&check.message);
            check.hint = check.hint.as_deref().map(&f);
        }
        self
    }

    /// Record the HTTP status.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.0.http_status = Some(status);
        self.0.details.http_status = Some(status);
        self
    }

    /// Record how long the vendor asked us to wait.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.0.retry_after = retry_after;
        self.0.details.retry_after_secs = retry_after.map(|d| d.as_secs().max(1));
        self
    }

    /// Record rate-limit headroom.
    pub fn with_rate_limit(mut self, rate_limit: Option<RateLimitInfo>) -> Self {
        self.0.details.rate_limit = rate_limit.filter(|r| !r.is_empty());
        self
    }

    /// Attach the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.0.source = Some(source.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_kept_apart_from_the_message() {
        let e = Error::new(FailureKind::InvalidCredentials, "Rejected.")
            .with_hint("Check it.")
            .with_hint("Then retry.");
        assert_eq!(e.message(), "Rejected.");
        assert_eq!(e.hint(), Some("Check it. Then retry."));
        assert_eq!(e.to_string(), "Rejected. Check it. Then retry.");
        let e = e.with_sentence("Not retried.");
        assert_eq!(e.message(), "Rejected. Not retried.");
    }

    #[test]
    fn temporary_follows_the_kind_unless_overridden() {
        let e = Error::new(FailureKind::RateLimited, "quota");
        assert!(e.is_temporary());
        assert!(!e.with_temporary(false).is_temporary());
    }

    #[test]
    fn retry_after_is_mirrored_in_details() {
        let e = Error::new(FailureKind::RateLimited, "slow down")
            .with_retry_after(Some(Duration::from_millis(1500)));
        assert_eq!(e.details().retry_after_secs, Some(1));
        assert!(e.is_temporary());
    }
}
