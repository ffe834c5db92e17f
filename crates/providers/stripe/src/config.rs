//! Typed configuration of a Stripe service and the field declarations it is validated against.

use std::fmt;

use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::{ExposeSecret, SecretString};
use opsdeck_core::{ConfigValues, Error, FieldKind, FieldSpec, Result};
use url::Url;

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "secret_key",
        FieldKind::String,
        "Secret key (sk_live_…/sk_test_…) or, better, a restricted key (rk_…) with Read on Balance, Charges and Subscriptions.",
    )
    .required()
    .secret()
    .env("STRIPE_SECRET_KEY")
    .example("rk_live_…"),
    base_url_field(
        "https://api.stripe.com",
        "Stripe API root, without /v1 (change it only for stripe-mock or a proxy).",
    ),
];

/// Which kind of key is configured; only the prefix is inspected, never the secret part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `sk_…`: full access.
    Secret,
    /// `rk_…`: per-resource permissions.
    Restricted,
    /// Any other prefix (e.g. a future key format); sent as is.
    Other,
}

impl KeyKind {
    /// Stable name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Restricted => "restricted",
            KeyKind::Other => "other",
        }
    }
}

/// Configuration of one Stripe service. `Debug` never shows the key.
#[derive(Clone)]
pub struct StripeConfig {
    /// The API key, sent as `Authorization: Bearer`.
    pub secret_key: SecretString,
    /// API root.
    pub base_url: Url,
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[REDACTED]")
            .field("key_kind", &self.key_kind())
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl StripeConfig {
    /// From validated values (the registry path). Rejects publishable keys, which can never
    /// read account data, before any request is made.
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let secret_key = values.require("secret_key", ConfigValues::secret)?.clone();
        let base_url = values.require("base_url", ConfigValues::url)?.clone();
        let config = StripeConfig {
            secret_key,
            base_url,
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        let key = self.secret_key.expose_secret();
        if key.starts_with("pk_") {
            return Err(Error::invalid_config(
                "secret_key is a publishable key (pk_…), which cannot read balances or charges. Use a secret key (sk_…) or a restricted key (rk_…) from Dashboard → Developers → API keys.",
            ));
        }
        if key.trim() != key || key.is_empty() {
            return Err(Error::invalid_config(
                "secret_key is empty or has leading/trailing spaces; paste the key exactly as Stripe shows it.",
            ));
        }
        Ok(())
    }

    /// Kind of key, from its prefix.
    pub fn key_kind(&self) -> KeyKind {
        let key = self.secret_key.expose_secret();
        if key.starts_with("sk_") {
            KeyKind::Secret
        } else if key.starts_with("rk_") {
            KeyKind::Restricted
        } else {
            KeyKind::Other
        }
    }
}
