//! The `opsdeck.toml` loader: TOML → service specs (with `${VAR}` interpolation) plus the
//! top-level tables that are not `[services]`, handed to the caller. [`ConfigLoader`] runs the
//! whole pipeline — file structure, variables, service keys, provider fields — and reports
//! every problem of every stage at once.
//!
//! Two rules the CLI relies on: a service with `enabled = false` is not checked for `${VAR}`s
//! or required fields (it will not run, so what it would need to run may be absent), and
//! [`ConfigLoader::only`] validates only the named services (the others are not read beyond
//! the TOML syntax).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::interpolate::interpolate_value;
use super::problem::{ConfigErrors, ConfigProblem, ProblemCode};
use super::spec::ServiceSpec;
use super::validate::{suggest, type_name, validate_service_keys};
use super::values::RawConfig;
use crate::registry::ServiceFactory;

/// One `[services.NAME]` table as far as it could be read.
#[derive(Debug)]
pub(crate) struct ParsedService {
    pub spec: ServiceSpec,
    pub problems: Vec<ConfigProblem>,
    /// Fields whose value could not be read (a missing `${VAR}`, a wrong type): later checks
    /// must not also call them "missing".
    pub unreadable: BTreeSet<String>,
}

/// A parsed file: the services (possibly with problems) and everything else.
#[derive(Debug, Default)]
pub(crate) struct ParsedFile {
    pub services: Vec<ParsedService>,
    pub tables: BTreeMap<String, Value>,
    pub problems: Vec<ConfigProblem>,
    /// Every `[services.NAME]` key, selected or not.
    pub declared: BTreeSet<String>,
}

/// Parse an `opsdeck.toml` document. `only` restricts which services are read.
pub(crate) fn parse_file(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    only: Option<&BTreeSet<String>>,
) -> ParsedFile {
    let mut out = ParsedFile::default();
    let doc: toml::Table = match text.parse() {
        Ok(d) => d,
        Err(e) => {
            let e: toml::de::Error = e;
            out.problems.push(
                ConfigProblem::file(format!("not valid TOML: {e}")).with_code(ProblemCode::Syntax),
            );
            return out;
        }
    };
    for (key, value) in doc {
        if key != "services" {
            // Other tables ([channels], [alerts], [features], …) belong to whoever reads the
            // file: the server validates the ones it knows, the CLI names the ones it ignores.
            match serde_json::to_value(&value) {
                Ok(v) => {
                    out.tables.insert(key, v);
                }
                Err(e) => out.problems.push(ConfigProblem::file(format!(
                    "top-level key \"{key}\" could not be read: {e}"
                ))),
            }
            continue;
        }
        let Some(services) = value.as_table() else {
            out.problems.push(
                ConfigProblem::file("\"services\" must be a table of [services.NAME] tables")
                    .with_code(ProblemCode::WrongType),
            );
            continue;
        };
        out.declared.extend(services.keys().cloned());
        for (name, table) in services {
            if only.is_some_and(|names| !names.contains(name)) {
                continue;
            }
            let Some(table) = table.as_table() else {
                out.services.push(ParsedService {
                    spec: ServiceSpec::new(name, "", RawConfig::default()),
                    problems: vec![
                        ConfigProblem::service(
                            name,
                            "must be a table ([services.NAME] followed by key = value lines)",
                        )
                        .with_code(ProblemCode::WrongType),
                    ],
                    unreadable: ["provider".to_owned()].into(),
                });
                continue;
            };
            match serde_json::to_value(table) {
                Ok(Value::Object(map)) => out.services.push(parse_service(name, map, env)),
                _ => out.problems.push(
                    ConfigProblem::service(name, "could not be read as a table")
                        .with_code(ProblemCode::WrongType),
                ),
            }
        }
    }
    out
}

