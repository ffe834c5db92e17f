//! The provider registry: providers announce themselves with [`register_provider!`] (a thin
//! wrapper over `inventory::submit!`), and [`ServiceFactory`] turns that into a sorted,
//! duplicate-free list and builds services from validated configs. Nothing central lists
//! providers.
//!
//! Linking caveat: a provider crate that nothing names is not linked, and its registration
//! silently vanishes. The facade crate `opsdeck` names every enabled provider for that reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{
    ConfigErrors, ConfigProblem, ConfigValues, SERVICE_KEYS, ServiceSpec, validate,
};
use crate::error::Result;
use crate::http::HttpSettings;
use crate::schema::ProviderDescriptor;
use crate::service::BaseService;

/// Everything a provider needs to build one service instance.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// Service name (for logs).
    pub name: String,
    /// Validated provider config.
    pub config: ConfigValues,
    /// Timeouts and retry settings for the service's HTTP client.
    pub http: HttpSettings,
    /// Wall-clock time for windows and month boundaries (the system clock unless injected).
    pub clock: SharedClock,
}

/// Builds a service from a validated config. May fail only on things validation cannot know
/// without I/O-free construction (e.g. a TLS backend error); never does network I/O.
pub type BuildFn = fn(BuildContext) -> Result<Arc<dyn BaseService>>;

/// One registry entry.
#[derive(Debug)]
pub struct ProviderRegistration {
    /// The provider's descriptor.
    pub descriptor: &'static ProviderDescriptor,
    /// Its constructor.
    pub build: BuildFn,
}

inventory::collect!(ProviderRegistration);

/// Register a provider with the global registry:
///
/// ```ignore
/// opsdeck_core::register_provider!(DESCRIPTOR, GithubService::build);
/// ```
#[macro_export]
macro_rules! register_provider {
    ($descriptor:expr, $build:expr $(,)?) => {
        $crate::inventory::submit! {
            $crate::ProviderRegistration { descriptor: &$descriptor, build: $build }
        }
    };
}

/// A problem with the set of registered providers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two registrations share an id.
    #[error("two providers are registered with the id \"{0}\"; provider ids must be unique")]
    DuplicateId(&'static str),
    /// A provider declares a field that opsdeck reserves.
    #[error(
        "provider \"{provider}\" declares the field \"{field}\", which opsdeck reserves for every service"
    )]
    ReservedField {
        /// Provider id.
        provider: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// A provider id that is not a lowercase identifier.
    #[error(
        "provider id \"{0}\" must be lowercase letters, digits and '_' ('-' is not allowed: ids prefix metric names)"
    )]
    BadId(&'static str),
}

/// Error from [`ServiceFactory::build`].
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The config is invalid (every problem listed).
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The provider's constructor failed.
    #[error("service \"{service}\": {source}")]
    Provider {
        /// Service name.
        service: String,
        /// The error.
        #[source]
        source: crate::Error,
    },
}

/// Lists providers (sorted by id) and builds services from specs.
#[derive(Debug, Clone)]
pub struct ServiceFactory {
    providers: BTreeMap<&'static str, &'static ProviderRegistration>,
    http: HttpSettings,
    clock: SharedClock,
}

impl ServiceFactory {
    /// A factory over every provider linked into the program.
    pub fn from_registry() -> std::result::Result<Self, RegistryError> {
        Self::from_registrations(inventory::iter::<ProviderRegistration>)
    }

    /// A factory over the given registrations (tests, or library users who register by hand).
    pub fn from_registrations(
        regs: impl IntoIterator<Item = &'static ProviderRegistration>,
    ) -> std::result::Result<Self, RegistryError> {
        let mut providers = BTreeMap::new();
        for reg in regs {
            let d = reg.descriptor;
            let id_ok = !d.id.is_empty()
                && d.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !id_ok {
                return Err(RegistryError::BadId(d.id));
            }
            if let Some(f) = d.fields.iter().find(|f| SERVICE_KEYS.contains(&f.name)) {
                return Err(RegistryError::ReservedField {
                    provider: d.id,
                    field: f.name,
                });
            }
            if providers.insert(d.id, reg).is_some() {
                return Err(RegistryError::DuplicateId(d.id));
            }
        }
        Ok(ServiceFactory {
            providers,
            http: HttpSettings::default(),
            clock: crate::clock::system(),
        })
    }

    /// Use these HTTP settings for every service built from now on.
    pub fn with_http_settings(mut self, http: HttpSettings) -> Self {
        self.http = http;
        self
    }

    /// Use this clock for every service built from now on (tests put it on a month boundary).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock services are built with.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The HTTP settings services are built with.
    pub fn http_settings(&self) -> &HttpSettings {
        &self.http
    }

    /// Registered providers, sorted by id.
    pub fn providers(&self) -> impl Iterator<Item = &'static ProviderDescriptor> + '_ {
        self.providers.values().map(|r| r.descriptor)
    }

