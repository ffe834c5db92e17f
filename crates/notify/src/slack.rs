//! The Slack channel: a Block Kit message (header, message, facts, context, and a button to
//! the service page when the server has a `public_url`) posted to an incoming webhook.
//! Texts are escaped for `mrkdwn` and cut to Block Kit's limits, because Slack rejects a
//! whole message when one text is too long.

use serde_json::{Value, json};

use crate::message::{Notification, rfc3339};
use crate::text::{Summary, Tone, slack_escape, truncate};

// Block Kit limits (docs.slack.dev, reference/block-kit/blocks).
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const FIELDS_MAX: usize = 10;
const BUTTON_TEXT_MAX: usize = 75;
const URL_MAX: usize = 3000;

impl Notification {
    /// The Slack incoming-webhook payload: `text` (the fallback shown in notifications) and
    /// `blocks`.
    pub fn slack_message(&self) -> Value {
        let s = Summary::of(self);
        let emoji = match s.tone {
            Tone::Bad => ":red_circle:",
            Tone::Good => ":large_green_circle:",
            Tone::Warning => ":warning:",
            Tone::Info => ":information_source:",
        };
        let mut blocks = vec![json!({
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(&format!("{emoji} {}", s.title), HEADER_MAX),
                "emoji": true,
            },
        })];
        if !s.message.trim().is_empty() {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&s.message), SECTION_MAX)},
            }));
        }
        let fields: Vec<Value> = s
            .facts
            .iter()
            .take(FIELDS_MAX)
            .map(|(label, value)| {
                json!({
                    "type": "mrkdwn",
                    "text": truncate(&format!("*{label}*\n{}", slack_escape(value)), FIELD_MAX),
                })
            })
            .collect();
        if !fields.is_empty() {
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        blocks.push(json!({
            "type": "context",
            "elements": [{
                "type": "mrkdwn",
                "text": format!("opsdeck · {} · {}", self.event(), rfc3339(self.at())),
            }],
        }));
        if let Some((label, url)) = &s.link
            && is_web_url(url)
            && url.len() <= URL_MAX
        {
            blocks.push(json!({
                "type": "actions",
                "elements": [{
                    "type": "button",
                    "text": {"type": "plain_text", "text": truncate(label, BUTTON_TEXT_MAX)},
                    "url": url,
                }],
            }));
        }
        let fallback = if s.message.trim().is_empty() {
            s.title.clone()
        } else {
            format!("{} — {}", s.title, s.message)
        };
        json!({
            "text": truncate(&slack_escape(&fallback), SECTION_MAX),
            "blocks": blocks,
        })
    }
}

/// Links go only to web pages: a `javascript:` or other scheme in a stored URL is dropped.
pub(crate) fn is_web_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}
