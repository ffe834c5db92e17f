//! Loading `opsdeck.toml` for one command: read the file, validate what the command will run
//! (the services named on the command line, or all of them), and split enabled services (built
//! and run) from disabled ones (listed, never built, never run, never counted in the exit code).
//!
//! The call into core's config loader is [`load_specs`] alone.

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

/// Parse, interpolate and validate `text` with core's loader, keeping the services in `names`
/// (all when `None`): every problem of those services and of the file as a whole, none of the
/// others'; a disabled service's unset `${VAR}`s are not problems; a name that is not in the
/// file is one, with a suggestion. Disabled specs are returned too (their unreadable fields
/// left out); callers do not build them. Top-level tables other than `[services]` belong to
/// `opsdeckd` (`[channels]`, `[alerts]`, …): the CLI names them once on stderr and ignores them.
pub fn load_specs(
    factory: &ServiceFactory,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    names: Option<&[String]>,
) -> Result<Vec<ServiceSpec>, ConfigErrors> {
    let mut loader = factory.loader().env(env);
    if let Some(names) = names {
        loader = loader.only(names.iter().cloned());
    }
    let loaded = loader.load(text)?;
    if !loaded.tables.is_empty() {
        let tables: Vec<String> = loaded.tables.keys().map(|t| format!("[{t}]")).collect();
        eprintln!(
            "note: {} in the config file {} read by opsdeckd, not by the CLI; ignored here",
            tables.join(", "),
            if tables.len() == 1 { "is" } else { "are" }
        );
    }
    Ok(loaded.services)
}
