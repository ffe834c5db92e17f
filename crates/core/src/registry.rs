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
    ConfigErrors, ConfigLoader, ConfigProblem, ConfigValues, ProblemCode, SERVICE_KEYS,
    ServiceSpec, is_provider_id, suggest, validate_fields, validate_service_keys,
};
use crate::error::Result;
use crate::http::HttpSettings;
use crate::schema::ProviderDescriptor;
use crate::service::BaseService;

/// Ids of opsdeck's own providers. Each is a Cargo feature of the `opsdeck-sdk` facade and of
/// both binaries, so a config naming one that this build lacks can say which feature enables it.
pub const FIRST_PARTY_PROVIDERS: &[&str] = &[
    "aws",
    "azure_openai",
    "claude",
    "datadog",
    "gemini",
    "github",
    "jira",
    "openai",
    "railway",
    "stripe",
    "vercel",
];

/// Everything a provider needs to build one service instance.
#[derive(Debug, Clone)]
#[non_exhaustive]
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

/// Register a provider with the global registry. The crate that calls it must be linked into
/// the program (named by something), or the registration silently vanishes.
///
/// ```
/// use std::sync::Arc;
/// use opsdeck_core::{BaseService, BuildContext, Category, ProviderDescriptor, Result};
///
/// pub const DESCRIPTOR: ProviderDescriptor =
///     ProviderDescriptor::new("example", "Example", Category::Other);
///
/// fn build(_ctx: BuildContext) -> Result<Arc<dyn BaseService>> {
///     Err(opsdeck_core::Error::invalid_config("this example builds nothing"))
/// }
///
/// opsdeck_core::register_provider!(DESCRIPTOR, build);
///
/// let factory = opsdeck_core::ServiceFactory::from_registry()?;
/// assert!(factory.descriptor("example").is_some());
/// # Ok::<(), opsdeck_core::registry::RegistryError>(())
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
#[non_exhaustive]
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

