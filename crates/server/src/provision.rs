//! `--config`: create or update the services a config file declares and mark them provisioned.
//!
//! The file has the CLI's format (core parses and validates it, `${VAR}` included); one extra
//! optional key per service, `interval` (e.g. `"10m"` or seconds), overrides the check interval.
//! A `[features]` table is taken out before the services loader reads the rest
//! ([`crate::features::split_features`]).
//!
//! Two instances provisioning one PostgreSQL database at once are safe: a service is created
//! with an insert that does nothing when the name exists, and the loser compares and updates.

use std::collections::BTreeSet;
use std::path::Path;

use opsdeck_core::config::ConfigErrors;
use opsdeck_core::{ServiceFactory, ServiceSpec};
use opsdeck_store::{ServiceData, Store};
use secrecy::ExposeSecret;

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file has problems (all listed).
    #[error("{path}: {errors}")]
    Config {
        /// The file.
        path: String,
        /// Every problem.
        errors: ConfigErrors,
    },
    /// The `[features]` table or an `OPSDECK_FEATURE_*` variable is wrong.
    #[error("{path}: {source}")]
    Features {
        /// The file.
        path: String,
        /// What is wrong.
        source: crate::features::FeaturesError,
    },
    /// The `[status_pages]` table is wrong.
    #[error("{path}: {source}")]
    StatusPages {
        /// The file.
        path: String,
        /// What is wrong.
        source: crate::vendor_status::StatusPagesError,
    },
    /// The database refused a write.
    #[error(transparent)]
    Store(#[from] opsdeck_store::StoreError),
}

/// The file's text for the services loader, and its `[features]` table.
pub fn read(path: &Path) -> Result<(String, Option<toml::Table>), ProvisionError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ProvisionError::Read {
        path: shown.clone(),
        source,
    })?;
    let (table, rest) =
        crate::features::split_features(&text).map_err(|source| ProvisionError::Features {
            path: shown.clone(),
            source,
        })?;
    let (_, rest) = crate::vendor_status::split_status_pages(&rest).map_err(|source| {
        ProvisionError::StatusPages {
            path: shown,
            source,
        }
    })?;
    Ok((rest, table))
}

/// The file's `[status_pages]` table, if it has one.
pub fn status_pages(path: &Path) -> Result<Option<toml::Table>, ProvisionError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ProvisionError::Read {
        path: shown.clone(),
        source,
    })?;
    let (table, _) = crate::vendor_status::split_status_pages(&text).map_err(|source| {
        ProvisionError::StatusPages {
            path: shown,
            source,
        }
    })?;
    Ok(table)
}

/// Counts for the startup log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Provisioned {
    /// Services created.
    pub created: usize,
    /// Services whose stored state changed.
    pub updated: usize,
    /// Services already as declared.
    pub unchanged: usize,
    /// Services no longer in the file, now managed through the API.
    pub released: usize,
}

/// Parses and validates the file with core's loader (the CLI's format, every problem at once):
/// specs plus per-service intervals in seconds.
pub fn parse(
    factory: &ServiceFactory,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(ServiceSpec, Option<i64>)>, ConfigErrors> {
    let specs = factory.load_config(text, env)?;
    Ok(specs
        .into_iter()
        .map(|spec| {
            let interval = spec
                .interval
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            (spec, interval)
        })
        .collect())
}

/// Applies the file to the store. Validation covers every service before anything is written.
pub async fn apply(
    store: &Store,
    factory: &ServiceFactory,
    path: &Path,
) -> Result<Provisioned, ProvisionError> {
    let shown = path.display().to_string();
    let (text, _) = read(path)?;
    let env = |k: &str| std::env::var(k).ok();
    let parsed = parse(factory, &text, &env).map_err(|errors| ProvisionError::Config {
        path: shown.clone(),
        errors,
    })?;

    let mut counts = Provisioned::default();
    let mut declared = BTreeSet::new();
    for (spec, interval) in parsed {
        declared.insert(spec.name.clone());
        let Some(d) = factory.descriptor(&spec.provider) else {
            continue;
        };
        let split = opsdeck_core::config::split_secrets(d, spec.config.clone());
        let data = ServiceData {
            provider: spec.provider.clone(),
            config: split.plain,
            secrets: split.secrets,
            tags: spec.tags.clone(),
            enabled: spec.enabled,
            interval_secs: interval,
            provisioned: true,
        };
        let existing = match store.find_service(&spec.name).await? {
            Some(rec) => Some(rec),
            None => match store.create_service_if_absent(&spec.name, &data).await? {
                Some(_) => {
                    counts.created += 1;
                    continue;
                }
                // Another instance created it a moment ago: compare with what it stored.
                None => store.find_service(&spec.name).await?,
            },
        };
        match existing {
            None => {
                // Created and deleted again between two statements: create it once more.
                store.create_service(&spec.name, &data).await?;
                counts.created += 1;
            }
            Some(rec) => {
                let old = store.decrypt_secrets(&rec)?;
                let same_secrets = old.len() == data.secrets.len()
                    && old.iter().all(|(k, v)| {
                        data.secrets
                            .get(k)
                            .is_some_and(|n| n.expose_secret() == v.expose_secret())
                    });
                let same = rec.provisioned
                    && rec.provider == data.provider
                    && rec.config == data.config
                    && same_secrets
                    && rec.tags == data.tags
                    && rec.enabled == data.enabled
                    && rec.interval_secs == data.interval_secs;
                if same {
                    counts.unchanged += 1;
                } else {
                    if !rec.provisioned {
                        tracing::warn!(service = %spec.name, "service was managed through the API; the config file now owns it");
                    }
                    store.update_service(&spec.name, None, &data).await?;
                    counts.updated += 1;
                }
            }
        }
    }
    for rec in store.list_services().await? {
        if rec.provisioned && !declared.contains(&rec.name) {
            tracing::warn!(service = %rec.name, "no longer in the config file; kept, and now editable through the API");
            store.clear_provisioned(&rec.name).await?;
            counts.released += 1;
        }
    }
    Ok(counts)
}
