//! Property tests for every parser that reads vendor input: whatever the vendor sends, the
//! parsers never panic and their results stay bounded (waits within `MAX_WAIT`, resets within
//! `MAX_WAIT` of now for relative values, links no larger than the header).

use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use http::{HeaderMap, HeaderValue};
use opsdeck_core::http::{
    MAX_WAIT, parse_go_duration, parse_links, parse_protobuf_duration, parse_rate_limit_at,
    parse_reset_at, parse_retry_after_at, wait_from_secs_f64,
};
use proptest::prelude::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 18, 0, 0)
        .single()
        .unwrap_or_default()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(*k, v);
        }
    }
    h
}

/// Text vendors might plausibly send in a numeric header, plus arbitrary strings.
fn numberish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "[-+]?[0-9]{0,40}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{1,4})?",
        "[a-zA-Z0-9 ,:+-]{0,40}",
        ".{0,60}",
    ]
}

proptest! {
    #[test]
    fn retry_after_never_panics_and_is_bounded(raw in numberish()) {
        let h = headers(&[("retry-after", &raw)]);
        if let Some(wait) = parse_retry_after_at(&h, SystemTime::from(now())) {
            prop_assert!(wait <= MAX_WAIT);
        }
    }

    #[test]
    fn retry_after_http_dates_are_bounded(secs in any::<i64>()) {
        let when = DateTime::from_timestamp(secs.rem_euclid(253_402_300_799), 0)
            .unwrap_or_default();
        let raw = when.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let h = headers(&[("retry-after", &raw)]);
        if let Some(wait) = parse_retry_after_at(&h, SystemTime::from(now())) {
            prop_assert!(wait <= MAX_WAIT);
        }
    }

    #[test]
    fn resets_never_panic_and_relative_ones_are_bounded(raw in numberish()) {
        let now = now();
        if let Some(at) = parse_reset_at(&raw, now)
            && let Ok(n) = raw.trim().parse::<f64>()
            && n <= 1e9
        {
            let horizon = now + TimeDelta::from_std(MAX_WAIT).unwrap_or_default();
            prop_assert!(at >= now && at <= horizon, "{raw} -> {at}");
        }
    }

    #[test]
    fn rate_limit_headers_never_panic(
        limit in numberish(),
        remaining in numberish(),
        reset in numberish(),
    ) {
        let h = headers(&[
            ("x-ratelimit-limit", &limit),
            ("x-ratelimit-remaining", &remaining),
            ("x-ratelimit-reset", &reset),
            ("ratelimit-reset", &reset),
        ]);
        let _ = parse_rate_limit_at(&h, now());
    }

    #[test]
    fn waits_from_floats_are_bounded(secs in any::<f64>()) {
        if let Some(wait) = wait_from_secs_f64(secs) {
            prop_assert!(wait <= MAX_WAIT);
        } else {
            prop_assert!(!secs.is_finite() || secs < 0.0);
        }
    }

    #[test]
    fn go_durations_never_panic_and_are_bounded(
        raw in prop_oneof![
            "([0-9]{0,30}(\\.[0-9]{0,10})?(ns|us|µs|ms|s|m|h)){0,6}",
            ".{0,40}",
        ]
    ) {
        if let Some(d) = parse_go_duration(&raw) {
            prop_assert!(d <= MAX_WAIT);
        }
    }

    #[test]
    fn protobuf_durations_never_panic_and_are_bounded(
        raw in prop_oneof![numberish().prop_map(|n| format!("{n}s")), ".{0,40}"]
    ) {
        if let Some(d) = parse_protobuf_duration(&raw) {
            prop_assert!(d <= MAX_WAIT && d >= Duration::ZERO);
        }
    }

    #[test]
    fn link_headers_never_panic_and_stay_within_the_input(
        raw in prop_oneof![
            "(<[a-z:/?=&.0-9]{0,30}>( *; *[a-z]{1,6}( *= *(\"[^\"]{0,10}\"|[a-z0-9]{0,6}))?){0,4} *,? *){0,5}",
            "[<>;,=\" a-z\\\\]{0,80}",
            ".{0,120}",
        ]
    ) {
        let links = parse_links(&raw);
        prop_assert!(links.len() <= raw.len());
        for l in &links {
            prop_assert!(l.target.len() <= raw.len());
            prop_assert!(l.rels.iter().all(|r| r.len() <= raw.len()));
        }
    }
}
