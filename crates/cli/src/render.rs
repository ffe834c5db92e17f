//! Output: tables for people (comfy-table), JSON for machines, a progress bar on terminals.

use std::io::IsTerminal as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use opsdeck::domain::{
    AiUsage, CostReport, Deployment, DeploymentState, Money, TimeWindow, sum_by_currency,
};
use opsdeck::manager::CrossProviderEntry;
use opsdeck::rust_decimal::Decimal;
use opsdeck::{
    ConfigErrors, ProviderDescriptor, ServiceFactory, ServiceMetrics, ServiceReport, Status,
};
use serde::Serialize;

pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: could not render JSON: {e}"),
    }
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.iter().map(Cell::new));
    t
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

pub fn providers_table(factory: &ServiceFactory) -> String {
    let mut t = table(&["ID", "NAME", "CATEGORY", "FIELDS", "DESCRIPTION"]);
    for d in factory.providers() {
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
        t.add_row(vec![
            d.id.to_owned(),
            d.name.to_owned(),
            d.category.to_string(),
            fields.join(", "),
            d.description.to_owned(),
        ]);
    }
    format!("{t}\n* required. Details: opsdeck providers show <ID>")
}

pub fn provider_detail(d: &ProviderDescriptor) -> String {
    let mut t = table(&[
        "FIELD",
        "TYPE",
        "REQUIRED",
        "SECRET",
        "DEFAULT",
        "DESCRIPTION",
    ]);
    for f in d.fields {
        t.add_row(vec![
            f.name.to_owned(),
            f.kind.describe(),
            if f.required { "yes" } else { "no" }.to_owned(),
            if f.secret { "yes" } else { "no" }.to_owned(),
            f.default.unwrap_or("").to_owned(),
            f.description.to_owned(),
        ]);
    }
    format!(
        "{} ({}, {})\n{}\nDocs: {}\n{t}\nJSON Schema: opsdeck providers show {} --json",
        d.name, d.id, d.category, d.description, d.docs_url, d.id
    )
}

fn status_cell(status: Status) -> Cell {
    let cell = Cell::new(status.as_str());
    match status {
        Status::Connected => cell.fg(Color::Green),
        Status::Failed => cell.fg(Color::Red),
        Status::Unknown => cell.fg(Color::Yellow),
    }
}

pub fn reports_table(reports: &[ServiceReport]) -> String {
    if reports.is_empty() {
        return "No services to test.".into();
    }
    let mut t = table(&[
        "SERVICE", "PROVIDER", "STATUS", "FAILURE", "LATENCY", "IDENTITY", "MESSAGE",
    ]);
    for r in reports {
        t.add_row(vec![
            Cell::new(&r.service),
            Cell::new(&r.provider),
            status_cell(r.report.status),
            Cell::new(r.report.failure.map(|f| f.as_str()).unwrap_or("")),
            Cell::new(format!("{} ms", r.report.latency_ms)),
            Cell::new(r.report.identity.as_deref().unwrap_or("")),
            Cell::new(&r.report.message),
        ]);
    }
    let connected = reports
        .iter()
        .filter(|r| r.report.status == Status::Connected)
        .count();
    format!("{t}\n{connected}/{} connected", reports.len())
}