/// Read one service table in the config-file layout (`provider`, `tags`, `enabled`,
/// `interval` and the provider fields side by side), interpolating `${VAR}`s.
pub(crate) fn parse_service(
    name: &str,
    map: Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> ParsedService {
    let mut problems = Vec::new();
    let mut unreadable = BTreeSet::new();
    let mut spec = ServiceSpec::new(name, "", RawConfig::default());
    // Read first: a disabled service's missing variables are not problems.
    match map.get("enabled") {
        None => {}
        Some(Value::Bool(b)) => spec.enabled = *b,
        Some(other) => {
            problems.push(
                ConfigProblem::field(
                    name,
                    "enabled",
                    format!("expected true or false, got {}", type_name(other)),
                )
                .with_code(ProblemCode::WrongType),
            );
        }
    }

    for (key, value) in map {
        if key == "enabled" {
            continue;
        }
        let value = match interpolate_value(value, env) {
            Ok(v) => v,
            Err(missing) => {
                if spec.enabled {
                    for var in missing {
                        problems.push(
                            ConfigProblem::field(
                                name,
                                &key,
                                format!(
                                    "environment variable {var} is not set (referenced as ${{{var}}})"
                                ),
                            )
                            .with_code(ProblemCode::MissingEnv),
                        );
                    }
                }
                unreadable.insert(key);
                continue;
            }
        };
        match key.as_str() {
            "provider" => match value {
                Value::String(s) => spec.provider = s,
                other => {
                    problems.push(
                        ConfigProblem::field(
                            name,
                            "provider",
                            format!("expected a provider id string, got {}", type_name(&other)),
                        )
                        .with_code(ProblemCode::WrongType),
                    );
                    unreadable.insert(key);
                }
            },
            "tags" => match value {
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    spec.tags = items
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect();
                }
                other => {
                    problems.push(
                        ConfigProblem::field(
                            name,
                            "tags",
                            format!("expected a list of strings, got {}", type_name(&other)),
                        )
                        .with_code(ProblemCode::WrongType),
                    );
                    unreadable.insert(key);
                }
            },
            "interval" => match parse_interval(&value) {
                Some(d) => spec.interval = Some(d),
                None => {
                    problems.push(
                        ConfigProblem::field(
                            name,
                            "interval",
                            format!(
                                "expected a duration such as \"90s\", \"5m\" or \"1h\", or a number of seconds, got {}",
                                type_name(&value)
                            ),
                        )
                        .with_code(ProblemCode::WrongType),
                    );
                    unreadable.insert(key);
                }
            },
            _ => {
                spec.config.0.insert(key, value);
            }
        }
    }
    ParsedService {
        spec,
        problems,
        unreadable,
    }
}

fn parse_interval(value: &Value) -> Option<Duration> {
    match value {
        Value::String(s) => humantime::parse_duration(s.trim()).ok(),
        Value::Number(n) => n.as_u64().map(Duration::from_secs),
        _ => None,
    }
}

/// Build a spec from a JSON/TOML object in the config-file layout (`provider`, `tags`,
/// `enabled`, `interval` and the provider fields side by side), interpolating `${VAR}` in
/// strings, and check its service keys ([`validate_service_keys`]). Provider fields are checked
/// by [`ServiceFactory::validate`].
pub fn spec_from_map(
    name: &str,
    map: Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServiceSpec, ConfigErrors> {
    let parsed = parse_service(name, map, env);
    let mut problems = parsed.problems;
    problems.extend(
        validate_service_keys(&parsed.spec)
            .into_iter()
            .filter(|p| !is_echo(p, &parsed.unreadable)),
    );
    ConfigErrors::check(problems, parsed.spec)
}

/// A "missing" problem about a field already reported as unreadable.
fn is_echo(p: &ConfigProblem, unreadable: &BTreeSet<String>) -> bool {
    matches!(
        p.code,
        ProblemCode::MissingField | ProblemCode::UnknownProvider
    ) && p.field.as_ref().is_some_and(|f| unreadable.contains(f))
}

/// Where `${VAR}` values come from.
type EnvFn<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// What [`ConfigLoader::load`] returns.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadedConfig {
    /// The services, validated, in file order (only the selected ones with
    /// [`ConfigLoader::only`]). Disabled services are included; fields of theirs whose
    /// `${VAR}` is not set are left out of their config.
    pub services: Vec<ServiceSpec>,
    /// Every top-level key other than `services` (`[channels]`, `[alerts]`, `[features]`, …),
    /// unvalidated: the caller decides what it reads and what it warns about.
    pub tables: BTreeMap<String, Value>,
}

