//! A stored service's check history (`GET /services/{name}/checks`) and testing an edited config
//! before saving it (`POST /services/{name}/test-config`), the two things the service page and
//! the edit form need beyond the CRUD routes.

use axum::extract::{Path, Query, State};
use opsdeck_core::ServiceReport;
use opsdeck_core::config::{RawConfig, ServiceSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::services::descriptor;
use crate::checks::spec_of;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::snapshot::rfc3339;
use crate::state::AppState;

/// Results answered when `limit` is not given.
pub const DEFAULT_CHECKS_LIMIT: i64 = 50;
/// The most results one request may ask for.
pub const MAX_CHECKS_LIMIT: i64 = 500;

/// One stored check result.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// When the check finished (RFC 3339).
    pub checked_at: String,
    /// `connected` | `failed` | `unknown`.
    #[schema(example = "connected")]
    pub status: String,
    /// Failure kind when not connected (`invalid_credentials`, …); null otherwise.
    pub failure: Option<String>,
    /// Wall time of the check.
    pub latency_ms: i64,
    /// What the check found and what to do.
    pub message: String,
    /// Account the credentials belong to.
    pub identity: Option<String>,
    /// What to do about a failure; omitted when there is no advice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The report's details (scopes, rate-limit headroom, token expiry, sub-checks, …) as the
    /// test answered them; omitted when the check reported none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// `GET /services/{name}/checks` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ChecksQuery {
    /// How many results, newest first: 1 to 500, default 50.
    // Read as text so a bad value gets the API's JSON error naming the parameter, not the
    // extractor's plain-text rejection.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

fn parse_limit(raw: Option<&str>) -> ApiResult<i64> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_CHECKS_LIMIT);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_CHECKS_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            "limit",
            format!("must be a whole number from 1 to {MAX_CHECKS_LIMIT}, got {raw:?}"),
        )),
    }
}

/// The service's stored check results, newest first.
#[utoipa::path(get, path = "/services/{name}/checks", tag = "services",
    params(("name" = String, Path, description = "Service name"), ChecksQuery),
    responses((status = 200, body = Vec<CheckView>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "limit out of range")))]
pub async fn service_checks(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ChecksQuery>,
) -> ApiResult<ApiJson<Vec<CheckView>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let rec = state.store.get_service(&name).await?;
    let rows = state.store.results_for(rec.id, limit).await?;
    Ok(ApiJson(
        rows.into_iter()
            .map(|row| {
                let r = row.result;
                // `to_string` keeps this independent of whether the store hands out strings
                // or core's typed status.
                CheckView {
                    checked_at: rfc3339(r.checked_at),
                    status: r.status.to_string(),
                    failure: r.failure.as_ref().map(ToString::to_string),
                    latency_ms: r.latency_ms,
                    message: r.message,
                    identity: r.identity,
                    hint: r.hint,
                    details: r.details,
                }
            })
            .collect(),
    ))
}

/// `POST /services/{name}/test-config` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConfig {
    /// Changes to the stored config, as in PATCH: a value replaces, null removes, omitted keeps,
    /// `{"set": true}` keeps a stored secret.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
}

fn is_keep_marker(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == 1 && o.get("set") == Some(&Value::Bool(true)))
}

/// Tests the stored config with the given changes applied, without saving anything: the edit
/// form's "Test these settings". Stored secrets are merged in here, so they never travel to the
/// client.
#[utoipa::path(post, path = "/services/{name}/test-config", tag = "tests", request_body = TestConfig,
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, description = "The connection report (not stored)", body = Object),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn test_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<TestConfig>,
) -> ApiResult<ApiJson<ServiceReport>> {
    let rec = state.store.get_service(&name).await?;
    let d = descriptor(&state, &rec.provider)?;
    let mut merged = spec_of(&state.store, &rec)?.config.0;
    for (k, v) in body.config {
        let secret = d.field(&k).is_some_and(|f| f.secret);
        if v.is_null() {
            merged.remove(&k);
        } else if !(secret && is_keep_marker(&v)) {
            merged.insert(k, v);
        }
    }
    let mut spec = ServiceSpec::new(rec.name.clone(), rec.provider.clone(), RawConfig(merged));
    spec.tags = rec.tags.clone();
    let report = state.checks.test_spec(&spec).await?;
    tracing::info!(service = %name, status = %report.report.status, "edited config tested (not stored)");
    Ok(ApiJson(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(parse_limit(None).ok(), Some(50));
        assert_eq!(parse_limit(Some("1")).ok(), Some(1));
        assert_eq!(parse_limit(Some("500")).ok(), Some(500));
        for bad in ["0", "501", "-3", "ten", "", "1.5"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_lone_set_true_keeps_a_secret() {
        assert!(is_keep_marker(&serde_json::json!({"set": true})));
        assert!(!is_keep_marker(&serde_json::json!({"set": false})));
        assert!(!is_keep_marker(&serde_json::json!({"set": true, "x": 1})));
        assert!(!is_keep_marker(&serde_json::json!("ghp_x")));
    }
}