pub fn metrics_table(results: &[ServiceMetrics]) -> String {
    let mut t = table(&["SERVICE", "METRIC", "LABELS", "VALUE", "UNIT"]);
    for r in results {
        if let Some(e) = &r.error {
            t.add_row(vec![
                Cell::new(&r.service),
                Cell::new("(error)").fg(Color::Red),
                Cell::new(e.failure.as_str()),
                Cell::new(""),
                Cell::new(&e.message),
            ]);
        }
        for m in &r.metrics {
            let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            t.add_row(vec![
                Cell::new(&r.service),
                Cell::new(&m.name),
                Cell::new(labels.join(", ")),
                Cell::new(format_value(m.value)),
                Cell::new(m.unit.as_str()),
            ]);
        }
    }
    t.to_string()
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

pub fn metrics_notes(results: &[ServiceMetrics]) {
    for r in results {
        for n in &r.notes {
            println!("note: {}: {n}", r.service);
        }
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

/// The unavailable / error cell of an entry without a result.
fn problem_cell<T>(e: &CrossProviderEntry<T>) -> Cell {
    if let Some(err) = e.error() {
        Cell::new(format!("error ({}): {}", err.failure.as_str(), err.message)).fg(Color::Red)
    } else if let Some(why) = e.unavailable() {
        Cell::new(format!("unavailable: {why}")).fg(Color::Yellow)
    } else {
        Cell::new("no answer").fg(Color::Yellow)
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
            "\nNot offered by the provider of: {}",
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

pub fn ai_usage_table(entries: &[CrossProviderEntry<AiUsage>], window: TimeWindow) -> String {
    if entries.is_empty() {
        return NOTHING_TO_ASK.into();
    }
    let (entries, note) = split(entries);
    if entries.is_empty() {
        return format!("{NO_ONE_CAN_ANSWER}{note}");
    }
    let mut t = table(&[
        "SERVICE",
        "PROVIDER",
        "MODELS",
        "INPUT TOKENS",
        "CACHED INPUT",
        "OUTPUT TOKENS",
        "COST",
        "NOTE",
    ]);
    for &e in &entries {
        let mut row = vec![Cell::new(e.service()), Cell::new(e.provider())];
        match e.result() {
            Some(u) => {
                let sum = |f: fn(&opsdeck::domain::ModelUsage) -> u64| -> u64 {
                    u.models.iter().map(f).sum()
                };
                row.extend([
                    Cell::new(u.models.len()),
                    Cell::new(sum(|m| m.input_tokens)),
                    Cell::new(sum(|m| m.cached_input_tokens)),
                    Cell::new(sum(|m| m.output_tokens)),
                    Cell::new(
                        u.cost
                            .as_ref()
                            .map_or_else(|| "not reported".into(), |c| format_moneys(&c.total)),
                    ),
                    Cell::new(if u.cost.as_ref().is_some_and(|c| c.estimated) {
                        "estimated"
                    } else {
                        ""
                    }),
                ]);
            }
            None => {
                row.extend((0..5).map(|_| Cell::new("")));
                row.push(problem_cell(e));
            }
        }
        t.add_row(row);
    }
    let totals = total_lines(
        entries
            .iter()
            .filter_map(|e| e.result())
            .filter_map(|u| u.cost.as_ref())
            .flat_map(|c| c.total.iter()),
    );
    format!(
        "AI usage, {}\n{t}\n{totals}\n{}{note}",
        format_window(&window),
        tally(&entries)
    )
}

pub fn costs_table(entries: &[CrossProviderEntry<CostReport>], window: TimeWindow) -> String {
    if entries.is_empty() {
        return NOTHING_TO_ASK.into();
    }
    let (entries, note) = split(entries);
    if entries.is_empty() {
        return format!("{NO_ONE_CAN_ANSWER}{note}");
    }
    let mut t = table(&["SERVICE", "PROVIDER", "COST", "PERIOD", "NOTE"]);
    for &e in &entries {
        let mut row = vec![Cell::new(e.service()), Cell::new(e.provider())];
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
                    Cell::new(format_moneys(&r.total)),
                    Cell::new(format_window(&r.window)),
                    Cell::new(notes.join("; ")),
                ]);
            }
            None => {
                row.extend([Cell::new(""), Cell::new("")]);
                row.push(problem_cell(e));
            }
        }
        t.add_row(row);
    }
    let totals = total_lines(
        entries
            .iter()
            .filter_map(|e| e.result())
            .flat_map(|r| r.total.iter()),
    );
    format!(
        "Costs, {}\n{t}\n{totals}\n{}{note}",
        format_window(&window),
        tally(&entries)
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

fn state_cell(d: &Deployment) -> Cell {
    let cell = Cell::new(format!("{} ({})", state_str(d.state), d.vendor_state));
    match d.state {
        DeploymentState::Succeeded => cell.fg(Color::Green),
        DeploymentState::Failed | DeploymentState::Crashed => cell.fg(Color::Red),
        DeploymentState::InProgress => cell.fg(Color::Yellow),
        DeploymentState::Canceled | DeploymentState::Other => cell,
    }
}

pub fn deployments_table(
    entries: &[CrossProviderEntry<Vec<Deployment>>],
    window: TimeWindow,
) -> String {
    if entries.is_empty() {
        return NOTHING_TO_ASK.into();
    }
    let (entries, note) = split(entries);
    if entries.is_empty() {
        return format!("{NO_ONE_CAN_ANSWER}{note}");
    }
    let mut t = table(&[
        "SERVICE",
        "PROVIDER",
        "PROJECT",
        "ENVIRONMENT",
        "STATE",
        "CREATED",
        "URL / MESSAGE",
    ]);
    let mut by_state: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for &e in &entries {
        match e.result() {
            Some(list) if list.is_empty() => {
                t.add_row(vec![
                    Cell::new(e.service()),
                    Cell::new(e.provider()),
                    Cell::new(""),
                    Cell::new(""),
                    Cell::new(""),
                    Cell::new(""),
                    Cell::new("no deployments in the window"),
                ]);
            }
            Some(list) => {
                for d in list {
                    *by_state.entry(state_str(d.state)).or_default() += 1;
                    t.add_row(vec![
                        Cell::new(e.service()),
                        Cell::new(e.provider()),
                        Cell::new(d.project.as_deref().unwrap_or("")),
                        Cell::new(d.environment.as_deref().unwrap_or("")),
                        state_cell(d),
                        Cell::new(format_time(d.created_at)),
                        Cell::new(d.url.as_deref().unwrap_or("")),
                    ]);
                }
            }
            None => {
                let mut row = vec![Cell::new(e.service()), Cell::new(e.provider())];
                row.extend((0..4).map(|_| Cell::new("")));
                row.push(problem_cell(e));
                t.add_row(row);
            }
        }
    }
    let total: usize = by_state.values().sum();
    let states = by_state
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "Deployments, {}\n{t}\n{total} deployment(s){}{states}\n{}{note}",
        format_window(&window),
        if states.is_empty() { "" } else { ": " },
        tally(&entries)
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
}
