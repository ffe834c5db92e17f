//! Output: tables for people (fitted to the terminal by [`crate::fit`]), JSON for machines, a
//! progress bar on terminals. Nothing here prints colour codes unless stdout is a terminal.

use std::io::IsTerminal as _;

use comfy_table::Color;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use opsdeck::domain::{
    AiUsage, CostReport, Deployment, DeploymentState, Money, TimeWindow, sum_by_currency,
};
use opsdeck::manager::CrossProviderEntry;
use opsdeck::rust_decimal::Decimal;
use opsdeck::{ConfigErrors, FailureKind, ProviderDescriptor, ServiceFactory, Status};
use serde::Serialize;

use crate::fit::{self, Column, Fit, Layout, Row, Text};

pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => outln!("{s}"),
        Err(e) => eprintln!("error: could not render JSON: {e}"),
    }
}

pub fn progress(total: usize, json: bool, verb: &'static str) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() || total < 2 {
        return ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} {verb} {{pos}}/{{len}} {{bar:30}} {{msg}}"
    )) {
        bar.set_style(style);
    }
    bar
}

pub fn config_errors(errors: &ConfigErrors, json: bool) {
    if json {
        print_json(&serde_json::json!({
            "error": "invalid_config",
            "problems": errors.problems,
        }));
    }
    eprintln!("error: {errors}");
}

/// A fitted table with its footer lines and, when anything was shortened, how to see it all.
fn finish(fitted: &fit::Fitted, footer: &[String], layout: Layout) -> String {
    let mut out = fitted.render();
    for line in footer.iter().filter(|l| !l.is_empty()) {
        out.push('\n');
        out.push_str(line);
    }
    if fitted.shortened {
        out.push('\n');
        out.push_str(&fit::wide_hint(layout.width));
    }
    out
}

fn paragraph(text: &str, layout: Layout) -> String {
    match layout.width {
        Some(w) => fit::wrap(text, w).join("\n"),
        None => text.to_owned(),
    }
}

pub fn providers_table(factory: &ServiceFactory, layout: Layout) -> String {
    const COLUMNS: &[Column] = &[
        Column::new("ID", Fit::Keep),
        Column::new("NAME", Fit::Wrap),
        Column::new("CATEGORY", Fit::Keep),
        Column::new("FIELDS", Fit::Wrap),
        Column::new("DESCRIPTION", Fit::Wrap),
    ];
    let rows: Vec<Row> = factory
        .providers()
        .map(|d| {
            let fields: Vec<String> = d
                .fields
                .iter()
                .map(|f| {
                    let mut s = f.name.to_owned();
                    if f.required {
                        s.push('*');
                    }
                    if f.secret {
                        s.push_str(" (secret)");
                    }
                    s
                })
                .collect();
            Row::new(
                d.id,
                vec![
                    d.id.into(),
                    d.name.into(),
                    d.category.to_string().into(),
                    fields.join(", ").into(),
                    d.description.into(),
                ],
            )
        })
        .collect();
    let fitted = fit::fit(COLUMNS, &rows, layout);
    finish(
        &fitted,
        &["* required. Details: opsdeck providers show <ID>".into()],
        layout,
    )
}

pub fn provider_detail(d: &ProviderDescriptor, layout: Layout) -> String {
    const COLUMNS: &[Column] = &[
        Column::new("FIELD", Fit::Keep),
        Column::new("TYPE", Fit::Wrap),
        Column::new("REQUIRED", Fit::Keep),
        Column::new("SECRET", Fit::Keep),
        Column::new("DEFAULT", Fit::Keep),
        Column::new("DESCRIPTION", Fit::Wrap),
    ];
    let rows: Vec<Row> = d
        .fields
        .iter()
        .map(|f| {
            Row::new(
                f.name,
                vec![
                    f.name.into(),
                    f.kind.describe().into(),
                    if f.required { "yes" } else { "no" }.into(),
                    if f.secret { "yes" } else { "no" }.into(),
                    f.default.unwrap_or("").into(),
                    f.description.into(),
                ],
            )
        })
        .collect();
    let fitted = fit::fit(COLUMNS, &rows, layout);
    format!(
        "{} ({}, {})\n{}\nDocs: {}\n{}",
        d.name,
        d.id,
        d.category,
        paragraph(d.description, layout),
        d.docs_url,
        finish(
            &fitted,
            &[format!(
                "JSON Schema: opsdeck providers show {} --json",
                d.id
            )],
            layout
        )
    )
}

