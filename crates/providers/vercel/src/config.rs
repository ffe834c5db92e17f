//! Typed configuration of a Vercel service and the field declarations it is validated against.

use std::fmt;

use opsdeck_core::schema::base_url_field;
use opsdeck_core::secrecy::SecretString;
use opsdeck_core::{ConfigValues, Error, FieldKind, FieldSpec, Result};
use url::Url;

/// Config fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::new(
        "token",
        FieldKind::String,
        "Vercel access token (Account Settings → Tokens), scoped to the account or the team.",
    )
    .required()
    .secret()
    .env("VERCEL_TOKEN"),
    FieldSpec::new(
        "team_id",
        FieldKind::String,
        "Team id (team_…) to act on; sent as the teamId query parameter on deployment, project and billing requests.",
    )
    .example("team_a1b2c3d4e5"),
    base_url_field("https://api.vercel.com", "Vercel REST API root."),
];

/// Configuration of one Vercel service. `Debug` never shows the token.
#[derive(Clone)]
pub struct VercelConfig {
    /// Access token, sent as `Authorization: Bearer`.
    pub token: SecretString,
    /// Team to act on.
    pub team_id: Option<String>,
    /// API root.
    pub base_url: Url,
}

impl fmt::Debug for VercelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VercelConfig")
            .field("token", &"[REDACTED]")
            .field("team_id", &self.team_id)
            .field("base_url", &self.base_url.as_str())
            .finish()
    }
}

impl VercelConfig {
    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        let team_id = values
            .string("team_id")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if let Some(t) = &team_id
            && !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            // The id goes into a URL path (/v2/teams/{id}); refuse anything that would change it.
            return Err(Error::invalid_config(format!(
                "team_id \"{t}\" is not a Vercel team id (expected letters, digits, '_' or '-', e.g. team_a1b2c3); find it in Team Settings → General."
            )));
        }
        Ok(VercelConfig {
            token: values.require("token", ConfigValues::secret)?.clone(),
            team_id,
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
        })
    }
}
