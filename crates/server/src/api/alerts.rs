//! `/channels`, `/alerts`, `/silences`, `/budgets` (issue 11): CRUD over the store, validation
//! by `opsdeck-notify` (channels) and `opsdeck-monitor` (rules, silences, budgets) with every
//! problem at once, channel tests, alert history and state, budget status. Channel secrets are
//! write-only (`{"set": true}`); provisioned entries are read-only.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opsdeck_monitor::alerts::AlertRule;
use opsdeck_monitor::budget::Budget;
use opsdeck_monitor::config::Problem;
use opsdeck_monitor::silence::Silence;
use opsdeck_notify::{ChannelConfig, ChannelErrors};
use opsdeck_store::{ChannelData, ChannelRecord, ConfigKind, ConfigRecord};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::alerting;
use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::features::{Feature, require};
use crate::json::ApiJson;
use crate::snapshot::rfc3339;
use crate::state::AppState;

fn read_only(what: String) -> ApiError {
    ApiError::ReadOnly(what)
}

fn alerts_on(state: &AppState) -> Result<(), ApiError> {
    require(&state.settings.features, Feature::Alerts)
}

fn channels_on(state: &AppState) -> Result<(), ApiError> {
    if state.settings.features.enabled(Feature::CostAlerts) {
        Ok(())
    } else {
        alerts_on(state)
    }
}

fn kind_on(state: &AppState, kind: ConfigKind) -> Result<(), ApiError> {
    match kind {
        ConfigKind::Budget => require(&state.settings.features, Feature::CostAlerts),
        _ => alerts_on(state),
    }
}

// ---- channels ------------------------------------------------------------------------------

/// A channel as the API shows it: secret fields read `{"set": true|false}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// Unique name.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// The settings; secrets as `{"set": bool}`.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Where it delivers, safe to show (host, or recipients and SMTP server).
    pub destination: String,
    /// Managed by the server's config file (read-only here).
    pub provisioned: bool,
    /// Send it back in PATCH.
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

fn channel_view(store: &opsdeck_store::Store, rec: &ChannelRecord) -> ChannelView {
    let mut config = rec.config.clone();
    let set: Vec<&str> = rec.secret_fields().collect();
    let names: Vec<&str> = opsdeck_notify::ChannelKind::parse(&rec.kind)
        .map(|k| k.secret_fields())
        .unwrap_or_else(|| set.clone());
    for name in names {
        config.insert(name.to_owned(), json!({ "set": set.contains(&name) }));
    }
    // The destination shows a webhook's host only (the URL is a secret; its path may hold a
    // token).
    let destination = store
        .decrypt_channel_secrets(rec)
        .ok()
        .and_then(|secrets| ChannelConfig::from_parts(&rec.name, &rec.config, &secrets).ok())
        .map(|c| c.destination())
        .unwrap_or_default();
    ChannelView {
        name: rec.name.clone(),
        kind: rec.kind.clone(),
        config,
        destination,
        provisioned: rec.provisioned,
        version: rec.version,
        created_at: rfc3339(rec.created_at),
        updated_at: rfc3339(rec.updated_at),
    }
}

fn channel_errors(e: &ChannelErrors) -> ApiError {
    let details: Vec<FieldProblem> = e
        .problems
        .iter()
        .map(|p| FieldProblem {
            field: p.field.clone().unwrap_or_else(|| "name".into()),
            message: p.message.clone(),
        })
        .collect();
    ApiError::InvalidConfig {
        message: details
            .iter()
            .map(|d| format!("{}: {}", d.field, d.message))
            .collect::<Vec<_>>()
            .join("; "),
        details,
    }
}

fn body_object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        )),
    }
}

fn take_name(m: &mut Map<String, Value>) -> Result<String, ApiError> {
    match m.remove("name") {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::field("name", "must be a string")),
        None => Err(ApiError::field("name", "is required")),
    }
}

fn take_version(m: &mut Map<String, Value>) -> Result<Option<i64>, ApiError> {
    match m.remove("version") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Some(_) => Err(ApiError::field("version", "must be a whole number")),
    }
}

fn channel_data(config: &ChannelConfig) -> ChannelData {
    let (plain, secrets) = config.split();
    ChannelData {
        kind: config.kind().as_str().to_owned(),
        config: plain,
        secrets,
        provisioned: false,
    }
}

/// Every channel.
#[utoipa::path(get, path = "/channels", tag = "alerts", responses((status = 200, body = Vec<ChannelView>)))]
pub async fn list_channels(State(state): State<AppState>) -> ApiResult<ApiJson<Vec<ChannelView>>> {
    channels_on(&state)?;
    let list = state.store.list_channels().await?;
    Ok(ApiJson(
        list.iter().map(|c| channel_view(&state.store, c)).collect(),
    ))
}

