//! The human wording of a notification, shared by Slack and email so both say the same
//! thing: a title that says what happened, labelled facts, the message, and a link. Also the
//! escaping each medium needs (HTML, Slack mrkdwn) and length limits.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::message::{AlertEvent, Notification, ThresholdKind, rfc3339};

/// What a notification says, independent of the medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// One line that says what happened (email subject, Slack header).
    pub title: String,
    /// How serious: drives the Slack emoji and the email colour.
    pub tone: Tone,
    /// The check's or rule's own words.
    pub message: String,
    /// Labelled facts, in display order.
    pub facts: Vec<(&'static str, String)>,
    /// Link to the service page, with its label.
    pub link: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Bad,
    Good,
    Warning,
    Info,
}

fn failure_words(kind: opsdeck_core::FailureKind) -> String {
    kind.as_str().replace('_', " ")
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Money for people: two decimals and the currency (the webhook body keeps the exact value).
/// Rounded half away from zero, as invoices do; `{:.2}` alone would truncate.
pub(crate) fn money(d: Decimal, currency: &str) -> String {
    let rounded = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    format!("{rounded:.2} {currency}")
}

impl Summary {
    pub(crate) fn of(n: &Notification) -> Summary {
        match n {
            Notification::Alert(a) => {
                use opsdeck_core::Status;
                let state = match (a.status, a.failure) {
                    (Status::Failed, Some(f)) => format!("is failing: {}", failure_words(f)),
                    (Status::Failed, None) => "is failing".to_owned(),
                    (Status::Unknown, Some(f)) => format!("is unknown: {}", failure_words(f)),
                    (Status::Unknown, None) => "is unknown".to_owned(),
                    // Latency, expiry and metric rules fire on connected services too.
                    (Status::Connected, _) => format!("triggered {}", a.alert),
                };
                let who = format!("{} ({})", a.service, a.provider);
                let (title, tone) = match a.event {
                    AlertEvent::Firing => (format!("Firing: {who} {state}"), Tone::Bad),
                    AlertEvent::Reminder => (
                        format!("Still firing: {who} {state} since {}", when(a.started_at)),
                        Tone::Warning,
                    ),
                    AlertEvent::Resolved if a.status == Status::Connected => {
                        (format!("Resolved: {who} is connected again"), Tone::Good)
                    }
                    AlertEvent::Resolved => (format!("Resolved: {} on {who}", a.alert), Tone::Good),
                };
                let mut facts = vec![
                    ("Service", a.service.clone()),
                    ("Provider", a.provider.clone()),
                    ("Status", a.status.to_string()),
                ];
                if let Some(f) = a.failure {
                    facts.push(("Failure", f.as_str().to_owned()));
                }
                facts.push(("Alert", a.alert.clone()));
                facts.push(("Since", when(a.started_at)));
                if a.event == AlertEvent::Resolved {
                    facts.push(("Resolved at", when(a.at)));
                }
                if let Some(i) = &a.incident {
                    facts.push(("Incident", format!("#{} {}", i.id, i.title)));
                }
                if let Some(v) = &a.vendor_status {
                    let mut s = format!("{} ({})", v.description, v.indicator);
                    for inc in &v.incidents {
                        s.push_str(&format!("; {} [{}]", inc.name, inc.status));
                        if let Some(u) = &inc.url {
                            s.push_str(&format!(" {u}"));
                        }
                    }
                    facts.push(("Vendor status", s));
                }
                Summary {
                    title,
                    tone,
                    message: a.message.clone(),
                    facts,
                    link: a
                        .url
                        .as_ref()
                        .map(|u| (format!("Open {} in opsdeck", a.service), u.clone())),
                }
            }
            Notification::Budget(b) => {
                let limit = money(b.limit, &b.currency);
                let spent = money(b.spent, &b.currency);
                let month = b.month.format("%Y-%m").to_string();
                let reach = match b.reach_date {
                    Some(d) => format!(
                        "At the current rate the limit is reached on {}.",
                        d.format("%Y-%m-%d")
                    ),
                    None => "At the current rate the limit is not reached this month.".to_owned(),
                };
                let (title, message) = match b.kind {
                    ThresholdKind::Actual => (
                        format!(
                            "Budget {}: {}% of {limit} reached in {month}",
                            b.budget, b.threshold
                        ),
                        format!("Spent {spent} of {limit} so far this month. {reach}"),
                    ),
                    ThresholdKind::Forecast => {
                        let forecast = b
                            .forecast
                            .map(|f| money(f, &b.currency))
                            .unwrap_or_else(|| "unknown".to_owned());
                        (
                            format!(
                                "Budget {}: forecast to pass {}% of {limit} in {month}",
                                b.budget, b.threshold
                            ),
                            format!(
                                "The month-end forecast is {forecast} against a limit of {limit}; spent {spent} so far. {reach}"
                            ),
                        )
                    }
                };
                let mut facts = vec![
                    ("Budget", b.budget.clone()),
                    (
                        "Threshold",
                        format!("{}% ({})", b.threshold, b.kind.as_str()),
                    ),
                    ("Spent", spent),
                ];
                if let Some(f) = b.forecast {
                    facts.push(("Forecast", money(f, &b.currency)));
                }
                facts.push(("Limit", limit));
                facts.push(("Month", month));
                if let Some(d) = b.reach_date {
                    facts.push(("Limit reached on", d.format("%Y-%m-%d").to_string()));
                }
                Summary {
                    title,
                    tone: Tone::Warning,
                    message,
                    facts,
                    link: None,
                }
            }
            Notification::Test(t) => Summary {
                title: format!("Test notification for channel {}", t.channel),
                tone: Tone::Info,
                message: t.message(),
                facts: vec![("Channel", t.channel.clone()), ("Sent at", rfc3339(t.at))],
                link: None,
            },
        }
    }
}

/// Escape text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escape text for Slack `mrkdwn`: Slack treats `&`, `<` and `>` as control characters
/// (links, mentions); everything else is shown as written.
pub(crate) fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cut `s` to at most `max` characters, ending with "…" when cut (Slack rejects a whole
/// message when one text is over its limit).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One line for an email subject: no control characters, at most 200 characters.
pub(crate) fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(flat.trim(), 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            html_escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        assert_eq!(
            slack_escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(one_line("a\r\nb"), "a  b");
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(money(d("612.0375"), "USD"), "612.04 USD");
        assert_eq!(money(d("0.125"), "EUR"), "0.13 EUR");
        assert_eq!(money(d("500"), "USD"), "500.00 USD");
        assert_eq!(money(d("-1.005"), "USD"), "-1.01 USD");
    }
}
