//! `/incidents`: list, read, acknowledge, resolve and annotate incidents; and
//! `/services/{name}/incidents`: a service's open incident, MTTA / MTTR over 30 days and the
//! vendor status stored with its latest failed check. Gated by the `incidents` feature.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use opsdeck_monitor::incident::{
    Incident, IncidentError, IncidentState, ResponseTimes, response_times,
};
use opsdeck_monitor::statuspage::VendorStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::features::{Feature, require};
use crate::json::ApiJson;
use crate::snapshot::rfc3339;
use crate::state::AppState;

/// Incidents answered by one list call at most.
pub const MAX_INCIDENTS: i64 = 500;
/// The MTTA / MTTR window.
pub const RESPONSE_WINDOW_DAYS: i64 = 30;

/// A service in an incident.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentServiceView {
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// Provider display name.
    pub provider_name: String,
    /// Host of the service's own base URL, when it has one.
    pub host: Option<String>,
    /// Latest failure kind.
    pub failure: Option<String>,
    /// Latest failure (RFC 3339).
    pub failed_at: String,
    /// When it recovered (RFC 3339), null while failing.
    pub recovered_at: Option<String>,
}

/// One timeline line.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineView {
    /// RFC 3339.
    pub at: String,
    /// `opened`, `service_failed`, `service_recovered`, `cause`, `vendor_status`,
    /// `deployment`, `notification`, `acknowledged`, `note`, `resolved`.
    #[schema(example = "vendor_status")]
    pub kind: String,
    /// In words.
    pub text: String,
}

/// An incident.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    /// Id.
    pub id: i64,
    /// Title in words.
    pub title: String,
    /// `open`, `acknowledged` or `resolved`.
    #[schema(example = "open")]
    pub state: String,
    /// `vendor_outage`, `credentials`, `network`, `rate_limit` or `unknown`.
    #[schema(example = "vendor_outage")]
    pub cause: String,
    /// Services involved.
    pub services: Vec<IncidentServiceView>,
    /// RFC 3339.
    pub opened_at: String,
    /// RFC 3339, null until acknowledged.
    pub acknowledged_at: Option<String>,
    /// RFC 3339, null until resolved.
    pub resolved_at: Option<String>,
    /// What the vendor's status page says, when it bears on the incident: `indicator`,
    /// `description`, `components`, `incidents` (name, status, shortlink), `summary`.
    #[schema(value_type = Option<Object>)]
    pub vendor_status: Option<Value>,
    /// Oldest first.
    pub timeline: Vec<TimelineView>,
}

fn word<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Vendor status as the API shows it: the reader's fields plus a one-line `summary`.
pub fn vendor_json(v: &VendorStatus) -> Value {
    let mut value = serde_json::to_value(v).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("summary".into(), Value::String(v.summary()));
        if let Some(at) = v.updated_at_ms {
            map.insert("updated_at".into(), Value::String(rfc3339(at)));
            map.remove("updated_at_ms");
        }
    }
    value
}

/// The API view of an incident.
pub fn incident_view(i: &Incident) -> IncidentView {
    IncidentView {
        id: i.id,
        title: i.title.clone(),
        state: word(&i.state),
        cause: i.cause.as_str().to_owned(),
        services: i
            .services
            .iter()
            .map(|s| IncidentServiceView {
                service: s.service.clone(),
                provider: s.provider.clone(),
                provider_name: s.provider_name.clone(),
                host: s.host.clone(),
                failure: s.failure.map(|f| f.as_str().to_owned()),
                failed_at: rfc3339(s.failed_at_ms),
                recovered_at: s.recovered_at_ms.map(rfc3339),
            })
            .collect(),
        opened_at: rfc3339(i.opened_at_ms),
        acknowledged_at: i.acknowledged_at_ms.map(rfc3339),
        resolved_at: i.resolved_at_ms.map(rfc3339),
        vendor_status: i.vendor_status.as_ref().map(vendor_json),
        timeline: i
            .timeline
            .iter()
            .map(|e| TimelineView {
                at: rfc3339(e.at_ms),
                kind: word(&e.kind),
                text: e.text.clone(),
            })
            .collect(),
    }
}

