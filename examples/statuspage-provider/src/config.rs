//! Typed configuration and the field declarations it is validated against.

use opsdeck_core::schema::base_url_field;
use opsdeck_core::{ConfigValues, FieldKind, FieldSpec, Result};
use url::Url;

/// Config fields. `base_url` is the status page itself (no default: every page has its own).
pub const FIELDS: &[FieldSpec] = &[
    base_url_field(
        "https://www.githubstatus.com",
        "Address of the status page, e.g. https://www.githubstatus.com.",
    )
    .example("https://www.githubstatus.com"),
    FieldSpec::new(
        "components",
        FieldKind::StringList,
        "Only report these component names (default: all).",
    )
    .label("Components")
    .example("API Requests, Actions"),
];

/// Configuration of one Statuspage service.
#[derive(Debug, Clone)]
pub struct StatuspageConfig {
    /// The status page address.
    pub base_url: Url,
    /// Component names to report; empty means all.
    pub components: Vec<String>,
}

impl StatuspageConfig {
    /// From validated values (the registry path).
    pub fn from_values(values: &ConfigValues) -> Result<Self> {
        Ok(StatuspageConfig {
            base_url: values.require("base_url", ConfigValues::url)?.clone(),
            components: values.list("components").to_vec(),
        })
    }
}
