//! Provider descriptors and their config schema: each provider declares its fields once
//! (name, type, required, secret, default, description) and everything else — validation,
//! the JSON Schema the UI generates forms from, `opsdeck providers show`, the starter config
//! written by `opsdeck init` — is derived from that declaration.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value, json};

/// Provider category. The JSON spelling is a user-facing contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// Cloud and hosting (AWS, Railway, Vercel).
    Infrastructure,
    /// Source control and CI (GitHub).
    Development,
    /// Issue tracking (Jira).
    ProjectManagement,
    /// AI model APIs (OpenAI, Claude, Gemini).
    Ai,
    /// Monitoring (Datadog).
    Observability,
    /// Payments and revenue (Stripe).
    Billing,
    /// Anything else (third-party providers).
    Other,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: [Category; 7] = [
        Category::Infrastructure,
        Category::Development,
        Category::ProjectManagement,
        Category::Ai,
        Category::Observability,
        Category::Billing,
        Category::Other,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Infrastructure => "infrastructure",
            Category::Development => "development",
            Category::ProjectManagement => "project_management",
            Category::Ai => "ai",
            Category::Observability => "observability",
            Category::Billing => "billing",
            Category::Other => "other",
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a config field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldKind {
    /// Free text.
    String,
    /// An absolute http(s) URL.
    Url,
    /// A whole number within bounds.
    Integer {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// true / false.
    Bool,
    /// A list of strings.
    StringList,
    /// One of a fixed set of strings.
    Enum {
        /// The accepted values.
        values: &'static [&'static str],
    },
    /// A duration such as `90s`, `15m`, `6h`.
    Duration,
}

impl FieldKind {
    /// How the kind is described to users in messages and docs.
    pub fn describe(&self) -> String {
        match self {
            FieldKind::String => "a string".into(),
            FieldKind::Url => "an http(s) URL".into(),
            FieldKind::Integer { min, max } => format!("an integer from {min} to {max}"),
            FieldKind::Bool => "true or false".into(),
            FieldKind::StringList => "a list of strings".into(),
            FieldKind::Enum { values } => format!("one of {}", quoted_list(values)),
            FieldKind::Duration => "a duration such as \"90s\", \"15m\" or \"6h\"".into(),
        }
    }
}

pub(crate) fn quoted_list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One config field of a provider. Declare it with [`FieldSpec::new`] and the `const`
/// builders; the fields are public for reading.
///
/// ```
/// use opsdeck_core::{FieldKind, FieldSpec};
///
/// const TOKEN: FieldSpec = FieldSpec::new("token", FieldKind::String, "API token.")
///     .label("API token")
///     .required()
///     .secret()
///     .env("DEMO_TOKEN");
/// assert_eq!(TOKEN.title(), "API token");
/// assert_eq!(FieldSpec::new("base_url", FieldKind::Url, "").title(), "Base URL");
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct FieldSpec {
    /// Key in the config table / JSON object.
    pub name: &'static str,
    /// Type of the value (serialized flat: `"type": "string"`, plus `values`/`min`/`max`).
    pub kind: FieldKind,
    /// Whether the field must be given (a field with a default is never required).
    pub required: bool,
    /// Whether the value is a secret: kept in `SecretString`, never printed, write-only in the API.
    pub secret: bool,
    /// Default value, in config-file syntax (as a string).
    pub default: Option<&'static str>,
    /// What the field is for, shown in docs, `providers show` and the UI.
    pub description: &'static str,
    /// Conventional environment variable for `${VAR}` in the starter config.
    pub env: Option<&'static str>,
    /// An example value for docs and the starter config.
    pub example: Option<&'static str>,
    /// Human label for forms ("API token"); empty when not declared (see [`title`](Self::title)).
    pub label: &'static str,
}

impl Serialize for FieldSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Field order and names are the `providers --json` / API contract; `label` was added last.
        #[derive(Serialize)]
        struct Wire<'a> {
            name: &'a str,
            #[serde(flatten)]
            kind: &'a FieldKind,
            required: bool,
            secret: bool,
            default: Option<&'a str>,
            description: &'a str,
            env: Option<&'a str>,
            example: Option<&'a str>,
            label: Cow<'a, str>,
        }
        Wire {
            name: self.name,
            kind: &self.kind,
            required: self.required,
            secret: self.secret,
            default: self.default,
            description: self.description,
            env: self.env,
            example: self.example,
            label: self.title(),
        }
        .serialize(serializer)
    }
}

