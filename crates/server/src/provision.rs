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
    /// The `[channels.*]`, `[alerts.*]`, `[silences.*]` or `[budgets.*]` tables have problems
    /// (all listed).
    #[error("{path}: {}", problems.join("; "))]
    Alerting {
        /// The file.
        path: String,
        /// Every problem, one line each.
        problems: Vec<String>,
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

/// The alerting tables of a config file, validated and `${VAR}`-interpolated: channels, and the
/// rule, silence and budget entries as JSON (what the store keeps).
#[derive(Debug, Default)]
pub struct AlertingFile {
    /// `[channels.*]`.
    pub channels: Vec<(String, opsdeck_notify::ChannelConfig)>,
    /// `[alerts.*]`, `[silences.*]`, `[budgets.*]` entries.
    pub entries: Vec<(opsdeck_store::ConfigKind, String, serde_json::Value)>,
}

/// Replaces `${VAR}` in every string of a JSON value; names the missing variables.
fn interpolate_json(
    v: serde_json::Value,
    env: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => match opsdeck_core::config::interpolate(&s, env) {
            Ok(s) => Value::String(s),
            Err(vars) => {
                missing.extend(vars);
                Value::String(s)
            }
        },
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|i| interpolate_json(i, env, missing))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, interpolate_json(v, env, missing)))
                .collect(),
        ),
        other => other,
    }
}

/// Reads and validates the alerting tables of a config file's text, every problem at once.
/// `stored_channels` are channel names that exist outside the file (created through the API).
pub fn parse_alerting(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    stored_channels: &BTreeSet<String>,
) -> Result<AlertingFile, Vec<String>> {
    use opsdeck_store::ConfigKind;
    let doc: toml::Table = match text.parse() {
        Ok(d) => d,
        // The services loader reports the syntax error with its position.
        Err(_) => return Ok(AlertingFile::default()),
    };
    let mut problems = Vec::new();
    let mut out = AlertingFile::default();
    if let Some(channels) = doc.get("channels") {
        match opsdeck_notify::config::parse_channels(channels, env) {
            Ok(c) => out.channels = c,
            Err(e) => problems.extend(e.problems.iter().map(ToString::to_string)),
        }
    }
    let mut known: BTreeSet<String> = stored_channels.clone();
    if let Some(t) = doc.get("channels").and_then(toml::Value::as_table) {
        known.extend(t.keys().cloned());
    }
    let mut watch = serde_json::Map::new();
    for kind in [ConfigKind::Alert, ConfigKind::Silence, ConfigKind::Budget] {
        let Some(v) = doc.get(kind.as_str()) else {
            continue;
        };
        let mut missing = Vec::new();
        let json = interpolate_json(opsdeck_monitor::config::toml_to_json(v), env, &mut missing);
        for var in missing {
            problems.push(format!(
                "[{}] environment variable {var} is not set (referenced as ${{{var}}})",
                kind.as_str()
            ));
        }
        watch.insert(kind.as_str().to_owned(), json);
    }
    let doc_json = serde_json::Value::Object(watch);
    if let Err(e) = opsdeck_monitor::config::WatchConfig::from_document(&doc_json, &known) {
        problems.extend(e.problems.iter().map(ToString::to_string));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    for kind in [ConfigKind::Alert, ConfigKind::Silence, ConfigKind::Budget] {
        if let Some(serde_json::Value::Object(m)) = doc_json.get(kind.as_str()) {
            for (name, body) in m {
                out.entries.push((kind, name.clone(), body.clone()));
            }
        }
    }
    Ok(out)
}

/// Applies the alerting tables of the config file: creates or updates the channels, rules,
/// silences and budgets it declares (marked provisioned, read-only in the API) and releases
/// provisioned ones it no longer declares. Returns how many entries changed.
pub async fn apply_alerting(store: &Store, path: &Path) -> Result<usize, ProvisionError> {
    use opsdeck_store::{ChannelData, ConfigKind};
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ProvisionError::Read {
        path: shown.clone(),
        source,
    })?;
    let env = |k: &str| std::env::var(k).ok();
    let stored = store.list_channels().await?;
    let api_channels: BTreeSet<String> = stored
        .iter()
        .filter(|c| !c.provisioned)
        .map(|c| c.name.clone())
        .collect();
    let file = parse_alerting(&text, &env, &api_channels).map_err(|problems| {
        ProvisionError::Alerting {
            path: shown.clone(),
            problems,
        }
    })?;
    let mut changed = 0;
    let mut declared = BTreeSet::new();
    for (name, config) in &file.channels {
        declared.insert(name.clone());
        let (plain, secrets) = config.split();
        let data = ChannelData {
            kind: config.kind().as_str().to_owned(),
            config: plain,
            secrets,
            provisioned: true,
        };
        match stored.iter().find(|c| &c.name == name) {
            None => {
                match store.create_channel(name, &data).await {
                    Ok(_) | Err(opsdeck_store::StoreError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                changed += 1;
            }
            Some(rec) => {
                let old = store.decrypt_channel_secrets(rec)?;
                let same = rec.provisioned
                    && rec.config == data.config
                    && old.len() == data.secrets.len()
                    && old.iter().all(|(k, v)| {
                        data.secrets
                            .get(k)
                            .is_some_and(|n| n.expose_secret() == v.expose_secret())
                    });
                if !same {
                    store.update_channel(name, None, &data).await?;
                    changed += 1;
                }
            }
        }
    }
    for rec in &stored {
        if rec.provisioned && !declared.contains(&rec.name) {
            tracing::warn!(channel = %rec.name, "no longer in the config file; kept, and now editable through the API");
            let secrets = store.decrypt_channel_secrets(rec)?;
            let data = ChannelData {
                kind: rec.kind.clone(),
                config: rec.config.clone(),
                secrets,
                provisioned: false,
            };
            store.update_channel(&rec.name, None, &data).await?;
        }
    }
    for kind in [ConfigKind::Alert, ConfigKind::Silence, ConfigKind::Budget] {
        let existing = store.list_alert_configs(kind).await?;
        let mine: Vec<&(ConfigKind, String, serde_json::Value)> =
            file.entries.iter().filter(|(k, _, _)| *k == kind).collect();
        for (_, name, body) in &mine {
            match existing.iter().find(|r| &r.name == name) {
                None => {
                    match store.create_alert_config(kind, name, body, true).await {
                        Ok(_) | Err(opsdeck_store::StoreError::AlreadyExists { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                    changed += 1;
                }
                Some(r) if r.provisioned && &r.body == body => {}
                Some(_) => {
                    store
                        .update_alert_config(kind, name, None, body, true)
                        .await?;
                    changed += 1;
                }
            }
        }
        for r in existing.iter().filter(|r| r.provisioned) {
            if !mine.iter().any(|(_, n, _)| n == &r.name) {
                tracing::warn!(kind = kind.as_str(), name = %r.name, "no longer in the config file; kept, and now editable through the API");
                store
                    .update_alert_config(kind, &r.name, None, &r.body, false)
                    .await?;
            }
        }
    }
    Ok(changed)
}