/// One row of `opsdeck test`, independent of how the report was made.
#[derive(Debug, Clone, Copy)]
pub struct TestRow<'a> {
    /// Service name.
    pub service: &'a str,
    /// Provider id.
    pub provider: &'a str,
    /// Outcome.
    pub status: Status,
    /// Disabled in the config: not tested, not counted.
    pub disabled: bool,
    /// Why, when not connected.
    pub failure: Option<FailureKind>,
    /// Wall time of the check.
    pub latency_ms: u64,
    /// Account the credentials belong to.
    pub identity: Option<&'a str>,
    /// What happened.
    pub message: &'a str,
    /// What to do about it, when the report says.
    pub hint: Option<&'a str>,
}

/// A report's sentence with its advice after it, as people read them together.
fn with_hint(message: &str, hint: Option<&str>) -> String {
    match hint.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => format!("{message} {h}"),
        None => message.to_owned(),
    }
}

fn status_text(row: &TestRow) -> Text {
    if row.disabled {
        return "disabled".into();
    }
    let color = match row.status {
        Status::Connected => Color::Green,
        Status::Failed => Color::Red,
        Status::Unknown => Color::Yellow,
    };
    Text::colored(row.status.as_str(), color)
}

pub fn reports_table(rows: &[TestRow], layout: Layout) -> String {
    const COLUMNS: &[Column] = &[
        Column::new("SERVICE", Fit::Keep),
        Column::new("PROVIDER", Fit::Keep),
        Column::new("STATUS", Fit::Keep),
        Column::new("FAILURE", Fit::Keep),
        Column::new("LATENCY", Fit::Keep),
        Column::new("IDENTITY", Fit::Cut),
        Column::new("MESSAGE", Fit::Message),
    ];
    if rows.is_empty() {
        return "No services to test.".into();
    }
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            let row = Row::new(
                r.service,
                vec![
                    r.service.into(),
                    r.provider.into(),
                    status_text(r),
                    r.failure.map_or("", |f| f.as_str()).into(),
                    if r.disabled {
                        String::new()
                    } else {
                        format!("{} ms", r.latency_ms)
                    }
                    .into(),
                    r.identity.unwrap_or("").into(),
                    // "disabled" says it all; the report's sentence would only repeat it.
                    if r.disabled {
                        String::new()
                    } else {
                        with_hint(r.message, r.hint)
                    }
                    .into(),
                ],
            );
            // Connected messages stay: they carry warnings such as a token about to expire.
            if r.disabled { row.quiet() } else { row }
        })
        .collect();
    let fitted = fit::fit(COLUMNS, &table_rows, layout);
    let enabled = rows.iter().filter(|r| !r.disabled).count();
    let connected = rows
        .iter()
        .filter(|r| !r.disabled && r.status == Status::Connected)
        .count();
    let disabled = rows.len() - enabled;
    let mut footer = format!("{connected}/{enabled} connected");
    if disabled > 0 {
        footer.push_str(&format!(", {disabled} disabled (not tested)"));
    }
    finish(&fitted, &[footer], layout)
}

/// One metric sample of `opsdeck metrics`.
#[derive(Debug, Clone)]
pub struct MetricRow<'a> {
    /// Service name.
    pub service: &'a str,
    /// Metric name.
    pub name: &'a str,
    /// `k=v, k=v`.
    pub labels: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: std::borrow::Cow<'a, str>,
}