impl FieldSpec {
    /// A field of `kind` with defaults for the flags; chain the `const` builders below.
    pub const fn new(name: &'static str, kind: FieldKind, description: &'static str) -> Self {
        FieldSpec {
            name,
            kind,
            required: false,
            secret: false,
            default: None,
            description,
            env: None,
            example: None,
            label: "",
        }
    }

    /// The human label shown in forms and tables ("API token", "Base URL").
    pub const fn label(mut self, label: &'static str) -> Self {
        self.label = label;
        self
    }

    /// The label to show: the declared [`label`](Self::label), else the name made readable
    /// (`base_url` → "Base URL").
    pub fn title(&self) -> Cow<'static, str> {
        if !self.label.is_empty() {
            return Cow::Borrowed(self.label);
        }
        let words: Vec<String> = self
            .name
            .split('_')
            .filter(|w| !w.is_empty())
            .enumerate()
            .map(|(i, w)| match w {
                "url" | "id" | "api" | "ttl" => w.to_ascii_uppercase(),
                _ if i == 0 => {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                }
                _ => w.to_owned(),
            })
            .collect();
        Cow::Owned(words.join(" "))
    }

    /// A required field.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// A secret field.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// A field with a default (config-file syntax).
    pub const fn default_value(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    /// The conventional environment variable.
    pub const fn env(mut self, var: &'static str) -> Self {
        self.env = Some(var);
        self
    }

    /// An example value.
    pub const fn example(mut self, value: &'static str) -> Self {
        self.example = Some(value);
        self
    }

    /// The field's JSON Schema.
    pub fn json_schema(&self) -> Value {
        let mut s = Map::new();
        match self.kind {
            FieldKind::String => {
                s.insert("type".into(), json!("string"));
            }
            FieldKind::Url => {
                s.insert("type".into(), json!("string"));
                s.insert("format".into(), json!("uri"));
                s.insert("pattern".into(), json!("^https?://"));
            }
            FieldKind::Integer { min, max } => {
                s.insert("type".into(), json!("integer"));
                s.insert("minimum".into(), json!(min));
                s.insert("maximum".into(), json!(max));
            }
            FieldKind::Bool => {
                s.insert("type".into(), json!("boolean"));
            }
            FieldKind::StringList => {
                s.insert("type".into(), json!("array"));
                s.insert("items".into(), json!({"type": "string"}));
            }
            FieldKind::Enum { values } => {
                s.insert("type".into(), json!("string"));
                s.insert("enum".into(), json!(values));
            }
            FieldKind::Duration => {
                s.insert("type".into(), json!("string"));
                s.insert(
                    "pattern".into(),
                    json!("^[0-9]+ *[a-z]+( *[0-9]+ *[a-z]+)*$"),
                );
            }
        }
        s.insert("title".into(), json!(self.title()));
        s.insert("description".into(), json!(self.description));
        if self.secret {
            // writeOnly is the standard way to say "never returned"; format password makes
            // form generators render a masked input.
            s.insert("writeOnly".into(), json!(true));
            s.insert("format".into(), json!("password"));
            s.insert("x-secret".into(), json!(true));
        }
        if let Some(default) = self.default {
            s.insert("default".into(), default_as_json(&self.kind, default));
        }
        if let Some(example) = self.example {
            s.insert(
                "examples".into(),
                json!([default_as_json(&self.kind, example)]),
            );
        }
        if let Some(env) = self.env {
            s.insert("x-env".into(), json!(env));
        }
        Value::Object(s)
    }
}

