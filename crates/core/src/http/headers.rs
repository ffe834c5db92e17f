//! Reading what vendors put in headers (and the few duration formats they put in bodies) without
//! ever panicking: `Retry-After`, rate-limit headroom and reset times, Go and protobuf
//! durations, and RFC 8288 `Link` headers.
//!
//! Every parser here takes untrusted text. Waits are clamped to [`MAX_WAIT`], times are computed
//! with checked arithmetic, and anything that does not parse is `None` — never a panic, never an
//! unbounded value.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use http::HeaderMap;

use crate::status::RateLimitInfo;

/// The longest wait any vendor header can ask for. A health check never waits that long; the
/// figure only bounds what is reported (`retry_after_secs`) and what arithmetic sees.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Seconds as a float → a wait. `None` for NaN, infinities and negative values; anything beyond
/// [`MAX_WAIT`] (including values no `Duration` can hold, such as `1e300`) is clamped to it.
pub fn wait_from_secs_f64(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::try_from_secs_f64(secs).map_or(MAX_WAIT, |d| d.min(MAX_WAIT)))
}

/// `Retry-After` (delta seconds or an HTTP date), relative to the system clock.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after_at(headers, SystemTime::now())
}

/// `Retry-After` relative to `now`: delta seconds (decimals tolerated) or an HTTP date; a date
/// in the past is a zero wait. Clamped to [`MAX_WAIT`].
pub fn parse_retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    retry_after_value(raw, now)
}

fn retry_after_value(raw: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = raw.parse::<f64>() {
        return wait_from_secs_f64(secs);
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_WAIT),
    )
}

/// Parse a rate-limit reset value relative to the system clock (see [`parse_reset_at`]).
pub fn parse_reset(raw: &str) -> Option<DateTime<Utc>> {
    parse_reset_at(raw, Utc::now())
}

/// Parse a rate-limit reset value: Unix seconds (values above 10⁹), delta seconds from `now`
/// (negative deltas mean "already reset", i.e. `now`; long ones are clamped to [`MAX_WAIT`]),
/// RFC 3339, or Jira's minute-precision `2024-01-01T10:00Z`.
pub fn parse_reset_at(raw: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<f64>() {
        if !n.is_finite() {
            return None;
        }
        if n > 1e9 {
            // Whole seconds are what every vendor sends; fractions are dropped. `as` saturates.
            #[allow(clippy::cast_possible_truncation)]
            let secs = n.trunc() as i64;
            return DateTime::from_timestamp(secs, 0);
        }
        let wait = wait_from_secs_f64(n.max(0.0))?;
        let delta = TimeDelta::from_std(wait).ok()?;
        return now.checked_add_signed(delta);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(raw.trim_end_matches('Z'), "%Y-%m-%dT%H:%M")
        .ok()
        .map(|n| n.and_utc())
}

/// Rate-limit headroom from the common headers (`x-ratelimit-*`, IETF draft `ratelimit-*`).
pub fn parse_rate_limit(headers: &HeaderMap) -> Option<RateLimitInfo> {
    parse_rate_limit_at(headers, Utc::now())
}

/// [`parse_rate_limit`] with reset deltas relative to `now`.
pub fn parse_rate_limit_at(headers: &HeaderMap, now: DateTime<Utc>) -> Option<RateLimitInfo> {
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
    };
    let num = |names: &[&str]| get(names).and_then(|v| v.trim().parse::<u64>().ok());
    let mut info = RateLimitInfo::new(get(&["x-ratelimit-resource"]).map(str::to_owned));
    info.limit = num(&["x-ratelimit-limit", "ratelimit-limit"]);
    info.remaining = num(&["x-ratelimit-remaining", "ratelimit-remaining"]);
    info.reset_at =
        get(&["x-ratelimit-reset", "ratelimit-reset"]).and_then(|v| parse_reset_at(v, now));
    (!info.is_empty()).then_some(info)
}

/// A Go duration as OpenAI writes rate-limit resets: `12ms`, `1s`, `6m0s`, `1h2m3.5s`.
/// Negative or malformed values are `None`; long ones are clamped to [`MAX_WAIT`].
pub fn parse_go_duration(raw: &str) -> Option<Duration> {
    let mut rest = raw.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    wait_from_secs_f64(total)
}

/// A protobuf `Duration` in its JSON form (decimal seconds with an `s` suffix: `30s`, `1.5s`),
/// as Google APIs send `RetryInfo.retryDelay`. Clamped to [`MAX_WAIT`].
pub fn parse_protobuf_duration(raw: &str) -> Option<Duration> {
    let secs: f64 = raw.trim().strip_suffix('s')?.trim().parse().ok()?;
    wait_from_secs_f64(secs)
}

/// One link of an RFC 8288 `Link` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target URI, as written between `<` and `>`.
    pub target: String,
    /// Relation types, lowercased (`rel="next last"` gives two).
    pub rels: Vec<String>,
    /// The other parameters (name lowercased, value unquoted), in order.
    pub params: Vec<(String, String)>,
}

impl Link {
    /// Whether the link has relation type `rel` (case-insensitive).
    pub fn has_rel(&self, rel: &str) -> bool {
        self.rels.iter().any(|r| r.eq_ignore_ascii_case(rel))
    }
}

/// Every link of every `Link` header in `headers`.
pub fn links(headers: &HeaderMap) -> Vec<Link> {
    headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_links)
        .collect()
}

/// The target of the first link with relation type `rel` (e.g. `next`).
pub fn link_with_rel(headers: &HeaderMap, rel: &str) -> Option<String> {
    links(headers)
        .into_iter()
        .find(|l| l.has_rel(rel))
        .map(|l| l.target)
}