/// `GET /incidents` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct IncidentsQuery {
    /// `open`, `acknowledged` or `resolved`; all when absent.
    #[param(pattern = "^(open|acknowledged|resolved)$")]
    pub state: Option<String>,
    /// Only incidents opened at or after this time: RFC 3339 (`2026-12-01T00:00:00Z`) or a
    /// duration back from now (`24h`, `7d`).
    pub since: Option<String>,
    /// At most this many (1 to 500, default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

fn parse_state(raw: &str) -> ApiResult<IncidentState> {
    serde_json::from_value(Value::String(raw.trim().to_owned())).map_err(|_| {
        ApiError::field(
            "state",
            format!("use open, acknowledged or resolved, got {raw:?}"),
        )
    })
}

fn parse_since(raw: &str, now_ms: i64) -> ApiResult<i64> {
    let raw = raw.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp_millis());
    }
    match humantime::parse_duration(raw) {
        Ok(d) => Ok(now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
        Err(_) => Err(ApiError::field(
            "since",
            format!("use an RFC 3339 time or a duration such as 24h or 7d, got {raw:?}"),
        )),
    }
}

fn parse_limit(raw: Option<&str>) -> ApiResult<i64> {
    let Some(raw) = raw else { return Ok(100) };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_INCIDENTS).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            "limit",
            format!("must be a whole number from 1 to {MAX_INCIDENTS}, got {raw:?}"),
        )),
    }
}

/// Incidents, unresolved first (newest first within each group).
#[utoipa::path(get, path = "/incidents", tag = "incidents", params(IncidentsQuery),
    responses((status = 200, body = Vec<IncidentView>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "the incidents feature is off"),
        (status = 422, body = ErrorBody, description = "bad state, since or limit")))]
pub async fn list_incidents(
    State(state): State<AppState>,
    Query(q): Query<IncidentsQuery>,
) -> ApiResult<ApiJson<Vec<IncidentView>>> {
    require(&state.settings.features, Feature::Incidents)?;
    let st = q.state.as_deref().map(parse_state).transpose()?;
    let since = q
        .since
        .as_deref()
        .map(|s| parse_since(s, state.clock.now_ms()))
        .transpose()?;
    let limit = parse_limit(q.limit.as_deref())?;
    let list = state.store.list_incidents(st, since, limit).await?;
    Ok(ApiJson(list.iter().map(incident_view).collect()))
}

fn parse_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no incident {raw:?}")))
}

/// One incident with its timeline.
#[utoipa::path(get, path = "/incidents/{id}", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<IncidentView>> {
    require(&state.settings.features, Feature::Incidents)?;
    let id = parse_id(&id)?;
    let stored = state
        .store
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
    Ok(ApiJson(incident_view(&stored.incident)))
}

fn refused(e: IncidentError) -> ApiError {
    match e {
        IncidentError::EmptyNote => ApiError::field("text", "a note needs some text"),
        other => ApiError::IncidentState(other.to_string()),
    }
}

/// Applies a change to an incident, re-reading it when the incidents loop changed it first.
async fn change(
    state: &AppState,
    raw_id: &str,
    apply: impl Fn(&mut Incident, i64) -> Result<(), IncidentError>,
) -> ApiResult<ApiJson<IncidentView>> {
    require(&state.settings.features, Feature::Incidents)?;
    let id = parse_id(raw_id)?;
    for _attempt in 0..5 {
        let stored = state
            .store
            .incident(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no incident {id}")))?;
        let mut inc = stored.incident;
        apply(&mut inc, state.clock.now_ms()).map_err(refused)?;
        if state.store.update_incident(&inc, stored.version).await? {
            return Ok(ApiJson(incident_view(&inc)));
        }
    }
    Err(ApiError::Internal(format!(
        "incident {id} kept changing while it was being updated"
    )))
}

/// Who did it, for the timeline. Tokens carry no user name; the role is what is known.
const BY: &str = "an admin";

/// Acknowledges an open incident (409 `incident_state` when acknowledged or resolved already).
#[utoipa::path(post, path = "/incidents/{id}/ack", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "already acknowledged or resolved")))]
pub async fn ack_incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<IncidentView>> {
    change(&state, &id, |inc, now| inc.acknowledge(BY, now)).await
}

/// Resolves an incident by hand (409 `incident_state` when resolved already).
#[utoipa::path(post, path = "/incidents/{id}/resolve", tag = "incidents",
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "already resolved")))]
pub async fn resolve_incident(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<ApiJson<IncidentView>> {
    change(&state, &id, |inc, now| inc.resolve(BY, now)).await
}

/// `POST /incidents/{id}/notes` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// The note (1 to 4000 characters).
    pub text: String,
}