/// Creates a channel: `{"name", "kind", …settings}` (see docs/alerts.md).
#[utoipa::path(post, path = "/channels", tag = "alerts", request_body(content = Object),
    responses((status = 201, body = ChannelView)))]
pub async fn create_channel(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    channels_on(&state)?;
    let mut m = body_object(body)?;
    let name = take_name(&mut m)?;
    let config = ChannelConfig::from_map(&name, &m).map_err(|e| channel_errors(&e))?;
    let rec = state
        .store
        .create_channel(&name, &channel_data(&config))
        .await?;
    tracing::info!(channel = %name, kind = %rec.kind, "channel created");
    Ok((
        StatusCode::CREATED,
        ApiJson(channel_view(&state.store, &rec)),
    )
        .into_response())
}

async fn find_channel(state: &AppState, name: &str) -> Result<ChannelRecord, ApiError> {
    state
        .store
        .find_channel(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("channel {name:?} not found")))
}

/// One channel.
#[utoipa::path(get, path = "/channels/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Channel name")),
    responses((status = 200, body = ChannelView)))]
pub async fn get_channel(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ChannelView>> {
    channels_on(&state)?;
    Ok(ApiJson(channel_view(
        &state.store,
        &find_channel(&state, &name).await?,
    )))
}

/// Changes a channel: the fields given replace the stored ones; a secret field left out (or
/// sent as `{"set": true}`) keeps its stored value. `version` makes it a compare-and-set.
#[utoipa::path(patch, path = "/channels/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Channel name")),
    request_body(content = Object),
    responses((status = 200, body = ChannelView)))]
pub async fn patch_channel(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<ApiJson<ChannelView>> {
    channels_on(&state)?;
    let rec = find_channel(&state, &name).await?;
    if rec.provisioned {
        return Err(read_only(format!("channel {name:?}")));
    }
    let mut m = body_object(body)?;
    let version = take_version(&mut m)?;
    if m.contains_key("name") {
        return Err(ApiError::field("name", "a channel cannot be renamed"));
    }
    let mut secrets: BTreeMap<String, SecretString> = state.store.decrypt_channel_secrets(&rec)?;
    let mut plain = rec.config.clone();
    let kind_changed = m
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k != rec.kind);
    if kind_changed {
        plain = Map::new();
        secrets.clear();
    }
    for (k, v) in m {
        if v.as_object()
            .is_some_and(|o| o.get("set") == Some(&json!(true)))
        {
            continue;
        }
        secrets.remove(&k);
        if v.is_null() {
            plain.remove(&k);
        } else {
            plain.insert(k, v);
        }
    }
    let config =
        ChannelConfig::from_parts(&name, &plain, &secrets).map_err(|e| channel_errors(&e))?;
    let rec = state
        .store
        .update_channel(&name, version, &channel_data(&config))
        .await?;
    tracing::info!(channel = %name, "channel changed");
    Ok(ApiJson(channel_view(&state.store, &rec)))
}

/// Deletes a channel.
#[utoipa::path(delete, path = "/channels/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Channel name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_channel(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    channels_on(&state)?;
    if find_channel(&state, &name).await?.provisioned {
        return Err(read_only(format!("channel {name:?}")));
    }
    // A rule or budget naming a missing channel would no longer load: refuse instead.
    let mut users = Vec::new();
    for kind in [ConfigKind::Alert, ConfigKind::Budget] {
        for rec in state.store.list_alert_configs(kind).await? {
            let names = rec.body.get("channels").and_then(Value::as_array);
            if names.is_some_and(|a| a.iter().any(|c| c.as_str() == Some(name.as_str()))) {
                users.push(format!("{} {:?}", noun(kind), rec.name));
            }
        }
    }
    if !users.is_empty() {
        return Err(ApiError::InUse(format!(
            "channel {name:?} is used by {}; remove it from them first",
            users.join(", ")
        )));
    }
    state.store.delete_channel(&name).await?;
    tracing::info!(channel = %name, "channel deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The answer to "send a test notification".
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelTestView {
    /// Whether the receiver accepted it.
    pub ok: bool,
    /// The test's delivery id (`X-Opsdeck-Delivery`).
    pub delivery: String,
    /// What happened, and what to do if it failed.
    pub message: String,
}

/// Sends a `test` event to the channel now, once, and says what happened.
#[utoipa::path(post, path = "/channels/{name}/test", tag = "alerts",
    params(("name" = String, Path, description = "Channel name")),
    responses((status = 200, body = ChannelTestView)))]