fn default_as_json(kind: &FieldKind, raw: &str) -> Value {
    match kind {
        FieldKind::Integer { .. } => raw.parse::<i64>().map(Value::from).unwrap_or(json!(raw)),
        FieldKind::Bool => raw.parse::<bool>().map(Value::from).unwrap_or(json!(raw)),
        FieldKind::StringList => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| json!(s))
                .collect(),
        ),
        _ => json!(raw),
    }
}

/// Static description of a provider: what it is and what it accepts. Build it with the
/// `const` builders (fields stay public for reading):
///
/// ```
/// use opsdeck_core::{Category, FieldKind, FieldSpec, ProviderDescriptor};
///
/// const FIELDS: &[FieldSpec] = &[FieldSpec::new("token", FieldKind::String, "API token.")
///     .label("API token")
///     .required()
///     .secret()];
/// pub const DESCRIPTOR: ProviderDescriptor =
///     ProviderDescriptor::new("statuspage", "Statuspage", Category::Observability)
///         .description("Component status of an Atlassian Statuspage.")
///         .docs_url("https://developer.statuspage.io/")
///         .fields(FIELDS);
/// assert_eq!(DESCRIPTOR.field("token").map(|f| f.secret), Some(true));
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct ProviderDescriptor {
    /// Stable id, also the Cargo feature name (e.g. `github`).
    pub id: &'static str,
    /// Display name (e.g. `GitHub`).
    pub name: &'static str,
    /// Category.
    pub category: Category,
    /// One sentence on what the provider checks and collects.
    pub description: &'static str,
    /// Link to the provider's docs page.
    pub docs_url: &'static str,
    /// Config fields.
    pub fields: &'static [FieldSpec],
    /// The vendor's public status page, or why there is none to read.
    #[serde(skip)]
    pub status_page: StatusPage,
}

/// A vendor's public status page, as a provider declares it.
///
/// opsdeck reads pages in the Atlassian Statuspage v2 format (`GET <page>/api/v2/summary.json`),
/// which GitHub, Anthropic, Vercel, Datadog, Atlassian and many others serve. The page is read
/// without any of the service's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusPage {
    /// The provider has not said (third-party providers written before status pages existed).
    Undeclared,
    /// A Statuspage v2 page at this base URL (`https://www.githubstatus.com`).
    Statuspage(&'static str),
    /// No feed opsdeck can read is known; the reason, in words.
    NoFeed(&'static str),
}

impl StatusPage {
    /// The page's base URL, when there is one.
    pub fn url(&self) -> Option<&'static str> {
        match self {
            StatusPage::Statuspage(url) => Some(url),
            _ => None,
        }
    }
}

impl ProviderDescriptor {
    /// A provider `id` (lowercase letters, digits, `_`), shown as `name`, in `category`, with
    /// no fields yet.
    pub const fn new(id: &'static str, name: &'static str, category: Category) -> Self {
        ProviderDescriptor {
            id,
            name,
            category,
            description: "",
            docs_url: "",
            fields: &[],
            status_page: StatusPage::Undeclared,
        }
    }

    /// The vendor's public status page in the Atlassian Statuspage v2 format (its base URL;
    /// opsdeck appends `/api/v2/summary.json`).
    pub const fn status_page(mut self, url: &'static str) -> Self {
        self.status_page = StatusPage::Statuspage(url);
        self
    }

    /// The vendor publishes no status feed opsdeck can read; `reason` says why, in words.
    pub const fn no_status_page(mut self, reason: &'static str) -> Self {
        self.status_page = StatusPage::NoFeed(reason);
        self
    }

    /// One sentence on what the provider checks and collects.
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Link to the provider's docs.
    pub const fn docs_url(mut self, url: &'static str) -> Self {
        self.docs_url = url;
        self
    }

    /// The config fields, in the order users see them.
    pub const fn fields(mut self, fields: &'static [FieldSpec]) -> Self {
        self.fields = fields;
        self
    }