    /// Registered ids, sorted.
    pub fn ids(&self) -> Vec<&'static str> {
        self.providers.keys().copied().collect()
    }

    /// One provider's descriptor.
    pub fn descriptor(&self, id: &str) -> Option<&'static ProviderDescriptor> {
        self.providers.get(id).map(|r| r.descriptor)
    }

    fn unknown_provider(&self, spec: &ServiceSpec) -> ConfigProblem {
        let known = self.ids();
        let accepted = if known.is_empty() {
            "none: this build has no provider compiled in (enable Cargo features such as \"github\")".to_owned()
        } else {
            known.join(", ")
        };
        ConfigProblem::field(
            &spec.name,
            "provider",
            format!(
                "unknown provider \"{}\"; known providers: {accepted}",
                spec.provider
            ),
        )
    }

    /// Validate one spec against its provider's fields. No I/O.
    pub fn validate(&self, spec: &ServiceSpec) -> std::result::Result<ConfigValues, ConfigErrors> {
        let Some(reg) = self.providers.get(spec.provider.as_str()) else {
            return Err(self.unknown_provider(spec).into());
        };
        validate(&spec.name, reg.descriptor, &spec.config)
    }

    /// Validate many specs, collecting every problem of every spec (and duplicate names).
    pub fn validate_all(&self, specs: &[ServiceSpec]) -> std::result::Result<(), ConfigErrors> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for spec in specs {
            if !seen.insert(spec.name.as_str()) {
                problems.push(ConfigProblem::service(
                    &spec.name,
                    "declared more than once",
                ));
            }
            if let Err(mut e) = self.validate(spec) {
                problems.append(&mut e.problems);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors { problems })
        }
    }

    /// Parse, interpolate and validate a whole `opsdeck.toml`, reporting every problem of every
    /// stage at once (file structure, missing `${VAR}`s, provider fields, duplicate names).
    pub fn load_config(
        &self,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> std::result::Result<Vec<ServiceSpec>, ConfigErrors> {
        let parsed = crate::config::parse_config_partial(text, env);
        let mut problems = parsed.problems;
        for spec in &parsed.specs {
            if let Err(e) = self.validate(spec) {
                problems.extend(e.problems.into_iter().filter(|p| {
                    // A field whose value could not be read is already reported; do not also
                    // call it missing.
                    !(p.message.starts_with("missing required field")
                        && parsed.unreadable.iter().any(|(s, f)| {
                            Some(s) == p.service.as_ref() && Some(f) == p.field.as_ref()
                        }))
                }));
            }
        }
        if problems.is_empty() {
            self.validate_all(&parsed.specs)?;
            Ok(parsed.specs)
        } else {
            Err(ConfigErrors { problems })
        }
    }

    /// Validate and build one service. No network I/O.
    pub fn build(
        &self,
        spec: &ServiceSpec,
    ) -> std::result::Result<Arc<dyn BaseService>, BuildError> {
        let config = self.validate(spec)?;
        let Some(reg) = self.providers.get(spec.provider.as_str()) else {
            return Err(ConfigErrors::from(self.unknown_provider(spec)).into());
        };
        (reg.build)(BuildContext {
            name: spec.name.clone(),
            config,
            http: self.http.clone(),
            clock: self.clock.clone(),
        })
        .map_err(|source| BuildError::Provider {
            service: spec.name.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Category, FieldKind, FieldSpec};

    const FIELDS: &[FieldSpec] = &[
        FieldSpec::new("token", FieldKind::String, "Token.")
            .required()
            .secret(),
        FieldSpec::new("org", FieldKind::String, "Org."),
    ];
    const A: ProviderDescriptor = ProviderDescriptor {
        id: "alpha",
        name: "Alpha",
        category: Category::Other,
        description: "",
        docs_url: "",
        fields: FIELDS,
    };
    const B: ProviderDescriptor = ProviderDescriptor { id: "beta", ..A };
    const BAD: ProviderDescriptor = ProviderDescriptor { id: "bad-id", ..A };

    fn never(_: BuildContext) -> Result<Arc<dyn BaseService>> {
        Err(crate::Error::invalid_config(
            "test provider cannot be built",
        ))
    }

    static REG_A: ProviderRegistration = ProviderRegistration {
        descriptor: &A,
        build: never,
    };
    static REG_A2: ProviderRegistration = ProviderRegistration {
        descriptor: &A,
        build: never,
    };
    static REG_B: ProviderRegistration = ProviderRegistration {
        descriptor: &B,
        build: never,
    };
    static REG_BAD: ProviderRegistration = ProviderRegistration {
        descriptor: &BAD,
        build: never,
    };

    #[test]
    fn providers_are_sorted_and_duplicates_refused() {
        let f =
            ServiceFactory::from_registrations([&REG_B, &REG_A]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.ids(), ["alpha", "beta"]);
        assert_eq!(
            ServiceFactory::from_registrations([&REG_A, &REG_A2]).err(),
            Some(RegistryError::DuplicateId("alpha"))
        );
        assert_eq!(
            ServiceFactory::from_registrations([&REG_BAD]).err(),
            Some(RegistryError::BadId("bad-id"))
        );
    }

    #[test]
    fn load_config_reports_every_stage_at_once() {
        let f =
            ServiceFactory::from_registrations([&REG_A, &REG_B]).unwrap_or_else(|e| panic!("{e}"));
        let text = r#"
            [services.one]
            provider = "alpha"
            token = "${MISSING}"
            orgg = "x"

            [services.two]
            provider = "gamma"

            [services.three]
            provider = "beta"
        "#;
        let Err(errs) = f.load_config(text, &|_| None) else {
            panic!("expected errors")
        };
        let got: Vec<String> = errs.problems.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got[0].starts_with("services.one.token: environment variable MISSING"));
        assert!(
            got.iter()
                .any(|p| p.starts_with("services.one.orgg: unknown field")
                    && p.contains("did you mean \"org\""))
        );
        assert!(got.iter().any(|p| p.starts_with(
            "services.two.provider: unknown provider \"gamma\"; known providers: alpha, beta"
        )));
        assert!(
            got.iter()
                .any(|p| p.starts_with("services.three.token: missing required field"))
        );
        assert!(
            !got.iter()
                .any(|p| p.starts_with("services.one.token: missing"))
        );
    }
}