pub async fn test_channel(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ChannelTestView>> {
    channels_on(&state)?;
    let rec = find_channel(&state, &name).await?;
    let channel =
        alerting::build_channel(&state.store, &rec, &state.settings.alerting.channel_options)
            .map_err(|message| ApiError::InvalidConfig {
                message,
                details: Vec::new(),
            })?;
    let r = channel.send_test(state.clock.now()).await;
    Ok(ApiJson(ChannelTestView {
        ok: r.ok,
        delivery: r.delivery,
        message: r.message,
    }))
}

// ---- rules, silences, budgets ---------------------------------------------------------------

fn problems_error(problems: &[Problem]) -> ApiError {
    let details: Vec<FieldProblem> = problems
        .iter()
        .map(|p| FieldProblem {
            field: p.field.clone().unwrap_or_else(|| "name".into()),
            message: p.message.clone(),
        })
        .collect();
    ApiError::InvalidConfig {
        message: problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        details,
    }
}

async fn validate(
    state: &AppState,
    kind: ConfigKind,
    name: &str,
    body: &Value,
) -> Result<(), ApiError> {
    let channels = alerting::channel_names(&state.store.list_channels().await?);
    let mut problems = Vec::new();
    let ok = match kind {
        ConfigKind::Alert => AlertRule::parse(name, body, &channels, &mut problems).is_some(),
        ConfigKind::Silence => Silence::parse(name, body, &mut problems).is_some(),
        ConfigKind::Budget => Budget::parse(name, body, &channels, &mut problems).is_some(),
    };
    if ok && problems.is_empty() {
        Ok(())
    } else {
        Err(problems_error(&problems))
    }
}

fn config_view(rec: &ConfigRecord) -> Value {
    let mut m = match &rec.body {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    m.insert("name".into(), json!(rec.name));
    m.insert("provisioned".into(), json!(rec.provisioned));
    m.insert("version".into(), json!(rec.version));
    m.insert("created_at".into(), json!(rfc3339(rec.created_at)));
    m.insert("updated_at".into(), json!(rfc3339(rec.updated_at)));
    Value::Object(m)
}

fn noun(kind: ConfigKind) -> &'static str {
    match kind {
        ConfigKind::Alert => "alert",
        ConfigKind::Silence => "silence",
        ConfigKind::Budget => "budget",
    }
}

async fn list_configs(state: &AppState, kind: ConfigKind) -> ApiResult<Vec<Value>> {
    kind_on(state, kind)?;
    Ok(state
        .store
        .list_alert_configs(kind)
        .await?
        .iter()
        .map(config_view)
        .collect())
}

async fn get_config(state: &AppState, kind: ConfigKind, name: &str) -> ApiResult<ConfigRecord> {
    kind_on(state, kind)?;
    state
        .store
        .find_alert_config(kind, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{} {name:?} not found", noun(kind))))
}

async fn create_config(state: &AppState, kind: ConfigKind, body: Value) -> ApiResult<Response> {
    kind_on(state, kind)?;
    let mut m = body_object(body)?;
    let name = take_name(&mut m)?;
    let body = Value::Object(m);
    validate(state, kind, &name, &body).await?;
    let rec = state
        .store
        .create_alert_config(kind, &name, &body, false)
        .await?;
    tracing::info!(kind = kind.as_str(), name = %name, "created");
    Ok((StatusCode::CREATED, ApiJson(config_view(&rec))).into_response())
}

async fn put_config(
    state: &AppState,
    kind: ConfigKind,
    name: &str,
    body: Value,
) -> ApiResult<Value> {
    let rec = get_config(state, kind, name).await?;
    if rec.provisioned {
        return Err(read_only(format!("{} {name:?}", noun(kind))));
    }
    let mut m = body_object(body)?;
    let version = take_version(&mut m)?;
    if let Some(n) = m.remove("name")
        && n != json!(name)
    {
        return Err(ApiError::field("name", "cannot be renamed"));
    }
    for k in ["provisioned", "created_at", "updated_at"] {
        m.remove(k);
    }
    let body = Value::Object(m);
    validate(state, kind, name, &body).await?;
    let rec = state
        .store
        .update_alert_config(kind, name, version, &body, false)
        .await?;
    tracing::info!(kind = kind.as_str(), name = %name, "changed");
    Ok(config_view(&rec))
}

async fn delete_config(state: &AppState, kind: ConfigKind, name: &str) -> ApiResult<StatusCode> {
    if get_config(state, kind, name).await?.provisioned {
        return Err(read_only(format!("{} {name:?}", noun(kind))));
    }
    state.store.delete_alert_config(kind, name).await?;
    tracing::info!(kind = kind.as_str(), name = %name, "deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Every alert rule: its definition (as in `[alerts.NAME]`) plus `name`, `provisioned`,
/// `version`, `created_at`, `updated_at`.
#[utoipa::path(get, path = "/alerts", tag = "alerts", responses((status = 200, body = Vec<Object>)))]
pub async fn list_alerts(State(state): State<AppState>) -> ApiResult<ApiJson<Vec<Value>>> {
    Ok(ApiJson(list_configs(&state, ConfigKind::Alert).await?))
}

/// Creates an alert rule: `{"name", "condition", "services"|"tags"|"providers", …}`.
#[utoipa::path(post, path = "/alerts", tag = "alerts", request_body(content = Object),
    responses((status = 201, body = Object)))]
pub async fn create_alert(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    create_config(&state, ConfigKind::Alert, body).await
}

/// One alert rule.
#[utoipa::path(get, path = "/alerts/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Rule name")),
    responses((status = 200, body = Object)))]