/// Longest note.
pub const MAX_NOTE_CHARS: usize = 4000;

/// Adds a note to the timeline (also on a resolved incident, for the post-mortem).
#[utoipa::path(post, path = "/incidents/{id}/notes", tag = "incidents", request_body = NewNote,
    params(("id" = i64, Path, description = "Incident id")),
    responses((status = 200, body = IncidentView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "empty or too long")))]
pub async fn add_note(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewNote>,
) -> ApiResult<ApiJson<IncidentView>> {
    if body.text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::field(
            "text",
            format!("at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    if body
        .text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::field(
            "text",
            "control characters are not allowed",
        ));
    }
    let text = body.text;
    change(&state, &id, move |inc, now| inc.add_note(BY, &text, now)).await
}

/// MTTA / MTTR of one service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceIncidentsView {
    /// Service name.
    pub service: String,
    /// The unresolved incident the service is in: `{"id","title"}`, or null.
    #[schema(value_type = Option<Object>)]
    pub open_incident: Option<Value>,
    /// The window of the numbers below, in days (30).
    pub window_days: i64,
    /// Incidents involving the service opened in the window.
    pub incidents: usize,
    /// Of those, acknowledged.
    pub acknowledged: usize,
    /// Of those, resolved.
    pub resolved: usize,
    /// Mean time to acknowledge, ms (null without acknowledged incidents).
    pub mtta_ms: Option<i64>,
    /// Mean time to resolve, ms (null without resolved incidents).
    pub mttr_ms: Option<i64>,
    /// What the vendor's status page said when the service's latest check failed (the
    /// report's `details.vendor_status`); null when the check passed or the vendor reported
    /// nothing.
    #[schema(value_type = Option<Object>)]
    pub vendor_status: Option<Value>,
    /// The service's incidents in the window, newest first.
    pub recent: Vec<IncidentView>,
}

/// A service's open incident, MTTA / MTTR over 30 days and its latest vendor status.
#[utoipa::path(get, path = "/services/{name}/incidents", tag = "incidents",
    params(("name" = String, Path, description = "Service name")),
    responses((status = 200, body = ServiceIncidentsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn service_incidents(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<ApiJson<ServiceIncidentsView>> {
    require(&state.settings.features, Feature::Incidents)?;
    let rec = state.store.get_service(&name).await?;
    let now = state.clock.now_ms();
    let from = now - RESPONSE_WINDOW_DAYS * 86_400_000;
    let list = state.store.incidents_of_service(&rec.name, from).await?;
    let times: ResponseTimes = response_times(&list, Some(&rec.name), from, now + 1);
    let open = state.store.open_incident_of(&rec.name).await?;
    let vendor = state.store.latest_vendor_status(rec.id).await?;
    let mut recent: Vec<IncidentView> = list.iter().map(incident_view).collect();
    recent.reverse();
    Ok(ApiJson(ServiceIncidentsView {
        service: rec.name,
        open_incident: open.map(|(id, title)| {
            let mut m = BTreeMap::new();
            m.insert("id", Value::from(id));
            m.insert("title", Value::from(title));
            serde_json::to_value(m).unwrap_or(Value::Null)
        }),
        window_days: RESPONSE_WINDOW_DAYS,
        incidents: times.incidents,
        acknowledged: times.acknowledged,
        resolved: times.resolved,
        mtta_ms: times.mtta_ms,
        mttr_ms: times.mttr_ms,
        vendor_status: vendor.as_ref().map(vendor_json),
        recent,
    }))
}
