//! Vendor status pages in the Atlassian Statuspage v2 format (`GET <page>/api/v2/summary.json`):
//! parse the bytes into a [`VendorStatus`] and say it in one line.
//!
//! The format (Statuspage's public API documentation): `page {id, name, url, updated_at}`,
//! `status {indicator: none|minor|major|critical, description}`, `components[] {name, status:
//! operational|degraded_performance|partial_outage|major_outage|under_maintenance, group,
//! group_id, only_show_if_degraded}`, `incidents[]` (unresolved) `{name, status:
//! investigating|identified|monitoring|…, impact, shortlink}` and `scheduled_maintenances[]`
//! `{name, status: scheduled|in_progress|verifying|completed, scheduled_for, scheduled_until}`.
//!
//! Pages in the wild differ (missing fields, extra indicators such as `maintenance`, custom
//! statuses), so the reader is lenient: unknown values are kept as text, missing fields are
//! left empty, and only a body that is not a JSON object with a `status` or `components` is an
//! error. Fetching is the server's job; this never does I/O.

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The page's overall indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// All systems operational.
    None,
    /// Minor problems.
    Minor,
    /// Major problems.
    Major,
    /// Critical problems.
    Critical,
    /// Maintenance in progress.
    Maintenance,
    /// Something else (kept verbatim).
    #[serde(untagged)]
    Other(String),
}

impl Indicator {
    fn parse(s: &str) -> Indicator {
        match s {
            "none" => Indicator::None,
            "minor" => Indicator::Minor,
            "major" => Indicator::Major,
            "critical" => Indicator::Critical,
            "maintenance" => Indicator::Maintenance,
            other => Indicator::Other(other.to_owned()),
        }
    }
}

/// A component's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// Working.
    Operational,
    /// Slow.
    DegradedPerformance,
    /// Partly down.
    PartialOutage,
    /// Down.
    MajorOutage,
    /// In maintenance.
    UnderMaintenance,
    /// Something else (kept verbatim).
    #[serde(untagged)]
    Other(String),
}

impl ComponentStatus {
    fn parse(s: &str) -> ComponentStatus {
        match s {
            "operational" => ComponentStatus::Operational,
            "degraded_performance" => ComponentStatus::DegradedPerformance,
            "partial_outage" => ComponentStatus::PartialOutage,
            "major_outage" => ComponentStatus::MajorOutage,
            "under_maintenance" => ComponentStatus::UnderMaintenance,
            other => ComponentStatus::Other(other.to_owned()),
        }
    }

    /// In words, as Statuspage shows it.
    pub fn words(&self) -> String {
        match self {
            ComponentStatus::Operational => "Operational".into(),
            ComponentStatus::DegradedPerformance => "Degraded performance".into(),
            ComponentStatus::PartialOutage => "Partial outage".into(),
            ComponentStatus::MajorOutage => "Major outage".into(),
            ComponentStatus::UnderMaintenance => "Under maintenance".into(),
            ComponentStatus::Other(s) => s.replace('_', " "),
        }
    }

    /// Severity for ordering (higher is worse).
    fn severity(&self) -> u8 {
        match self {
            ComponentStatus::Operational => 0,
            ComponentStatus::UnderMaintenance => 1,
            ComponentStatus::Other(_) => 2,
            ComponentStatus::DegradedPerformance => 3,
            ComponentStatus::PartialOutage => 4,
            ComponentStatus::MajorOutage => 5,
        }
    }
}

/// A component that is not operational.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorComponent {
    /// Name.
    pub name: String,
    /// Status.
    pub status: ComponentStatus,
}

/// An unresolved incident or an in-progress maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorIncident {
    /// Title.
    pub name: String,
    /// `investigating`, `identified`, `monitoring`, `in_progress`, …
    pub status: String,
    /// `none`, `minor`, `major`, `critical`, `maintenance`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// Short link to the incident page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortlink: Option<String>,
    /// A scheduled maintenance rather than an incident.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maintenance: bool,
}

/// What a vendor's status page says now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorStatus {
    /// The page's name (usually the vendor: "GitHub").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// The page's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Overall indicator.
    pub indicator: Indicator,
    /// Overall description ("All Systems Operational", "Partial System Outage").
    pub description: String,
    /// Components that are not operational, worst first (groups left out).
    pub components: Vec<VendorComponent>,
    /// Unresolved incidents, then in-progress maintenances.
    pub incidents: Vec<VendorIncident>,
    /// When the page was last updated, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at_ms: Option<i64>,
}

/// Why a body could not be read as a Statuspage summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusPageError {
    /// Not JSON.
    #[error("status page answered something that is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not a Statuspage summary.
    #[error(
        "status page answered JSON without a status or components; is this an Atlassian Statuspage v2 page?"
    )]
    NotASummary,
}

