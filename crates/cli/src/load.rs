//! Loading `opsdeck.toml` for one command: read the file, validate what the command will run
//! (the services named on the command line, or all of them), and split enabled services (built
//! and run) from disabled ones (listed, never built, never run, never counted in the exit code).
//!
//! The call into core's config loader is [`load_specs`] alone. Until core offers loading a
//! subset and skipping `${VAR}`s of disabled services, it is built on core's public parsing
//! and validation steps (see `interim`); afterwards its body becomes one call.

use std::path::Path;

use opsdeck::{ConfigErrors, ConfigProblem, ServiceFactory, ServiceSpec};

/// The services a command works on.
#[derive(Debug)]
pub struct Services {
    /// Enabled, validated services: these are built and run.
    pub enabled: Vec<ServiceSpec>,
    /// Disabled services among the selection: shown as disabled, never built or run.
    pub disabled: Vec<ServiceSpec>,
}

/// Read `path`; a missing file says how to create one.
pub fn read_config(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "config file {} not found; create one with `opsdeck init --provider ID` or pass \
                 --config / OPSDECK_CONFIG",
                path.display()
            )
        } else {
            format!("could not read {}: {e}", path.display())
        };
        ConfigProblem::file(message).into()
    })
}

/// Read and validate the config at `path`: only the services in `names` (all when `None`),
/// every problem of those at once, and `${VAR}`s of disabled services left unchecked.
pub fn load(
    factory: &ServiceFactory,
    path: &Path,
    names: Option<&[String]>,
) -> Result<Services, ConfigErrors> {
    let text = read_config(path)?;
    let specs = load_specs(factory, &text, &|k| std::env::var(k).ok(), names)?;
    let (enabled, disabled) = specs.into_iter().partition(|s| s.enabled);
    Ok(Services { enabled, disabled })
}

/// Parse, interpolate and validate `text`, keeping the services in `names` (all when `None`):
/// every problem of those services and of the file as a whole, none of the others'; a disabled
/// service's unset `${VAR}`s are not problems; a name that is not in the file is one, with a
/// suggestion. Disabled specs are returned too (their unreadable fields left out); callers do
/// not build them.
///
/// MERGE: this is the one function to switch to core's subset loader (branch "api") once it
/// lands; the behaviour above is what the CLI's tests pin.
pub fn load_specs(
    factory: &ServiceFactory,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    names: Option<&[String]>,
) -> Result<Vec<ServiceSpec>, ConfigErrors> {
    interim::load_selected(factory, text, env, names)
}

/// Subset loading over today's core API: `parse_config_partial` + `ServiceFactory::validate`,
/// with the same "a field that could not be read is not also missing" rule as
/// `ServiceFactory::load_config`.
mod interim {
    use std::collections::BTreeSet;

    use opsdeck::config::parse_config_partial;
    use opsdeck::{ConfigErrors, ConfigProblem, ServiceFactory, ServiceSpec};

    use crate::suggest;

    /// A problem about an unset `${VAR}`. Core's problems carry no code yet, so this matches
    /// the wording core uses (pinned by a test below).
    pub(super) fn is_missing_env(p: &ConfigProblem) -> bool {
        p.message.starts_with("environment variable ") && p.message.contains(" is not set")
    }

    fn is_missing_field(p: &ConfigProblem) -> bool {
        p.message.starts_with("missing required field")
    }

    pub(super) fn load_selected(
        factory: &ServiceFactory,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        names: Option<&[String]>,
    ) -> Result<Vec<ServiceSpec>, ConfigErrors> {
        let parsed = parse_config_partial(text, env);
        // Every service the file declares, readable or not.
        let declared: BTreeSet<&str> = parsed
            .specs
            .iter()
            .map(|s| s.name.as_str())
            .chain(parsed.problems.iter().filter_map(|p| p.service.as_deref()))
            .collect();
        let mut problems = Vec::new();
        let wanted = |service: &str| names.is_none_or(|ns| ns.iter().any(|n| n == service));
        if let Some(names) = names {
            let declared: Vec<&str> = declared.iter().copied().collect();
            for name in names {
                if !declared.contains(&name.as_str()) {
                    problems.push(ConfigProblem::file(suggest::unknown_service(
                        name, &declared,
                    )));
                }
            }
        }
        let disabled: BTreeSet<&str> = parsed
            .specs
            .iter()
            .filter(|s| !s.enabled)
            .map(|s| s.name.as_str())
            .collect();
        problems.extend(
            parsed
                .problems
                .iter()
                .filter(|p| match p.service.as_deref() {
                    None => true,
                    Some(s) => wanted(s) && !(disabled.contains(s) && is_missing_env(p)),
                })
                .cloned(),
        );
        let specs: Vec<ServiceSpec> = parsed
            .specs
            .iter()
            .filter(|s| wanted(&s.name))
            .cloned()
            .collect();
        for spec in &specs {
            if let Err(e) = factory.validate(spec) {
                problems.extend(e.problems.into_iter().filter(|p| {
                    // A field whose value could not be read (an unset variable) is reported
                    // as such, or, for a disabled service, not at all: never as "missing".
                    !(is_missing_field(p)
                        && parsed.unreadable.iter().any(|(s, f)| {
                            Some(s) == p.service.as_ref() && Some(f) == p.field.as_ref()
                        }))
                }));
            }
        }
        if problems.is_empty() {
            Ok(specs)
        } else {
            Err(ConfigErrors { problems })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn core_wording_of_an_unset_variable_is_recognised() {
            let parsed = parse_config_partial(
                "[services.a]\nprovider = \"x\"\ntoken = \"${OPSDECK_SURELY_UNSET}\"\n",
                &|_| None,
            );
            assert_eq!(parsed.problems.len(), 1, "{:?}", parsed.problems);
            assert!(is_missing_env(&parsed.problems[0]), "{:?}", parsed.problems);
        }
    }
}
