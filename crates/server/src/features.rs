//! Run-time feature flags for the watching half: `monitoring`, `alerts`, `cost_alerts`,
//! `incidents`, `vendor_status`. All on by default; a `[features]` table in the `--config` file
//! turns them off (`alerts = false`, or `"off"`), and `OPSDECK_FEATURE_<NAME>=on|off` wins over
//! the file. A route of a feature that is off answers 404
//! `{"code":"feature_disabled","message":…}` ([`require`], [`gate`]).
//!
//! Until core's config loader hands unknown top-level tables to its callers, the table is read
//! here with `toml` and removed from the text before the services loader sees it
//! ([`split_features`]).

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// A feature that can be turned off at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// Check history, uptime and latency rollups.
    Monitoring,
    /// Alert rules and notifications.
    Alerts,
    /// Budgets and cost alerts.
    CostAlerts,
    /// Incident grouping.
    Incidents,
    /// Vendor status pages.
    VendorStatus,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 5] = [
        Feature::Monitoring,
        Feature::Alerts,
        Feature::CostAlerts,
        Feature::Incidents,
        Feature::VendorStatus,
    ];

    /// The name in `[features]` and in `OPSDECK_FEATURE_<NAME>` (upper-cased).
    pub fn name(self) -> &'static str {
        match self {
            Feature::Monitoring => "monitoring",
            Feature::Alerts => "alerts",
            Feature::CostAlerts => "cost_alerts",
            Feature::Incidents => "incidents",
            Feature::VendorStatus => "vendor_status",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Which features are on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Features(BTreeMap<Feature, bool>);

impl Default for Features {
    fn default() -> Self {
        Features(Feature::ALL.into_iter().map(|f| (f, true)).collect())
    }
}

/// A bad `[features]` table or `OPSDECK_FEATURE_*` variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FeaturesError(pub String);

fn parse_switch(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Some(true),
        "off" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

impl Features {
    /// Whether `f` is on.
    pub fn enabled(&self, f: Feature) -> bool {
        self.0.get(&f).copied().unwrap_or(true)
    }

    /// Sets one feature.
    pub fn set(&mut self, f: Feature, on: bool) {
        self.0.insert(f, on);
    }

    /// Defaults, then the file's `[features]` table, then `OPSDECK_FEATURE_<NAME>`; every
    /// problem at once.
    pub fn resolve(
        table: Option<&toml::Table>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, FeaturesError> {
        let mut out = Features::default();
        let mut problems = Vec::new();
        if let Some(table) = table {
            for (k, v) in table {
                let Some(f) = Feature::from_name(k) else {
                    problems.push(format!(
                        "features.{k}: unknown feature; known: {}",
                        Feature::ALL.map(Feature::name).join(", ")
                    ));
                    continue;
                };
                let on = match v {
                    toml::Value::Boolean(b) => Some(*b),
                    toml::Value::String(s) => parse_switch(s),
                    _ => None,
                };
                match on {
                    Some(on) => out.set(f, on),
                    None => {
                        problems.push(format!("features.{k}: use true/false (or \"on\"/\"off\")"))
                    }
                }
            }
        }
        for f in Feature::ALL {
            let var = format!("OPSDECK_FEATURE_{}", f.name().to_ascii_uppercase());
            if let Some(v) = env(&var).filter(|v| !v.is_empty()) {
                match parse_switch(&v) {
                    Some(on) => out.set(f, on),
                    None => problems.push(format!("{var}={v:?}: use on or off")),
                }
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(FeaturesError(problems.join("; ")))
        }
    }
}

/// Splits a config file's text into the `[features]` table and the text for the services
/// loader (unchanged when there is no such table).
pub fn split_features(text: &str) -> Result<(Option<toml::Table>, String), FeaturesError> {
    let mut doc: toml::Table = match text.parse() {
        Ok(d) => d,
        // Not TOML: the services loader reports the syntax error with its position.
        Err(_) => return Ok((None, text.to_owned())),
    };
    match doc.remove("features") {
        None => Ok((None, text.to_owned())),
        Some(toml::Value::Table(t)) => {
            let rest = toml::to_string(&doc)
                .map_err(|e| FeaturesError(format!("cannot re-read the config file: {e}")))?;
            Ok((Some(t), rest))
        }
        Some(_) => Err(FeaturesError(
            "features: must be a table ([features] with name = true/false)".into(),
        )),
    }
}

/// `Err(404 feature_disabled)` when `f` is off: call it first in a feature's handlers.
pub fn require(features: &Features, f: Feature) -> Result<(), ApiError> {
    if features.enabled(f) {
        Ok(())
    } else {
        Err(ApiError::FeatureDisabled(f.name()))
    }
}

/// Middleware for a feature's routes: `route_layer(from_fn_with_state((features, f), gate))`.
pub async fn gate(
    State((features, f)): State<(std::sync::Arc<Features>, Feature)>,
    req: Request,
    next: Next,
) -> Response {
    match require(&features, f) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment() {
        let (table, rest) = split_features(
            "[features]\nalerts = false\nincidents = \"off\"\n\n[services.a]\nprovider = \"mock\"\n",
        )
        .unwrap();
        assert!(!rest.contains("features"));
        assert!(rest.contains("[services.a]"));
        let env = |k: &str| (k == "OPSDECK_FEATURE_ALERTS").then(|| "on".to_owned());
        let f = Features::resolve(table.as_ref(), &env).unwrap();
        assert!(f.enabled(Feature::Alerts), "the environment wins");
        assert!(!f.enabled(Feature::Incidents));
        assert!(f.enabled(Feature::Monitoring), "on by default");
        let none = |_: &str| None;
        let (t, _) = split_features("[features]\nbogus = true\nalerts = 3\n").unwrap();
        let e = Features::resolve(t.as_ref(), &none).unwrap_err().0;
        assert!(
            e.contains("features.bogus") && e.contains("features.alerts"),
            "{e}"
        );
        let bad_env = |k: &str| (k == "OPSDECK_FEATURE_MONITORING").then(|| "maybe".to_owned());
        assert!(Features::resolve(None, &bad_env).is_err());
        let text = "[services.a]\nprovider = \"mock\"\n";
        assert_eq!(split_features(text).unwrap(), (None, text.to_owned()));
    }

    #[tokio::test]
    async fn a_disabled_feature_answers_404_feature_disabled() {
        let mut f = Features::default();
        f.set(Feature::Alerts, false);
        let resp = require(&f, Feature::Alerts).unwrap_err().into_response();
        assert_eq!(resp.status(), axum::http::StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "feature_disabled");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("OPSDECK_FEATURE_ALERTS")
        );
        assert!(require(&f, Feature::Monitoring).is_ok());
    }
}