/// A service whose collection failed.
#[derive(Debug, Clone, Copy)]
pub struct MetricsError<'a> {
    /// Service name.
    pub service: &'a str,
    /// Failure kind.
    pub failure: FailureKind,
    /// What happened.
    pub message: &'a str,
    /// What to do about it, when the collector says.
    pub hint: Option<&'a str>,
}

/// A section of a service's metrics that failed while the others were collected.
#[derive(Debug, Clone, Copy)]
pub struct MetricsProblem<'a> {
    /// Service name.
    pub service: &'a str,
    /// The section that failed (`charges`, `repositories`, …).
    pub section: &'a str,
    /// Failure kind.
    pub failure: FailureKind,
    /// What happened.
    pub message: &'a str,
}

/// The samples as a table; failed services, failed sections of partially collected services
/// and notes as sentences under it.
pub fn metrics_table(
    rows: &[MetricRow],
    errors: &[MetricsError],
    problems: &[MetricsProblem],
    notes: &[(&str, &str)],
    services: usize,
    layout: Layout,
) -> String {
    const COLUMNS: &[Column] = &[
        Column::new("SERVICE", Fit::Keep),
        Column::new("METRIC", Fit::Keep),
        Column::new("LABELS", Fit::Wrap),
        Column::new("VALUE", Fit::Keep),
        Column::new("UNIT", Fit::Keep),
    ];
    let mut out = Vec::new();
    let mut shortened = false;
    if rows.is_empty() {
        out.push("No metrics collected.".to_owned());
    } else {
        let table_rows: Vec<Row> = rows
            .iter()
            .map(|m| {
                Row::new(
                    m.service,
                    vec![
                        m.service.into(),
                        m.name.into(),
                        m.labels.clone().into(),
                        format_value(m.value).into(),
                        m.unit.to_string().into(),
                    ],
                )
            })
            .collect();
        let fitted = fit::fit(COLUMNS, &table_rows, layout);
        shortened = fitted.shortened;
        out.push(fitted.render());
    }
    for e in errors {
        out.push(fit::list_item(
            e.service,
            &format!(
                "error ({}): {}",
                e.failure.as_str(),
                with_hint(e.message, e.hint)
            ),
            layout.width,
        ));
    }
    for p in problems {
        out.push(fit::list_item(
            p.service,
            &format!(
                "{} not collected ({}): {}",
                p.section,
                p.failure.as_str(),
                p.message
            ),
            layout.width,
        ));
    }
    for (service, note) in notes {
        out.push(fit::list_item(
            &format!("note: {service}"),
            note,
            layout.width,
        ));
    }
    let mut partial: Vec<&str> = problems.iter().map(|p| p.service).collect();
    partial.dedup();
    out.push(if partial.is_empty() {
        format!(
            "{}/{services} service(s) collected",
            services.saturating_sub(errors.len())
        )
    } else {
        format!(
            "{}/{services} service(s) collected, {} of them partially",
            services.saturating_sub(errors.len()),
            partial.len()
        )
    });
    if shortened {
        out.push(fit::wide_hint(layout.width));
    }
    out.join("\n")
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

// ---- cross-provider questions (ai-usage, costs, deployments) ----

/// An amount for people: at least 2 and at most 4 decimals (`--json` has the exact value).
fn format_amount(amount: Decimal) -> String {
    let mut a = amount.round_dp(4).normalize();
    if a.scale() < 2 {
        a.rescale(2);
    }
    a.to_string()
}

fn format_money(m: &Money) -> String {
    format!("{} {}", format_amount(m.amount), m.currency)
}

fn format_moneys(list: &[Money]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter().map(format_money).collect::<Vec<_>>().join(", ")
    }
}

fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn format_window(w: &TimeWindow) -> String {
    format!("{} → {}", format_time(w.start), format_time(w.end))
}