/// Parse one `Link` header value (RFC 8288 §3): `<uri>; rel="next"; title="a, b", <uri2>; …`.
/// Quoted strings may hold commas and semicolons; a malformed link is skipped up to the next
/// comma, and the rest is still read. The output is never larger than the input.
pub fn parse_links(value: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut chars = value.char_indices().peekable();
    loop {
        // Between links: whitespace and commas.
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == ',')
            .is_some()
        {}
        let Some((_, c)) = chars.next() else {
            break;
        };
        if c != '<' {
            skip_to_comma(&mut chars);
            continue;
        }
        let mut target = String::new();
        let mut closed = false;
        for (_, c) in chars.by_ref() {
            if c == '>' {
                closed = true;
                break;
            }
            target.push(c);
        }
        if !closed {
            break;
        }
        let mut link = Link {
            target: target.trim().to_owned(),
            rels: Vec::new(),
            params: Vec::new(),
        };
        let mut seen_rel = false;
        // Parameters: `; name[=value]` until a comma at the top level or the end.
        loop {
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            match chars.peek() {
                Some((_, ';')) => {
                    chars.next();
                }
                Some((_, ',')) | None => break,
                Some(_) => {
                    skip_to_comma(&mut chars);
                    break;
                }
            }
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            let mut name = String::new();
            while let Some((_, c)) =
                chars.next_if(|(_, c)| !matches!(c, '=' | ';' | ',') && !c.is_whitespace())
            {
                name.push(c.to_ascii_lowercase());
            }
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            let mut param_value = String::new();
            if chars.next_if(|(_, c)| *c == '=').is_some() {
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                if chars.next_if(|(_, c)| *c == '"').is_some() {
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => {
                                if let Some((_, escaped)) = chars.next() {
                                    param_value.push(escaped);
                                }
                            }
                            _ => param_value.push(c),
                        }
                    }
                } else {
                    while let Some((_, c)) =
                        chars.next_if(|(_, c)| !matches!(c, ';' | ',') && !c.is_whitespace())
                    {
                        param_value.push(c);
                    }
                }
            }
            if name.is_empty() {
                continue;
            }
            if name == "rel" {
                // RFC 8288 §3.3: occurrences after the first are ignored.
                if !seen_rel {
                    seen_rel = true;
                    link.rels = param_value
                        .split_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect();
                }
            } else {
                link.params.push((name, param_value));
            }
        }
        out.push(link);
    }
    out
}

fn skip_to_comma(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    let mut quoted = false;
    while let Some((_, c)) = chars.peek().copied() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return,
            _ => {}
        }
        chars.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use http::HeaderValue;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 18, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn retry_after(raw: &str) -> Option<Duration> {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_str(raw).ok()?);
        parse_retry_after_at(&h, SystemTime::from(now()))
    }

    #[test]
    fn retry_after_is_bounded() {
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after("1e300"), Some(MAX_WAIT));
        assert_eq!(retry_after("-1"), None);
        assert_eq!(retry_after("NaN"), None);
        assert_eq!(retry_after("inf"), None);
        assert_eq!(
            retry_after("Fri, 27 Nov 2026 18:01:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_WAIT));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn resets_parse_in_all_vendor_formats() {
        let now = now();
        assert_eq!(
            parse_reset_at("1700000000", now).map(|t| t.timestamp()),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_reset_at("30", now),
            now.checked_add_signed(TimeDelta::seconds(30))
        );
        assert!(parse_reset_at("2024-01-01T10:00Z", now).is_some());
        assert!(parse_reset_at("2024-01-01T10:00:00+00:00", now).is_some());
        assert!(parse_reset_at("soon", now).is_none());
    }

    #[test]
    fn hostile_resets_are_clamped_not_panics() {
        let now = now();
        assert_eq!(parse_reset_at("-9223372036854775808", now), Some(now));
        assert_eq!(parse_reset_at("-5", now), Some(now));
        assert_eq!(parse_reset_at("9223372036854775807", now), None);
        assert_eq!(parse_reset_at("1e300", now), None);
        assert_eq!(
            parse_reset_at("999999999", now),
            now.checked_add_signed(TimeDelta::from_std(MAX_WAIT).unwrap_or_default())
        );
    }

    #[test]
    fn go_and_protobuf_durations_parse() {
        assert_eq!(parse_go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(
            parse_go_duration("1h2m3.5s"),
            Some(Duration::from_secs_f64(3723.5))
        );
        assert_eq!(parse_go_duration("1000000000000000000000h"), Some(MAX_WAIT));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(
            parse_protobuf_duration("30s"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_protobuf_duration("1e300s"), Some(MAX_WAIT));
        assert_eq!(parse_protobuf_duration("-1s"), None);
        assert_eq!(parse_protobuf_duration("30"), None);
    }

    #[test]
    fn link_headers_follow_rfc_8288() {
        let links = parse_links(
            r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=37>; rel="last""#,
        );
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "https://api.github.com/x?page=2");
        assert!(links[0].has_rel("next"));
        assert!(links[1].has_rel("LAST"));
        // Quoted commas and semicolons, several rels, unquoted values, a broken link between.
        let links = parse_links(
            r#"<a>; title="x, y; z"; rel="prev next", garbage; rel=x, <b>;rel=last;foo"#,
        );
        assert_eq!(links.len(), 2, "{links:?}");
        assert_eq!(links[0].target, "a");
        assert_eq!(links[0].rels, ["prev", "next"]);
        assert_eq!(
            links[0].params,
            [("title".to_owned(), "x, y; z".to_owned())]
        );
        assert_eq!(links[1].target, "b");
        assert_eq!(links[1].rels, ["last"]);
        assert!(parse_links("").is_empty());
        assert!(parse_links("<unterminated").is_empty());
    }
}
