//! Output: tables for people (comfy-table), JSON for machines, a progress bar on terminals.

use std::io::IsTerminal as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
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