/// The unavailable / error text of an entry without a result.
fn problem_text<T>(e: &CrossProviderEntry<T>) -> Text {
    if let Some(err) = e.error() {
        Text::colored(
            format!(
                "error ({}): {}",
                err.failure.as_str(),
                with_hint(&err.message, err.hint.as_deref())
            ),
            Color::Red,
        )
    } else if let Some(why) = e.unavailable() {
        Text::colored(format!("unavailable: {why}"), Color::Yellow)
    } else {
        Text::colored("no answer", Color::Yellow)
    }
}

/// The entries worth a row, and a line naming the services whose provider does not offer the
/// question at all (a GitHub service in `ai-usage`): listed once instead of a row each.
fn split<T>(entries: &[CrossProviderEntry<T>]) -> (Vec<&CrossProviderEntry<T>>, String) {
    let (skipped, shown): (Vec<_>, Vec<_>) = entries.iter().partition(|e| {
        e.unavailable()
            .is_some_and(|u| u.kind == opsdeck::UnavailableKind::NotOffered)
    });
    let note = if skipped.is_empty() {
        String::new()
    } else {
        format!(
            "Not offered by the provider of: {}",
            skipped
                .iter()
                .map(|e| format!("{} ({})", e.service(), e.provider()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    (shown, note)
}

const NOTHING_TO_ASK: &str = "No enabled services to ask.";
const NO_ONE_CAN_ANSWER: &str = "None of the services can answer this.";

/// "2 answered, 1 unavailable, 1 failed".
fn tally<T>(entries: &[&CrossProviderEntry<T>]) -> String {
    let answered = entries.iter().filter(|e| e.result().is_some()).count();
    let unavailable = entries.iter().filter(|e| e.unavailable().is_some()).count();
    let failed = entries.iter().filter(|e| e.error().is_some()).count();
    format!("{answered} answered, {unavailable} unavailable, {failed} failed")
}

/// One "Total cost: …" line per currency.
fn total_lines<'a>(costs: impl IntoIterator<Item = &'a Money>) -> String {
    let totals = sum_by_currency(costs);
    if totals.is_empty() {
        "Total cost: none reported".into()
    } else {
        totals
            .iter()
            .map(|m| format!("Total cost: {}", format_money(m)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// "None of the services can answer this." and the not-offered line, wrapped.
fn nobody(note: &str, layout: Layout) -> String {
    format!("{NO_ONE_CAN_ANSWER}\n{}", paragraph(note, layout))
}

pub fn ai_usage_table(
    entries: &[CrossProviderEntry<AiUsage>],
    window: TimeWindow,
    layout: Layout,
) -> String {
    const COLUMNS: &[Column] = &[
        Column::new("SERVICE", Fit::Keep),
        Column::new("PROVIDER", Fit::Keep),
        Column::new("MODELS", Fit::Keep),
        Column::new("INPUT TOKENS", Fit::Keep),
        Column::new("CACHED INPUT", Fit::Keep),
        Column::new("OUTPUT TOKENS", Fit::Keep),
        Column::new("COST", Fit::Wrap),
        Column::new("NOTE", Fit::Message),
    ];
    if entries.is_empty() {
        return NOTHING_TO_ASK.into();
    }
    let (entries, note) = split(entries);
    if entries.is_empty() {
        return nobody(&note, layout);
    }
    let mut rows = Vec::new();
    for &e in &entries {
        let mut row: Vec<Text> = vec![e.service().into(), e.provider().into()];
        match e.result() {
            Some(u) => {
                let sum = |f: fn(&opsdeck::domain::ModelUsage) -> u64| -> u64 {
                    u.models.iter().map(f).sum()
                };
                row.extend([
                    u.models.len().to_string().into(),
                    sum(|m| m.input_tokens).to_string().into(),
                    sum(|m| m.cached_input_tokens).to_string().into(),
                    sum(|m| m.output_tokens).to_string().into(),
                    u.cost
                        .as_ref()
                        .map_or_else(|| "not reported".into(), |c| format_moneys(&c.total))
                        .into(),
                    if u.cost.as_ref().is_some_and(|c| c.estimated) {
                        "estimated"
                    } else {
                        ""
                    }
                    .into(),
                ]);
            }
            None => {
                row.extend((0..5).map(|_| Text::default()));
                row.push(problem_text(e));
            }
        }
        rows.push(Row::new(e.service(), row));
    }
    let totals = total_lines(
        entries
            .iter()
            .filter_map(|e| e.result())
            .filter_map(|u| u.cost.as_ref())
            .flat_map(|c| c.total.iter()),
    );
    let fitted = fit::fit(COLUMNS, &rows, layout);
    format!(
        "AI usage, {}\n{}",
        format_window(&window),
        finish(
            &fitted,
            &[totals, tally(&entries), paragraph(&note, layout)],
            layout
        )
    )
}

pub fn costs_table(
    entries: &[CrossProviderEntry<CostReport>],
    window: TimeWindow,
    layout: Layout,
) -> String {
    const COLUMNS: &[Column] = &[
        Column::new("SERVICE", Fit::Keep),
        Column::new("PROVIDER", Fit::Keep),
        Column::new("COST", Fit::Wrap),
        Column::new("PERIOD", Fit::Wrap),
        Column::new("NOTE", Fit::Message),
    ];
    if entries.is_empty() {
        return NOTHING_TO_ASK.into();
    }
    let (entries, note) = split(entries);
    if entries.is_empty() {
        return nobody(&note, layout);
    }
    let mut rows = Vec::new();
    for &e in &entries {
        let mut row: Vec<Text> = vec![e.service().into(), e.provider().into()];
        match e.result() {
            Some(r) => {
                let mut notes = Vec::new();
                if r.estimated {
                    notes.push("estimated".to_owned());
                }
                if let Some(at) = r.cached_at {
                    notes.push(format!("as of {}", format_time(at)));
                }
                row.extend([
                    format_moneys(&r.total).into(),
                    format_window(&r.window).into(),
                    notes.join("; ").into(),
                ]);
            }
            None => {
                row.extend([Text::default(), Text::default()]);
                row.push(problem_text(e));
            }
        }
        rows.push(Row::new(e.service(), row));
    }
    let totals = total_lines(
        entries
            .iter()
            .filter_map(|e| e.result())
            .flat_map(|r| r.total.iter()),
    );
    let fitted = fit::fit(COLUMNS, &rows, layout);
    format!(
        "Costs, {}\n{}",
        format_window(&window),
        finish(
            &fitted,
            &[totals, tally(&entries), paragraph(&note, layout)],
            layout
        )
    )
}

fn state_str(s: DeploymentState) -> &'static str {
    match s {
        DeploymentState::Succeeded => "succeeded",
        DeploymentState::Failed => "failed",
        DeploymentState::Crashed => "crashed",
        DeploymentState::InProgress => "in_progress",
        DeploymentState::Canceled => "canceled",
        DeploymentState::Other => "other",
    }
}

fn state_text(d: &Deployment) -> Text {
    let text = format!("{} ({})", state_str(d.state), d.vendor_state);
    match d.state {
        DeploymentState::Succeeded => Text::colored(text, Color::Green),
        DeploymentState::Failed | DeploymentState::Crashed => Text::colored(text, Color::Red),
        DeploymentState::InProgress => Text::colored(text, Color::Yellow),
        DeploymentState::Canceled | DeploymentState::Other => text.into(),
    }
}

pub fn deployments_table(
    entries: &[CrossProviderEntry<Vec<Deployment>>],
    window: TimeWindow,
    layout: Layout,
) -> String {
    const COLUMNS: &[Column] = &[
        Column::new("SERVICE", Fit::Keep),
        Column::new("PROVIDER", Fit::Keep),
        Column::new("PROJECT", Fit::Keep),
        Column::new("ENVIRONMENT", Fit::Keep),
        Column::new("STATE", Fit::Wrap),
        Column::new("CREATED", Fit::Wrap),
        Column::new("URL / MESSAGE", Fit::Message),
    ];
    if entries.is_empty() {
        return NOTHING_TO_ASK.into();
    }
    let (entries, note) = split(entries);
    if entries.is_empty() {
        return nobody(&note, layout);
    }
    let mut rows = Vec::new();
    let mut by_state: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for &e in &entries {
        let lead = || -> Vec<Text> { vec![e.service().into(), e.provider().into()] };
        match e.result() {
            Some(list) if list.is_empty() => {
                let mut row = lead();
                row.extend((0..4).map(|_| Text::default()));
                row.push("no deployments in the window".into());
                rows.push(Row::new(e.service(), row));
            }
            Some(list) => {
                for d in list {
                    *by_state.entry(state_str(d.state)).or_default() += 1;
                    let mut row = lead();
                    row.extend([
                        d.project.as_deref().unwrap_or("").into(),
                        d.environment.as_deref().unwrap_or("").into(),
                        state_text(d),
                        format_time(d.created_at).into(),
                        d.url.as_deref().unwrap_or("").into(),
                    ]);
                    // A deployment's URL is not worth a line of its own under the table.
                    rows.push(Row::new(e.service(), row).quiet());
                }
            }
            None => {
                let mut row = lead();
                row.extend((0..4).map(|_| Text::default()));
                row.push(problem_text(e));
                rows.push(Row::new(e.service(), row));
            }
        }
    }
    let total: usize = by_state.values().sum();
    let states = by_state
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fitted = fit::fit(COLUMNS, &rows, layout);
    format!(
        "Deployments, {}\n{}",
        format_window(&window),
        finish(
            &fitted,
            &[
                format!(
                    "{total} deployment(s){}{states}",
                    if states.is_empty() { "" } else { ": " }
                ),
                tally(&entries),
                paragraph(&note, layout),
            ],
            layout
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_two_to_four_decimals() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(format_amount(d("0.7")), "0.70");
        assert_eq!(format_amount(d("28.42")), "28.42");
        assert_eq!(format_amount(d("0.702")), "0.702");
        assert_eq!(format_amount(d("1.2408912")), "1.2409");
        assert_eq!(format_amount(d("135")), "135.00");
    }

    const UNAUTHORIZED: &str = "GitHub rejected the credentials (HTTP 401: Bad credentials). \
        Check that they are correct and have not expired or been revoked: create a new token at \
        https://github.com/settings/tokens and set it in GITHUB_TOKEN.";

    fn test_rows() -> Vec<TestRow<'static>> {
        vec![
            TestRow {
                service: "gh-main",
                provider: "github",
                status: Status::Connected,
                disabled: false,
                failure: None,
                latency_ms: 182,
                identity: Some("octocat"),
                message: "Authenticated as octocat (User); token scopes: repo, read:org.",
                hint: None,
            },
            TestRow {
                service: "gh-old",
                provider: "github",
                status: Status::Failed,
                disabled: false,
                failure: Some(FailureKind::InvalidCredentials),
                latency_ms: 95,
                identity: None,
                message: UNAUTHORIZED,
                hint: None,
            },
            TestRow {
                service: "aws-prod",
                provider: "aws",
                status: Status::Connected,
                disabled: false,
                failure: None,
                latency_ms: 1204,
                identity: Some("arn:aws:iam::123456789012:user/opsdeck-readonly"),
                message: "Authenticated as arn:aws:iam::123456789012:user/opsdeck-readonly.",
                hint: None,
            },
            TestRow {
                service: "stripe",
                provider: "stripe",
                status: Status::Unknown,
                disabled: false,
                failure: Some(FailureKind::RateLimited),
                latency_ms: 3001,
                identity: None,
                message: "Stripe rate-limited the check; retry after 30 s.",
                hint: None,
            },
            TestRow {
                service: "jira-legacy",
                provider: "jira",
                status: Status::Unknown,
                disabled: true,
                failure: None,
                latency_ms: 0,
                identity: None,
                message: "Disabled in the configuration (enabled = false); not tested.",
                hint: None,
            },
        ]
    }

    fn widest(s: &str) -> usize {
        s.lines()
            .map(textwrap::core::display_width)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn test_table_at_80_columns() {
        let out = reports_table(&test_rows(), Layout::plain(Some(80)));
        assert!(widest(&out) <= 80, "{out}");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn test_table_at_120_columns() {
        let out = reports_table(&test_rows(), Layout::plain(Some(120)));
        assert!(widest(&out) <= 120, "{out}");
        insta::assert_snapshot!(out);
    }

    #[test]
    fn test_table_wide() {
        insta::assert_snapshot!(reports_table(&test_rows(), Layout::plain(None)));
    }

    #[test]
    fn a_401_takes_a_few_lines_at_80_columns() {
        let rows = &test_rows()[1..2];
        let out = reports_table(rows, Layout::plain(Some(80)));
        // Table (5 lines), the message (at most 4 lines at 80 columns), the footer.
        assert!(out.lines().count() <= 10, "{out}");
        assert!(out.contains("invalid_credentials"), "{out}");
        assert!(out.contains("https://github.com/settings/tokens"), "{out}");
    }

    fn metrics_fixture() -> (
        Vec<MetricRow<'static>>,
        Vec<MetricsError<'static>>,
        Vec<(&'static str, &'static str)>,
    ) {
        let rows = vec![
            MetricRow {
                service: "gh-main",
                name: "github_open_issues",
                labels: "repo=acme/api".into(),
                value: 12.0,
                unit: "count".into(),
            },
            MetricRow {
                service: "gh-main",
                name: "github_workflow_runs",
                labels: "repo=acme/api, conclusion=failure, workflow=Continuous integration".into(),
                value: 3.0,
                unit: "count".into(),
            },
            MetricRow {
                service: "openai",
                name: "openai_cost",
                labels: "currency=usd".into(),
                value: 28.4213,
                unit: "usd".into(),
            },
        ];
        let errors = vec![MetricsError {
            service: "jira",
            failure: FailureKind::InvalidCredentials,
            message: "Jira rejected the credentials (HTTP 401). Check the email and API token \
                      (id.atlassian.com → Security → API tokens).",
            hint: None,
        }];
        let notes = vec![(
            "gh-main",
            "Repositories capped at 50 (max_repos); the metrics cover the first 50.",
        )];
        (rows, errors, notes)
    }

    #[test]
    fn metrics_table_at_80_and_120_columns() {
        let (rows, errors, notes) = metrics_fixture();
        let at80 = metrics_table(&rows, &errors, &[], &notes, 3, Layout::plain(Some(80)));
        assert!(widest(&at80) <= 80, "{at80}");
        // The failure is a sentence under the table, not a kind under LABELS.
        assert!(
            at80.contains("jira: error (invalid_credentials): Jira rejected"),
            "{at80}"
        );
        insta::assert_snapshot!("metrics_80", at80);
        let at120 = metrics_table(&rows, &errors, &[], &notes, 3, Layout::plain(Some(120)));
        assert!(widest(&at120) <= 120, "{at120}");
        insta::assert_snapshot!("metrics_120", at120);
    }

    #[test]
    fn partial_metrics_list_the_failed_section_under_the_table() {
        let (rows, _, notes) = metrics_fixture();
        let problems = [MetricsProblem {
            service: "stripe",
            section: "charges",
            failure: FailureKind::ProviderError,
            message: "Stripe answered HTTP 500 on /v1/charges.",
        }];
        let out = metrics_table(&rows, &[], &problems, &notes, 3, Layout::plain(Some(80)));
        assert!(widest(&out) <= 80, "{out}");
        assert!(
            out.contains(
                "stripe: charges not collected (provider_error): Stripe answered HTTP 500"
            ),
            "{out}"
        );
        assert!(
            out.contains("3/3 service(s) collected, 1 of them partially"),
            "{out}"
        );
    }
}