pub async fn get_alert(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Value>> {
    Ok(ApiJson(config_view(
        &get_config(&state, ConfigKind::Alert, &name).await?,
    )))
}

/// Replaces an alert rule's definition (`version` makes it a compare-and-set).
#[utoipa::path(put, path = "/alerts/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Rule name")),
    request_body(content = Object), responses((status = 200, body = Object)))]
pub async fn put_alert(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<ApiJson<Value>> {
    Ok(ApiJson(
        put_config(&state, ConfigKind::Alert, &name, body).await?,
    ))
}

/// Deletes an alert rule and its per-service state.
#[utoipa::path(delete, path = "/alerts/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Rule name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_alert(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    delete_config(&state, ConfigKind::Alert, &name).await
}

/// Every silence.
#[utoipa::path(get, path = "/silences", tag = "alerts", responses((status = 200, body = Vec<Object>)))]
pub async fn list_silences(State(state): State<AppState>) -> ApiResult<ApiJson<Vec<Value>>> {
    Ok(ApiJson(list_configs(&state, ConfigKind::Silence).await?))
}

/// Creates a silence: `{"name", "services"|"tags"|"providers", "from", "until"|"weekly", "reason"}`.
#[utoipa::path(post, path = "/silences", tag = "alerts", request_body(content = Object),
    responses((status = 201, body = Object)))]
pub async fn create_silence(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    create_config(&state, ConfigKind::Silence, body).await
}

/// One silence.
#[utoipa::path(get, path = "/silences/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Silence name")),
    responses((status = 200, body = Object)))]
pub async fn get_silence(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Value>> {
    Ok(ApiJson(config_view(
        &get_config(&state, ConfigKind::Silence, &name).await?,
    )))
}

/// Replaces a silence.
#[utoipa::path(put, path = "/silences/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Silence name")),
    request_body(content = Object), responses((status = 200, body = Object)))]
pub async fn put_silence(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<ApiJson<Value>> {
    Ok(ApiJson(
        put_config(&state, ConfigKind::Silence, &name, body).await?,
    ))
}

/// Deletes a silence.
#[utoipa::path(delete, path = "/silences/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Silence name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_silence(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    delete_config(&state, ConfigKind::Silence, &name).await
}

async fn with_status(state: &AppState, views: Vec<Value>) -> ApiResult<Vec<Value>> {
    let defs = alerting::load_definitions(&state.store).await?;
    let statuses = alerting::budget_statuses(state, &defs, state.clock.now_ms()).await?;
    Ok(views
        .into_iter()
        .map(|mut v| {
            let name = v["name"].as_str().unwrap_or_default().to_owned();
            if let Some(s) = statuses.iter().find(|s| s.budget == name)
                && let Some(m) = v.as_object_mut()
            {
                m.insert("status".into(), budget_status_json(s));
            }
            v
        })
        .collect())
}

fn budget_status_json(s: &opsdeck_monitor::budget::BudgetStatus) -> Value {
    json!({
        "month": s.month.to_string(),
        "currency": s.currency,
        "limit": s.limit.to_string(),
        "spent": s.spent.to_string(),
        "forecast": s.forecast.map(|f| f.to_string()),
        "forecast_method": s.forecast_method,
        "daily_run_rate": s.daily_run_rate.map(|f| f.to_string()),
        "reach_date": s.reach_date.map(|d| d.to_string()),
        "counted": s.counted,
        "not_counted": s.not_counted,
    })
}

