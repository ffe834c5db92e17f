//! [`ServiceSpec`]: one service as declared — name, provider, raw config, tags, enabled,
//! interval — and the two ways to make one in code: [`ServiceSpec::builder`] over a typed
//! provider config (validated like the file parser validates), or [`ServiceSpec::new`] over a
//! raw config (validated later by [`crate::ServiceFactory::validate`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::problem::{ConfigErrors, ConfigProblem, ProblemCode};
use super::validate::{validate, validate_service_keys};
use super::values::{ConfigValues, RawConfig};
use crate::schema::ProviderDescriptor;

/// A service as declared by the user: its name, provider and raw config.
///
/// Read and change the fields freely; build one with [`ServiceSpec::new`] (raw) or
/// [`ServiceSpec::builder`] (typed, validated).
///
/// ```
/// use opsdeck_core::{RawConfig, ServiceSpec};
///
/// let mut spec = ServiceSpec::new("gh-main", "github", RawConfig::new().with("token", "ghp_x"));
/// spec.tags.push("platform".into());
/// assert!(spec.enabled);
/// assert_eq!(format!("{:?}", spec.config), "{\"token\"}"); // values never printed
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceSpec {
    /// Unique service name (the `[services.NAME]` key).
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// Provider fields, unvalidated.
    pub config: RawConfig,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Whether the service is tested and collected.
    pub enabled: bool,
    /// How often the server checks it (`interval = "10m"`); `None` = the server's default.
    /// The CLI, which checks on demand, ignores it.
    pub interval: Option<Duration>,
}

impl ServiceSpec {
    /// An enabled service without tags or interval, from a raw config. Nothing is checked
    /// here: validate it with [`crate::ServiceFactory::validate`] (or let
    /// [`crate::ServiceFactory::build`] do it).
    pub fn new(name: impl Into<String>, provider: impl Into<String>, config: RawConfig) -> Self {
        ServiceSpec {
            name: name.into(),
            provider: provider.into(),
            config,
            tags: Vec::new(),
            enabled: true,
            interval: None,
        }
    }

    /// A builder for a service named `name` over a typed provider config (e.g.
    /// `GithubConfig::builder().token(…)`); its [`build`](ServiceSpecBuilder::build) checks
    /// everything the file parser checks, every problem at once.
    ///
    /// ```
    /// use opsdeck_core::config::{ConfigBuilder, ServiceSpec};
    /// use opsdeck_core::{Category, FieldKind, FieldSpec, ProviderDescriptor};
    ///
    /// static FIELDS: &[FieldSpec] =
    ///     &[FieldSpec::new("token", FieldKind::String, "API token.").required().secret()];
    /// static DEMO: ProviderDescriptor =
    ///     ProviderDescriptor::new("demo", "Demo", Category::Other).fields(FIELDS);
    ///
    /// let spec = ServiceSpec::builder("demo-1", ConfigBuilder::new(&DEMO).secret("token", "t0k"))
    ///     .tags(["team-a"])
    ///     .interval(std::time::Duration::from_secs(300))
    ///     .build()?;
    /// assert_eq!(spec.provider, "demo");
    ///
    /// // The same rules as in opsdeck.toml, all problems at once:
    /// let err = ServiceSpec::builder("bad name", ConfigBuilder::new(&DEMO)).build().unwrap_err();
    /// assert_eq!(err.problems.len(), 2); // the name, and the missing token
    /// # Ok::<(), opsdeck_core::ConfigErrors>(())
    /// ```
    pub fn builder(name: impl Into<String>, config: impl ProviderConfig) -> ServiceSpecBuilder {
        let descriptor = config.descriptor();
        ServiceSpecBuilder {
            spec: ServiceSpec::new(name, descriptor.id, config.into_raw()),
            descriptor,
        }
    }
}

/// Builds a validated [`ServiceSpec`] from a typed provider config; see
/// [`ServiceSpec::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ServiceSpecBuilder {
    spec: ServiceSpec,
    descriptor: &'static ProviderDescriptor,
}

impl ServiceSpecBuilder {
    /// Add one tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.spec.tags.push(tag.into());
        self
    }

    /// Add tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Enable or disable the service (default: enabled). A disabled service is kept but never
    /// tested or collected, and its required fields may be missing.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.spec.enabled = enabled;
        self
    }

    /// The server's check interval for this service (10 s to 7 days).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.spec.interval = Some(interval);
        self
    }

    /// Check the name, tags, interval and every provider field; every problem at once.
    pub fn build(self) -> Result<ServiceSpec, ConfigErrors> {
        let mut problems = validate_service_keys(&self.spec);
        if let Err(e) = validate(&self.spec.name, self.descriptor, &self.spec.config) {
            problems.extend(
                e.problems
                    .into_iter()
                    .filter(|p| self.spec.enabled || p.code != ProblemCode::MissingField),
            );
        }
        ConfigErrors::check(problems, self.spec)
    }
}

