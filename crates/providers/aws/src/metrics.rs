//! Turns a Cost Explorer snapshot into opsdeck metrics and notes. Names are part of the user
//! contract (docs/providers/aws.md lists each one).

use std::time::Duration;

use opsdeck_core::domain::TimeWindow;
use opsdeck_core::metrics::first_day_note;
use opsdeck_core::rust_decimal::Decimal;
use opsdeck_core::rust_decimal::prelude::ToPrimitive;
use opsdeck_core::{Metric, MetricSet, Unit};

use crate::cost::CostSnapshot;

/// Month-to-date cost per AWS service (label `service`).
pub const MONTH_TO_DATE: &str = "aws_cost_month_to_date";
/// Month-to-date cost over all services.
pub const MONTH_TO_DATE_TOTAL: &str = "aws_cost_month_to_date_total";
/// Cost of one of the last 7 full days (label `date`).
pub const DAILY: &str = "aws_cost_daily";
/// Forecast from today to the end of the month.
pub const FORECAST_REST_OF_MONTH: &str = "aws_cost_forecast_rest_of_month";
/// Month-to-date plus the forecast: the projected month total.
pub const FORECAST_MONTH_END: &str = "aws_cost_forecast_month_end";
/// Age of the figures (0 when fetched for this collection).
pub const DATA_AGE: &str = "aws_cost_data_age_seconds";
/// The previous full month per AWS service (labels `service`, `period`, `month`).
pub const PREVIOUS_MONTH: &str = "aws_cost_previous_month";
/// The previous full month over all services (labels `period`, `month`).
pub const PREVIOUS_MONTH_TOTAL: &str = "aws_cost_previous_month_total";

fn value(d: Decimal) -> f64 {
    // Exact sums are done in Decimal; the metric value is a float by contract.
    d.to_f64().unwrap_or(0.0)
}

/// Metrics for `snap`; `age` is set when it was served from the cache.
pub fn to_metric_set(snap: &CostSnapshot, age: Option<Duration>, ttl: Duration) -> MetricSet {
    let mut set = MetricSet::new();
    let mtd_currency = snap
        .month_to_date
        .as_ref()
        .map_or_else(|| snap.daily_currency.clone(), |m| m.currency.clone());
    let unit = Unit::currency(&mtd_currency);

    let mtd_total = match &snap.month_to_date {
        Some(mtd) => {
            for (service, amount) in &mtd.by_service {
                set.push(
                    Metric::new(MONTH_TO_DATE, value(*amount), unit.clone())
                        .label("service", service),
                );
            }
            if mtd.by_service.is_empty() {
                set.note("Cost Explorer reported no cost for this month so far.");
            }
            if mtd.estimated {
                set.note("Month-to-date figures are estimates: AWS finalises them after the month closes.");
            }
            if let Some(note) = &mtd.note {
                set.note(format!(
                    "{note} Some services may be missing from the month-to-date cost."
                ));
            }
            mtd.total()
        }
        None => {
            match &snap.previous_month {
                Ok(previous) => set.note(first_day_note(&format!(
                    "{} {} ({})",
                    previous.total().round_dp(2),
                    previous.currency,
                    previous_window(snap).month_label()
                ))),
                Err(_) => set.note(format!(
                    "Today ({}) is the first day of the month (UTC): month-to-date cost is 0 until Cost Explorer reports today's usage.",
                    snap.day
                )),
            }
            Decimal::ZERO
        }
    };

    // The previous full month, so the month that just closed is always shown.
    match &snap.previous_month {
        Ok(previous) => {
            let window = previous_window(snap);
            let punit = Unit::currency(&previous.currency);
            for (service, amount) in &previous.by_service {
                set.push(
                    Metric::new(PREVIOUS_MONTH, value(*amount), punit.clone())
                        .label("service", service)
                        .previous_month(&window),
                );
            }
            set.push(
                Metric::new(PREVIOUS_MONTH_TOTAL, value(previous.total()), punit)
                    .previous_month(&window),
            );
            if let Some(note) = &previous.note {
                set.note(format!(
                    "{note} Some services may be missing from the previous month's cost."
                ));
            }
        }
        Err(problem) => set.problems.push(problem.clone()),
    }
    set.push(Metric::new(
        MONTH_TO_DATE_TOTAL,
        value(mtd_total),
        unit.clone(),
    ));

    if let Some(note) = &snap.daily_note {
        set.note(format!("{note} Daily cost figures are partial."));
    }
    let daily_unit = Unit::currency(&snap.daily_currency);
    for day in &snap.daily {
        set.push(
            Metric::new(DAILY, value(day.amount), daily_unit.clone())
                .label("date", day.date.format("%Y-%m-%d").to_string()),
        );
    }

    match &snap.forecast {
        Ok((rest, currency)) => {
            let funit = Unit::currency(currency);
            set.push(Metric::new(
                FORECAST_REST_OF_MONTH,
                value(*rest),
                funit.clone(),
            ));
            set.push(Metric::new(
                FORECAST_MONTH_END,
                value(mtd_total + *rest),
                funit,
            ));
        }
        Err(why) => set.note(format!("No month-end forecast: {why}")),
    }

    let age_secs = age.map_or(0, |a| a.as_secs());
    set.push(Metric::new(DATA_AGE, age_secs as f64, Unit::Seconds));
    match age {
        Some(a) => set.note(format!(
            "Cost figures come from the cache: fetched from Cost Explorer at {} ({} min ago; cost_cache_ttl is {}).",
            snap.fetched_at.format("%Y-%m-%dT%H:%M:%SZ"),
            a.as_secs() / 60,
            humanize(ttl)
        )),
        None if !ttl.is_zero() => set.note(format!(
            "Cost figures fetched from Cost Explorer now (at least 4 requests at $0.01 each); they are reused for {}.",
            humanize(ttl)
        )),
        None => {}
    }
    set
}

/// The calendar month before the snapshot's day.
fn previous_window(snap: &CostSnapshot) -> TimeWindow {
    TimeWindow::previous_month(snap.day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) && s > 0 {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) && s > 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
