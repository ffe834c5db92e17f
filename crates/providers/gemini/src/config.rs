//! Typed configuration of a Gemini service and the field declarations it is validated against.

use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{ConfigValues, FieldKind, FieldSpec, Result};
use url::Url;

/// Google's Generative Language API root (opsdeck appends `/v1beta/...`).
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "api_key",
        FieldKind::String,
        "Gemini API key from Google AI Studio (aistudio.google.com → Get API key).",
    )
    .required()
    .secret()
    .env("GEMINI_API_KEY"),
    base_url_field(
        DEFAULT_BASE_URL,
        "API root without the version; change it only for a proxy or a test server.",
    )
    .example(DEFAULT_BASE_URL),
];

/// Configuration of one Gemini service. `Debug` never shows the key.
#[derive(Clone)]
pub struct GeminiConfig {
    /// The API key, sent as `x-goog-api-key` (never in the URL, so it cannot leak into logs).
    pub api_key: SecretString,
    /// API root.
    pub base_url: Url,
}

impl std::fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("api_key", &"[set]")
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl GeminiConfig {
    /// A config for `api_key` against the default API root.
    pub fn new(api_key: SecretString) -> Result<Self> {
        let base_url = Url::parse(DEFAULT_BASE_URL)
            .map_err(|e| opsdeck_core::Error::invalid_config(format!("bad default URL: {e}")))?;
        Ok(GeminiConfig { api_key, base_url })
    }

    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        Ok(GeminiConfig {
            api_key: values.require("api_key", ConfigValues::secret)?.clone(),
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
        })
    }
}