/// Every budget, each with its `status`: spent, forecast, reach date, the services counted and
/// those that cannot report cost (named, never counted as zero).
#[utoipa::path(get, path = "/budgets", tag = "alerts", responses((status = 200, body = Vec<Object>)))]
pub async fn list_budgets(State(state): State<AppState>) -> ApiResult<ApiJson<Vec<Value>>> {
    let views = list_configs(&state, ConfigKind::Budget).await?;
    Ok(ApiJson(with_status(&state, views).await?))
}

/// Creates a budget: `{"name", "monthly_limit", "currency", "thresholds", …}`.
#[utoipa::path(post, path = "/budgets", tag = "alerts", request_body(content = Object),
    responses((status = 201, body = Object)))]
pub async fn create_budget(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    create_config(&state, ConfigKind::Budget, body).await
}

/// One budget with its status.
#[utoipa::path(get, path = "/budgets/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Budget name")),
    responses((status = 200, body = Object)))]
pub async fn get_budget(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<Value>> {
    let view = config_view(&get_config(&state, ConfigKind::Budget, &name).await?);
    let mut v = with_status(&state, vec![view]).await?;
    Ok(ApiJson(v.pop().unwrap_or(Value::Null)))
}

/// Replaces a budget.
#[utoipa::path(put, path = "/budgets/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Budget name")),
    request_body(content = Object), responses((status = 200, body = Object)))]
pub async fn put_budget(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<ApiJson<Value>> {
    Ok(ApiJson(
        put_config(&state, ConfigKind::Budget, &name, body).await?,
    ))
}

/// Deletes a budget and its monthly state.
#[utoipa::path(delete, path = "/budgets/{name}", tag = "alerts",
    params(("name" = String, Path, description = "Budget name")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_budget(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    delete_config(&state, ConfigKind::Budget, &name).await
}

// ---- history and state -----------------------------------------------------------------------

/// `GET /alerts/history` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertHistoryQuery {
    /// RFC 3339 time or unix milliseconds; default: 7 days ago.
    pub since: Option<String>,
    /// Only this service's entries.
    pub service: Option<String>,
    /// At most this many (default 200, at most 1000).
    pub limit: Option<i64>,
}

fn parse_since(s: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "since: {s:?} is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor unix milliseconds"
            ))
        })
}

/// Alert history, newest first: every firing, reminder, resolve and budget threshold, with
/// whether it was sent and why not.
#[utoipa::path(get, path = "/alerts/history", tag = "alerts", params(AlertHistoryQuery),
    responses((status = 200, body = Vec<Object>)))]
pub async fn alert_history(
    State(state): State<AppState>,
    Query(q): Query<AlertHistoryQuery>,
) -> ApiResult<ApiJson<Vec<Value>>> {
    if !state.settings.features.enabled(Feature::CostAlerts) {
        alerts_on(&state)?;
    }
    let since = match q.since.as_deref() {
        Some(s) => parse_since(s)?,
        None => state.clock.now_ms() - 7 * 86_400_000,
    };
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let rows = state
        .store
        .alert_history(since, q.service.as_deref(), limit)
        .await?;
    Ok(ApiJson(alerting::history_json(&rows)))
}

/// `GET /alerts/states` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatesQuery {
    /// Only this service's states.
    pub service: Option<String>,
}

/// The state of each (rule, service) that has one: firing or not, since when, the latest
/// message.
#[utoipa::path(get, path = "/alerts/states", tag = "alerts", params(StatesQuery),
    responses((status = 200, body = Vec<Object>)))]
pub async fn alert_states(
    State(state): State<AppState>,
    Query(q): Query<StatesQuery>,
) -> ApiResult<ApiJson<Vec<Value>>> {
    alerts_on(&state)?;
    let rows = state.store.alert_states().await?;
    Ok(ApiJson(
        rows.iter()
            .filter(|r| q.service.as_deref().is_none_or(|s| s == r.service))
            .map(|r| {
                let s = &r.state;
                json!({
                    "alert": r.rule,
                    "service": r.service,
                    "firing": r.firing,
                    "started_at": s.get("started_at_ms").and_then(Value::as_i64).map(rfc3339),
                    "fired_at": s.get("fired_at_ms").and_then(Value::as_i64).map(rfc3339),
                    "announced": s.get("announced"),
                    "message": s.get("message"),
                    "updated_at": rfc3339(r.updated_at),
                })
            })
            .collect(),
    ))
}
