//! Typed configuration of a Stripe service and the field declarations it is validated against.

use std::fmt;

use opsdeck_core::config::{ConfigBuilder, ProviderConfig, RawConfig};
use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::{ExposeSecret, SecretString};
use opsdeck_core::{
    ConfigErrors, ConfigValues, Error, FieldKind, FieldSpec, ProviderDescriptor, Result,
};
use url::Url;

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "secret_key",
        FieldKind::String,
        "Secret key (sk_live_…/sk_test_…) or, better, a restricted key (rk_…) with Read on Balance, Charges and Subscriptions.",
    )
    .label("Secret key")
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
            ).with_fields(["secret_key"]));
        }
        if key.trim() != key || key.is_empty() {
            return Err(Error::invalid_config(
                "secret_key is empty or has leading/trailing spaces; paste the key exactly as Stripe shows it.",
            ).with_fields(["secret_key"]));
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

/// Builds a [`StripeConfig`] in code with the same checks as `opsdeck.toml` (every problem at once);
/// it is also the provider config [`ServiceSpec::builder`](opsdeck_core::ServiceSpec::builder)
/// takes. Start with [`StripeConfig::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct StripeConfigBuilder(ConfigBuilder);

impl StripeConfig {
    /// A config written in code:
    ///
    /// ```
    /// use opsdeck_provider_stripe::StripeConfig;
    ///
    /// let config = StripeConfig::builder().secret_key("rk_test_example").build()?;
    /// assert_eq!(config.base_url.as_str(), "https://api.stripe.com/");
    ///
    /// // Refused like the same value in opsdeck.toml:
    /// assert_eq!(StripeConfig::builder().secret_key("pk_live_example").build().unwrap_err().problems.len(), 1);
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder() -> StripeConfigBuilder {
        StripeConfigBuilder(ConfigBuilder::new(&crate::DESCRIPTOR))
    }
}

impl StripeConfigBuilder {
    /// Secret (`sk_…`) or restricted (`rk_…`) key. Secret: kept out of `Debug`.
    pub fn secret_key(self, value: impl Into<SecretString>) -> Self {
        Self(self.0.secret("secret_key", value))
    }

    /// Stripe API root without `/v1` (stripe-mock, proxies). Checked when built, like the config file's value.
    pub fn base_url(self, url: impl AsRef<str>) -> Self {
        Self(self.0.set("base_url", url.as_ref()))
    }

    /// Check every field and build the typed config.
    pub fn build(&self) -> std::result::Result<StripeConfig, ConfigErrors> {
        self.0.build_with(StripeConfig::from_values)
    }
}

impl ProviderConfig for StripeConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.0.descriptor()
    }

    fn into_raw(self) -> RawConfig {
        self.0.into_raw()
    }
}