/// A provider config written in code. Each provider's `…Config::builder()` returns one, and
/// [`ConfigBuilder`] is the untyped form any provider (including your own) can use.
pub trait ProviderConfig {
    /// The provider the config is for.
    fn descriptor(&self) -> &'static ProviderDescriptor;
    /// The fields under their config-file names, secrets in plain text (the form a config file
    /// has after `${VAR}` interpolation).
    fn into_raw(self) -> RawConfig;
}

/// A provider config assembled field by field, by name. Provider crates wrap it in typed
/// builders; it works for any provider as is. `Debug` shows the field names only.
#[derive(Clone)]
#[must_use]
pub struct ConfigBuilder {
    descriptor: &'static ProviderDescriptor,
    raw: RawConfig,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("provider", &self.descriptor.id)
            .field("fields", &self.raw)
            .finish()
    }
}

impl ConfigBuilder {
    /// An empty config for `descriptor`'s provider.
    pub fn new(descriptor: &'static ProviderDescriptor) -> Self {
        ConfigBuilder {
            descriptor,
            raw: RawConfig::default(),
        }
    }

    /// Set `field` to `value` (a string, number, bool or list, as in the config file).
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.raw.0.insert(field.to_owned(), value.into());
        self
    }

    /// Set a list field.
    pub fn set_list<I, S>(self, field: &str, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let items: Vec<Value> = items.into_iter().map(|s| Value::String(s.into())).collect();
        self.set(field, Value::Array(items))
    }

    /// Set a secret field.
    pub fn secret(self, field: &str, value: impl Into<SecretString>) -> Self {
        let value: SecretString = value.into();
        let plain = value.expose_secret().to_owned();
        self.set(field, plain)
    }

    /// Validate the fields alone (no service name rules); `service` names them in messages.
    pub fn validate(&self, service: &str) -> Result<ConfigValues, ConfigErrors> {
        validate(service, self.descriptor, &self.raw)
    }

    /// Validate and turn the values into a provider's typed config with `from_values`; a
    /// refusal from `from_values` becomes a [`ProblemCode::Rejected`] problem.
    pub fn build_with<T>(
        &self,
        from_values: impl FnOnce(&ConfigValues) -> crate::Result<T>,
    ) -> Result<T, ConfigErrors> {
        let service = self.descriptor.id;
        let values = self.validate(service)?;
        from_values(&values).map_err(|e| {
            ConfigProblem::service(service, e.message())
                .with_code(ProblemCode::Rejected)
                .into()
        })
    }
}

impl ProviderConfig for ConfigBuilder {
    fn descriptor(&self) -> &'static ProviderDescriptor {
        self.descriptor
    }

    fn into_raw(self) -> RawConfig {
        self.raw
    }
}

/// A service config split for storage: secret fields apart, so they can be encrypted.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SplitConfig {
    /// Non-secret fields, as given.
    pub plain: Map<String, Value>,
    /// Secret fields.
    pub secrets: BTreeMap<String, SecretString>,
}

/// Split `config` into plain and secret fields by `descriptor`'s declaration. Nulls are dropped
/// (they mean "unset"). A secret field never lands in `plain`: a non-string value of a secret
/// field (which validation refuses anyway) is kept as its JSON text among the secrets.
///
/// ```
/// use opsdeck_core::config::split_secrets;
/// use opsdeck_core::{Category, FieldKind, FieldSpec, ProviderDescriptor, RawConfig};
///
/// static FIELDS: &[FieldSpec] = &[
///     FieldSpec::new("token", FieldKind::String, "Token.").secret(),
///     FieldSpec::new("org", FieldKind::String, "Org."),
/// ];
/// static D: ProviderDescriptor = ProviderDescriptor::new("demo", "Demo", Category::Other).fields(FIELDS);
/// let split = split_secrets(&D, RawConfig::new().with("token", "t").with("org", "acme"));
/// assert_eq!(split.plain.len(), 1);
/// assert!(split.secrets.contains_key("token"));
/// ```
pub fn split_secrets(descriptor: &ProviderDescriptor, config: RawConfig) -> SplitConfig {
    let mut out = SplitConfig::default();
    for (k, v) in config.0 {
        if v.is_null() {
            continue;
        }
        if descriptor.field(&k).is_some_and(|f| f.secret) {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.secrets.insert(k, SecretString::from(text));
        } else {
            out.plain.insert(k, v);
        }
    }
    out
}