/// Error from [`ServiceFactory::build`]. Closed on purpose: a service either fails
/// validation or its provider refuses to build it.
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
            if !is_provider_id(d.id) {
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
        let id = spec.provider.as_str();
        if FIRST_PARTY_PROVIDERS.contains(&id) {
            return ConfigProblem::field(
                &spec.name,
                "provider",
                format!(
                    "provider \"{id}\" is not compiled into this build; enable the Cargo feature \"{id}\" (library: features = [\"{id}\"] on opsdeck-sdk; binaries: --features {id})"
                ),
            )
            .with_code(ProblemCode::ProviderNotCompiled);
        }
        let known = self.ids();
        let accepted = if known.is_empty() {
            "none: this build has no provider compiled in (enable Cargo features such as \"github\")".to_owned()
        } else {
            known.join(", ")
        };
        let mut msg = format!("unknown provider \"{id}\"; known providers: {accepted}");
        if let Some(s) = suggest(
            id,
            known
                .iter()
                .copied()
                .chain(FIRST_PARTY_PROVIDERS.iter().copied()),
        ) {
            msg.push_str(&format!(" (did you mean \"{s}\"?)"));
        }
        ConfigProblem::field(&spec.name, "provider", msg).with_code(ProblemCode::UnknownProvider)
    }

    /// Validate one spec — its service keys ([`validate_service_keys`]), its provider and the
    /// provider's fields — every problem at once. No I/O. A disabled service may lack required
    /// fields (it will not run); everything else is checked as for an enabled one.
    pub fn validate(&self, spec: &ServiceSpec) -> std::result::Result<ConfigValues, ConfigErrors> {
        let mut problems = validate_service_keys(spec);
        let reg = self.providers.get(spec.provider.as_str());
        if reg.is_none() && problems.iter().all(|p| !p.is_at(&spec.name, "provider")) {
            problems.push(self.unknown_provider(spec));
        }
        let Some(reg) = reg else {
            return Err(ConfigErrors { problems });
        };
        let (values, field_problems) = validate_fields(&spec.name, reg.descriptor, &spec.config);
        problems.extend(
            field_problems
                .into_iter()
                .filter(|p| spec.enabled || p.code != ProblemCode::MissingField),
        );
        ConfigErrors::check(problems, values)
    }

    /// Validate many specs, collecting every problem of every spec (and duplicate names).
    pub fn validate_all(&self, specs: &[ServiceSpec]) -> std::result::Result<(), ConfigErrors> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for spec in specs {
            if !seen.insert(spec.name.as_str()) {
                problems.push(
                    ConfigProblem::service(&spec.name, "declared more than once")
                        .with_code(ProblemCode::DuplicateName),
                );
            }
            if let Err(mut e) = self.validate(spec) {
                problems.append(&mut e.problems);
            }
        }
        ConfigErrors::check(problems, ())
    }

    /// A loader for `opsdeck.toml` over this factory's providers: see [`ConfigLoader`].
    pub fn loader(&self) -> ConfigLoader<'_> {
        ConfigLoader::new(self)
    }

    /// Parse, interpolate and validate a whole `opsdeck.toml`, reporting every problem of every
    /// stage at once. Top-level tables other than `[services]` are accepted and dropped; use
    /// [`loader`](Self::loader) to receive them or to load a subset.
    pub fn load_config(
        &self,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> std::result::Result<Vec<ServiceSpec>, ConfigErrors> {
        self.loader().env(env).load(text).map(|l| l.services)
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
        if !spec.enabled
            && reg
                .descriptor
                .fields
                .iter()
                .any(|f| f.required && config.get(f.name).is_none())
        {
            return Err(ConfigErrors::from(
                ConfigProblem::service(
                    &spec.name,
                    "is disabled and lacks required fields, so it cannot be built",
                )
                .with_code(ProblemCode::MissingField),
            )
            .into());
        }
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
    const A: ProviderDescriptor =
        ProviderDescriptor::new("alpha", "Alpha", Category::Other).fields(FIELDS);
    const B: ProviderDescriptor =
        ProviderDescriptor::new("beta", "Beta", Category::Other).fields(FIELDS);
    const BAD: ProviderDescriptor = ProviderDescriptor::new("bad-id", "Bad", Category::Other);

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

    fn factory() -> ServiceFactory {
        ServiceFactory::from_registrations([&REG_A, &REG_B]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn env(k: &str) -> Option<String> {
        (k == "SET").then(|| "value".to_owned())
    }

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
        let text = r#"
            [services.one]
            provider = "alpha"
            token = "${MISSING}"
            orgg = "x"

            [services.two]
            provider = "gamma"

            [services.three]
            provider = "beta"

            [services."bad name"]
            provider = 5
            tags = ["x", ""]
            interval = "1s"
        "#;
        let Err(errs) = factory().load_config(text, &env) else {
            panic!("expected errors")
        };
        let got: Vec<(String, ProblemCode)> = errs
            .problems
            .iter()
            .map(|p| (p.to_string(), p.code))
            .collect();
        let has = |prefix: &str, code: ProblemCode| {
            got.iter().any(|(p, c)| p.starts_with(prefix) && *c == code)
        };
        assert!(
            has(
                "services.one.token: environment variable MISSING",
                ProblemCode::MissingEnv
            ),
            "{got:#?}"
        );
        assert!(has(
            "services.one.orgg: unknown field",
            ProblemCode::UnknownField
        ));
        assert!(has(
            "services.two.provider: unknown provider \"gamma\"; known providers: alpha, beta",
            ProblemCode::UnknownProvider
        ));
        assert!(has(
            "services.three.token: missing required field",
            ProblemCode::MissingField
        ));
        assert!(has(
            "services.bad name: invalid service name",
            ProblemCode::InvalidName
        ));
        assert!(has(
            "services.bad name.provider: expected a provider id",
            ProblemCode::WrongType
        ));
        assert!(has(
            "services.bad name.tags: tag 2 is empty",
            ProblemCode::InvalidValue
        ));
        assert!(has(
            "services.bad name.interval: the interval must be",
            ProblemCode::OutOfRange
        ));
        // No echo: an unreadable token is not also "missing"; a wrong-typed provider is not
        // also "unknown".
        assert_eq!(got.len(), 8, "{got:#?}");
    }

    #[test]
    fn disabled_services_need_no_variables_and_no_required_fields() {
        let text = r#"
            [services.off]
            provider = "alpha"
            enabled = false
            token = "${MISSING}"
            org = "${ALSO_MISSING}"

            [services.off-typo]
            provider = "alpha"
            enabled = false
            orgg = "x"
        "#;
        let Err(errs) = factory().loader().env(env).load(text) else {
            panic!("a typo in a disabled service is still a problem")
        };
        assert_eq!(errs.problems.len(), 1, "{errs}");
        assert_eq!(errs.problems[0].code, ProblemCode::UnknownField);
        let text = text.replace("orgg", "org");
        let loaded = factory()
            .loader()
            .env(env)
            .load(&text)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.services.len(), 2);
        assert!(
            loaded.services[0].config.0.is_empty(),
            "unset variables are left out"
        );
        let Err(BuildError::Config(e)) = factory().build(&loaded.services[0]) else {
            panic!("a disabled service without its token cannot be built")
        };
        assert_eq!(e.problems[0].code, ProblemCode::MissingField);
    }

    #[test]
    fn a_subset_is_validated_alone_and_unknown_names_are_named() {
        let text = r#"
            [services.good]
            provider = "alpha"
            token = "${SET}"

            [services.broken]
            provider = "alpha"
            token = "${MISSING}"

            [channels.ops]
            kind = "slack"
        "#;
        let loaded = factory()
            .loader()
            .env(env)
            .only(["good"])
            .load(text)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.services.len(), 1);
        assert_eq!(loaded.services[0].name, "good");
        assert_eq!(loaded.tables["channels"]["ops"]["kind"], "slack");

        let Err(errs) = factory()
            .loader()
            .env(env)
            .only(["god", "broken"])
            .load(text)
        else {
            panic!("expected errors")
        };
        let codes: Vec<_> = errs.problems.iter().map(|p| p.code).collect();
        assert_eq!(
            codes,
            [ProblemCode::UnknownService, ProblemCode::MissingEnv],
            "{errs}"
        );
        assert!(
            errs.problems[0].message.contains("did you mean \"good\""),
            "{errs}"
        );
    }

    #[test]
    fn a_first_party_provider_left_out_names_its_feature() {
        let spec = ServiceSpec::new("pay", "stripe", crate::RawConfig::default());
        let Err(e) = factory().validate(&spec) else {
            panic!("stripe is not registered here")
        };
        assert_eq!(e.problems[0].code, ProblemCode::ProviderNotCompiled);
        assert!(
            e.problems[0]
                .message
                .contains("enable the Cargo feature \"stripe\""),
            "{e}"
        );
        let spec = ServiceSpec::new("x", "alpah", crate::RawConfig::default());
        let Err(e) = factory().validate(&spec) else {
            panic!("unknown")
        };
        assert!(
            e.problems[0].message.contains("did you mean \"alpha\""),
            "{e}"
        );
    }
}