/// `<base>/api/v2/summary.json` for a page's base URL.
pub fn summary_url(base: &str) -> String {
    format!("{}/api/v2/summary.json", base.trim_end_matches('/'))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

/// Parses a `summary.json` body.
pub fn parse_summary(body: &[u8]) -> Result<VendorStatus, StatusPageError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| StatusPageError::NotJson(e.to_string()))?;
    if !v.is_object() || (v.get("status").is_none() && v.get("components").is_none()) {
        return Err(StatusPageError::NotASummary);
    }
    let status = v.get("status").cloned().unwrap_or(Value::Null);
    let mut components: Vec<VendorComponent> = v
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("group").and_then(Value::as_bool) != Some(true))
        .filter_map(|c| {
            let status = ComponentStatus::parse(&text(c, "status")?);
            (status != ComponentStatus::Operational).then(|| VendorComponent {
                name: text(c, "name").unwrap_or_else(|| "(unnamed component)".into()),
                status,
            })
        })
        .collect();
    components.sort_by_key(|c| std::cmp::Reverse(c.status.severity()));
    let entries = |key: &str, maintenance: bool| -> Vec<VendorIncident> {
        v.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let status = text(i, "status").unwrap_or_else(|| "unknown".into());
                // Summaries list only unresolved incidents, but a lenient reader checks; upcoming
                // or finished maintenances are not happening now.
                let current = if maintenance {
                    matches!(status.as_str(), "in_progress" | "verifying")
                } else {
                    !matches!(status.as_str(), "resolved" | "postmortem" | "completed")
                };
                current.then(|| VendorIncident {
                    name: text(i, "name").unwrap_or_else(|| "(untitled incident)".into()),
                    status,
                    impact: text(i, "impact"),
                    shortlink: text(i, "shortlink"),
                    maintenance,
                })
            })
            .collect()
    };
    let mut incidents = entries("incidents", false);
    incidents.extend(entries("scheduled_maintenances", true));
    let page = v.get("page").cloned().unwrap_or(Value::Null);
    Ok(VendorStatus {
        page: text(&page, "name"),
        url: text(&page, "url"),
        indicator: text(&status, "indicator").map_or(Indicator::None, |s| Indicator::parse(&s)),
        description: text(&status, "description").unwrap_or_else(|| "No description".into()),
        components,
        incidents,
        updated_at_ms: text(&page, "updated_at")
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.timestamp_millis()),
    })
}

impl VendorStatus {
    /// Whether the vendor reports a problem: an indicator other than `none`, an unresolved
    /// incident or maintenance, or a component that is not operational.
    pub fn reports_problem(&self) -> bool {
        self.indicator != Indicator::None
            || !self.incidents.is_empty()
            || !self.components.is_empty()
    }

    /// The most telling thing the page says: the first unresolved incident's name, else the
    /// worst component ("Degraded performance: API Requests"), else the description.
    pub fn headline(&self) -> String {
        if let Some(i) = self
            .incidents
            .iter()
            .find(|i| !i.maintenance)
            .or(self.incidents.first())
        {
            return i.name.clone();
        }
        if let Some(c) = self.components.first() {
            return format!("{}: {}", c.status.words(), c.name);
        }
        self.description.clone()
    }

    /// One line for reports, incidents and notifications.
    pub fn summary(&self) -> String {
        let who = self.page.as_deref().unwrap_or("The vendor");
        if !self.reports_problem() {
            return format!("{who} reports: {}", self.description);
        }
        let mut parts = vec![self.description.clone()];
        if !self.incidents.is_empty() {
            parts.push(
                self.incidents
                    .iter()
                    .map(|i| match &i.shortlink {
                        Some(l) => format!("'{}' ({}, {l})", i.name, i.status),
                        None => format!("'{}' ({})", i.name, i.status),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        if !self.components.is_empty() {
            let shown: Vec<String> = self
                .components
                .iter()
                .take(5)
                .map(|c| format!("{}: {}", c.status.words(), c.name))
                .collect();
            let more = self.components.len().saturating_sub(5);
            parts.push(if more > 0 {
                format!("{} (+{more} more)", shown.join(", "))
            } else {
                shown.join(", ")
            });
        }
        format!("{who} reports: {}", parts.join(" — "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_on_odd_bodies() {
        assert!(matches!(
            parse_summary(b"<html>"),
            Err(StatusPageError::NotJson(_))
        ));
        assert_eq!(parse_summary(b"[]"), Err(StatusPageError::NotASummary));
        assert_eq!(
            parse_summary(br#"{"page": {}}"#),
            Err(StatusPageError::NotASummary)
        );
        let s = parse_summary(br#"{"status": {"indicator": "elevated"}, "components": [{"status": "flaky"}, {"name": "x"}], "incidents": null}"#);
        let s = s.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.indicator, Indicator::Other("elevated".into()));
        assert_eq!(
            s.components,
            vec![VendorComponent {
                name: "(unnamed component)".into(),
                status: ComponentStatus::Other("flaky".into())
            }]
        );
        assert!(s.reports_problem());
        assert_eq!(
            summary_url("https://www.githubstatus.com/"),
            "https://www.githubstatus.com/api/v2/summary.json"
        );
    }
}