    /// Look up a field by name.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Names of the secret fields.
    pub fn secret_fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().filter(|f| f.secret).map(|f| f.name)
    }

    /// JSON Schema (draft 2020-12) of this provider's `config` object.
    pub fn json_schema(&self) -> Value {
        let mut props = Map::new();
        for f in self.fields {
            props.insert(f.name.into(), f.json_schema());
        }
        let required: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": format!("https://opsdeck.dev/schema/providers/{}.json", self.id),
            "title": format!("{} service configuration", self.name),
            "description": self.description,
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// A commented `[services.<id>]` block for the starter config file.
    pub fn starter_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "# {} ({}) — {}\n# Docs: {}\n[services.{}]\nprovider = \"{}\"\n",
            self.name, self.category, self.description, self.docs_url, self.id, self.id
        ));
        for f in self.fields {
            let mut note = String::from(f.description);
            if f.required {
                note.push_str(" Required.");
            }
            if f.secret {
                note.push_str(" Secret: keep it in the environment.");
            }
            if let Some(d) = f.default {
                note.push_str(&format!(" Default: {d}."));
            }
            out.push_str(&format!("# {note}\n"));
            let value = if f.secret || (f.required && f.env.is_some()) {
                let var = f
                    .env
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{}_{}", self.id, f.name).to_uppercase());
                Some(format!("\"${{{var}}}\""))
            } else {
                f.example.or(f.default).map(|v| toml_literal(&f.kind, v))
            };
            match (f.required, value) {
                (true, Some(v)) => out.push_str(&format!("{} = {v}\n", f.name)),
                (true, None) => out.push_str(&format!("{} = \"\"\n", f.name)),
                (false, Some(v)) => out.push_str(&format!("# {} = {v}\n", f.name)),
                (false, None) => {}
            }
        }
        out
    }
}

fn toml_literal(kind: &FieldKind, raw: &str) -> String {
    match kind {
        FieldKind::Integer { .. } | FieldKind::Bool => raw.to_owned(),
        FieldKind::StringList => {
            let items: Vec<String> = raw
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| format!("\"{s}\""))
                .collect();
            format!("[{}]", items.join(", "))
        }
        _ => format!("\"{raw}\""),
    }
}

/// Fields every provider has: `base_url`. Providers list it in their own `fields` with their
/// default, using this constructor so the wording is the same everywhere.
pub const fn base_url_field(default: &'static str, description: &'static str) -> FieldSpec {
    FieldSpec::new("base_url", FieldKind::Url, description)
        .default_value(default)
        .label("Base URL")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[FieldSpec] = &[
        FieldSpec::new("token", FieldKind::String, "API token.")
            .required()
            .secret()
            .env("DEMO_TOKEN")
            .label("API token"),
        base_url_field("https://api.example.com", "API base URL."),
        FieldSpec::new("repos", FieldKind::StringList, "Repositories.").example("a/b, c/d"),
    ];
    const DEMO: ProviderDescriptor = ProviderDescriptor::new("demo", "Demo", Category::Other)
        .description("A demo.")
        .docs_url("https://example.com")
        .fields(FIELDS);

    #[test]
    fn schema_marks_secrets_write_only_and_lists_required() {
        let schema = DEMO.json_schema();
        assert_eq!(schema["properties"]["token"]["writeOnly"], json!(true));
        assert_eq!(schema["required"], json!(["token"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(
            schema["properties"]["base_url"]["default"],
            json!("https://api.example.com")
        );
        assert_eq!(schema["properties"]["token"]["title"], json!("API token"));
        assert_eq!(schema["properties"]["base_url"]["title"], json!("Base URL"));
    }

    #[test]
    fn field_json_has_a_label() {
        let v = serde_json::to_value(FIELDS[0]).unwrap_or_default();
        assert_eq!(
            v,
            json!({"name": "token", "type": "string", "required": true, "secret": true,
                "default": null, "description": "API token.", "env": "DEMO_TOKEN",
                "example": null, "label": "API token"})
        );
    }

    #[test]
    fn starter_uses_env_for_secrets() {
        let block = DEMO.starter_toml();
        assert!(block.contains("token = \"${DEMO_TOKEN}\""), "{block}");
        assert!(block.contains("# repos = [\"a/b\", \"c/d\"]"), "{block}");
        let parsed: Result<toml::Table, _> = block.parse();
        assert!(parsed.is_ok(), "{block}");
    }
}