/// Loads `opsdeck.toml`: parse, interpolate and validate, every problem of every stage at once.
/// Get one with [`ServiceFactory::loader`].
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let factory = opsdeck_core::ServiceFactory::from_registry()?; // no provider linked here
/// let text = r#"
///     [features]
///     alerts = false
/// "#;
/// let loaded = factory.loader().env(|_| None).load(text)?;
/// assert!(loaded.services.is_empty());
/// assert!(loaded.tables.contains_key("features"));
/// # Ok(()) }
/// ```
pub struct ConfigLoader<'a> {
    factory: &'a ServiceFactory,
    env: EnvFn<'a>,
    only: Option<BTreeSet<String>>,
}

impl fmt::Debug for ConfigLoader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLoader")
            .field("only", &self.only)
            .finish_non_exhaustive()
    }
}

impl<'a> ConfigLoader<'a> {
    /// A loader validating against `factory`'s providers, reading `${VAR}`s from the process
    /// environment.
    pub fn new(factory: &'a ServiceFactory) -> Self {
        ConfigLoader {
            factory,
            env: Box::new(|k| std::env::var(k).ok()),
            only: None,
        }
    }

    /// Read `${VAR}`s from `env` instead of the process environment.
    #[must_use]
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + 'a) -> Self {
        self.env = Box::new(env);
        self
    }

    /// Load and validate only these services (e.g. `opsdeck test NAME`). A name the file does
    /// not declare is a problem ([`ProblemCode::UnknownService`]). An empty list means all.
    #[must_use]
    pub fn only<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: BTreeSet<String> = names.into_iter().map(Into::into).collect();
        self.only = (!names.is_empty()).then_some(names);
        self
    }

    /// Parse and validate `text` (an `opsdeck.toml` document).
    pub fn load(&self, text: &str) -> Result<LoadedConfig, ConfigErrors> {
        let parsed = parse_file(text, &*self.env, self.only.as_ref());
        let mut problems = parsed.problems;
        if let Some(only) = &self.only
            && problems.iter().all(|p| p.code != ProblemCode::Syntax)
        {
            let declared = &parsed.declared;
            for name in only.iter().filter(|n| !declared.contains(*n)) {
                let mut msg = format!(
                    "unknown service \"{name}\"; configured services: {}",
                    if declared.is_empty() {
                        "none".to_owned()
                    } else {
                        declared
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
                if let Some(s) = suggest(name, declared.iter().map(String::as_str)) {
                    msg.push_str(&format!(" (did you mean \"{s}\"?)"));
                }
                problems.push(ConfigProblem::file(msg).with_code(ProblemCode::UnknownService));
            }
        }
        let mut services = Vec::with_capacity(parsed.services.len());
        for service in parsed.services {
            problems.extend(service.problems);
            if let Err(e) = self.factory.validate(&service.spec) {
                problems.extend(
                    e.problems
                        .into_iter()
                        .filter(|p| !is_echo(p, &service.unreadable)),
                );
            }
            services.push(service.spec);
        }
        ConfigErrors::check(
            problems,
            LoadedConfig {
                services,
                tables: parsed.tables,
            },
        )
    }

    /// Read `path` and [`load`](Self::load) it; a file that cannot be read is a problem too.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<LoadedConfig, ConfigErrors> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => self.load(&text),
            Err(e) => {
                let msg = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("config file {} not found", path.display())
                } else {
                    format!("could not read {}: {e}", path.display())
                };
                Err(ConfigProblem::file(msg)
                    .with_code(ProblemCode::Unreadable)
                    .into())
            }
        }
    }
}
