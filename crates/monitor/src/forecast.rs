//! Forecasts that warn before something breaks: a credential about to expire, a rate-limit quota
//! that will run out before it resets, response time trending up. Each result carries a message
//! that says how it was computed (window, rate, observations), because an operator acting on a
//! prediction needs to know what it rests on.

use opsdeck_core::ConnectionReport;
use serde::{Deserialize, Serialize};

use crate::digest::LatencyDigest;
use crate::time::{DAY_MS, MINUTE_MS, rfc3339, utc_date};

/// One rate-limit reading from a check report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitPoint {
    /// When it was read.
    pub at_ms: i64,
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left.
    pub remaining: u64,
    /// When the window resets, if the vendor says.
    pub reset_at_ms: Option<i64>,
    /// Which bucket (GitHub's `core`, `search`, …).
    pub resource: Option<String>,
}

impl RateLimitPoint {
    /// The reading in a report, when it has both a limit and a remaining count.
    pub fn from_report(report: &ConnectionReport) -> Option<Self> {
        let rl = report.details.rate_limit.as_ref()?;
        Some(RateLimitPoint {
            at_ms: report.checked_at.timestamp_millis(),
            limit: rl.limit?,
            remaining: rl.remaining?,
            reset_at_ms: rl.reset_at.map(|t| t.timestamp_millis()),
            resource: rl.resource.clone(),
        })
    }
}

/// What [`rate_limit_forecast`] concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RateLimitForecast {
    /// Not enough readings to estimate a rate.
    NoData {
        /// Why.
        message: String,
    },
    /// The latest reading's window has already reset, so its count says nothing about now.
    ResetPassed {
        /// When it reset.
        reset_at_ms: i64,
        /// Explanation.
        message: String,
    },
    /// The remaining count is not falling.
    NotConsuming {
        /// Explanation.
        message: String,
    },
    /// At the observed rate the quota lasts until the reset.
    Lasts {
        /// When it would run out.
        runs_out_at_ms: i64,
        /// When it resets.
        reset_at_ms: i64,
        /// Observed consumption, requests per hour.
        per_hour: f64,
        /// Explanation.
        message: String,
    },
    /// At the observed rate the quota runs out before it resets.
    RunsOut {
        /// Predicted time the remaining count reaches zero.
        runs_out_at_ms: i64,
        /// When it resets.
        reset_at_ms: i64,
        /// Observed consumption, requests per hour.
        per_hour: f64,
        /// Explanation.
        message: String,
    },
}

impl RateLimitForecast {
    /// The explanation.
    pub fn message(&self) -> &str {
        match self {
            RateLimitForecast::NoData { message }
            | RateLimitForecast::ResetPassed { message, .. }
            | RateLimitForecast::NotConsuming { message }
            | RateLimitForecast::Lasts { message, .. }
            | RateLimitForecast::RunsOut { message, .. } => message,
        }
    }
}

/// Forecasts when the rate-limit quota runs out, from the readings of the last `window_ms`.
///
/// Method: take the latest reading's resource and quota window (same `reset_at`); drop readings
/// from before a rise in the remaining count (a reset we did not see); fit a least-squares line
/// to remaining-over-time; if it falls, extrapolate from the latest reading to zero and compare
/// with the reset time.
pub fn rate_limit_forecast(
    points: &[RateLimitPoint],
    now_ms: i64,
    window_ms: i64,
) -> RateLimitForecast {
    let Some(latest) = points
        .iter()
        .filter(|p| p.at_ms <= now_ms)
        .max_by_key(|p| p.at_ms)
    else {
        return RateLimitForecast::NoData {
            message: "no rate-limit readings yet".into(),
        };
    };
    let Some(reset_at_ms) = latest.reset_at_ms else {
        return RateLimitForecast::NoData {
            message: "the vendor does not say when the quota resets, so no run-out time can be compared with it".into(),
        };
    };
    if reset_at_ms <= now_ms {
        return RateLimitForecast::ResetPassed {
            reset_at_ms,
            message: format!(
                "the quota window of the latest reading reset at {}; waiting for a fresh reading",
                rfc3339(reset_at_ms)
            ),
        };
    }
    let mut window: Vec<&RateLimitPoint> = points
        .iter()
        .filter(|p| p.at_ms <= now_ms && p.at_ms >= now_ms - window_ms)
        .filter(|p| {
            p.resource == latest.resource && p.reset_at_ms == latest.reset_at_ms && p.limit > 0
        })
        .collect();
    window.sort_by_key(|p| p.at_ms);
    if let Some(rise) = window
        .windows(2)
        .rposition(|w| w[1].remaining > w[0].remaining)
    {
        window.drain(..=rise);
    }
    let span = window
        .last()
        .zip(window.first())
        .map_or(0, |(l, f)| l.at_ms - f.at_ms);
    if window.len() < 2 || span == 0 {
        return RateLimitForecast::NoData {
            message: format!(
                "{} reading(s) of the current quota window in the last {}; need two at different times",
                window.len(),
                minutes(window_ms)
            ),
        };
    }
    // Least squares over (t, remaining), t relative to the first reading to keep numbers small.
    let n = window.len() as f64;
    let t0 = window[0].at_ms;
    let (sx, sy) = window.iter().fold((0.0, 0.0), |(sx, sy), p| {
        (sx + (p.at_ms - t0) as f64, sy + p.remaining as f64)
    });
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = window.iter().fold((0.0, 0.0), |(sxy, sxx), p| {
        let dx = (p.at_ms - t0) as f64 - mx;
        (sxy + dx * (p.remaining as f64 - my), sxx + dx * dx)
    });
    let slope_per_ms = sxy / sxx;
    let how = format!("{} readings over {}", window.len(), minutes(span));
    if slope_per_ms >= 0.0 {
        return RateLimitForecast::NotConsuming {
            message: format!(
                "the remaining {} of {} requests is not falling ({how})",
                latest.remaining, latest.limit
            ),
        };
    }
    let per_hour = -slope_per_ms * 3_600_000.0;
    let runs_out_at_ms = latest.at_ms + (latest.remaining as f64 / -slope_per_ms).round() as i64;
    let resource = latest
        .resource
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    if runs_out_at_ms < reset_at_ms {
        RateLimitForecast::RunsOut {
            runs_out_at_ms,
            reset_at_ms,
            per_hour,
            message: format!(
                "rate limit{resource} runs out at {}, {} before it resets at {}: {} of {} left, used at {:.0} requests/hour ({how})",
                rfc3339(runs_out_at_ms),
                minutes(reset_at_ms - runs_out_at_ms),
                rfc3339(reset_at_ms),
                latest.remaining,
                latest.limit,
                per_hour
            ),
        }
    } else {
        RateLimitForecast::Lasts {
            runs_out_at_ms,
            reset_at_ms,
            per_hour,
            message: format!(
                "rate limit{resource} lasts until it resets at {}: {} of {} left, used at {:.0} requests/hour ({how})",
                rfc3339(reset_at_ms),
                latest.remaining,
                latest.limit,
                per_hour
            ),
        }
    }
}

fn minutes(ms: i64) -> String {
    let m = ms / MINUTE_MS;
    if m >= 120 {
        format!("{} h {} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

/// A credential that expires within the warning period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialForecast {
    /// When it expires.
    pub expires_at_ms: i64,
    /// Whole days left (0 on the last day; negative once expired).
    pub days_left: i64,
    /// Explanation with the date.
    pub message: String,
}

/// Whether a credential expiring at `expires_at_ms` falls within `within_days` of `now_ms`.
/// `None` when it does not (or the vendor gave no expiry).
pub fn credential_expiry_forecast(
    expires_at_ms: Option<i64>,
    now_ms: i64,
    within_days: u32,
) -> Option<CredentialForecast> {
    let exp = expires_at_ms?;
    let left = exp - now_ms;
    if left > i64::from(within_days) * DAY_MS {
        return None;
    }
    let days_left = left.div_euclid(DAY_MS);
    let date = utc_date(exp)
        .map(|d| d.to_string())
        .unwrap_or_else(|| rfc3339(exp));
    let message = if left <= 0 {
        format!(
            "the credentials expired on {date} ({}); replace them",
            rfc3339(exp)
        )
    } else {
        format!(
            "the credentials expire on {date} ({}), in {days_left} day(s) — within the {within_days}-day warning period; the expiry is the one the vendor reported with the last check",
            rfc3339(exp)
        )
    };
    Some(CredentialForecast {
        expires_at_ms: exp,
        days_left,
        message,
    })
}

/// What [`latency_trend`] concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LatencyTrend {
    /// Too few connected checks in one of the windows.
    Insufficient {
        /// Explanation.
        message: String,
    },
    /// p95 rose by at least the threshold.
    Rising {
        /// Recent p95, ms.
        recent_p95: u64,
        /// Earlier p95, ms.
        previous_p95: u64,
        /// Increase in percent.
        increase_percent: f64,
        /// Explanation.
        message: String,
    },
    /// p95 did not rise by the threshold.
    Steady {
        /// Recent p95, ms.
        recent_p95: u64,
        /// Earlier p95, ms.
        previous_p95: u64,
        /// Change in percent (negative when faster).
        increase_percent: f64,
        /// Explanation.
        message: String,
    },
}

/// Compares p95 latency of the last 7 days (`recent`) with the 7 days before (`previous`): rising
/// when it is at least `percent` % higher. Each window needs `min_checks` connected checks.
pub fn latency_trend(
    recent: &LatencyDigest,
    previous: &LatencyDigest,
    percent: u32,
    min_checks: u64,
) -> LatencyTrend {
    let (Some(r), Some(p)) = (recent.p95(), previous.p95()) else {
        return LatencyTrend::Insufficient {
            message: "no connected checks in one of the two 7-day windows".into(),
        };
    };
    if recent.count() < min_checks || previous.count() < min_checks {
        return LatencyTrend::Insufficient {
            message: format!(
                "{} and {} connected checks in the two 7-day windows; need {min_checks} in each",
                recent.count(),
                previous.count()
            ),
        };
    }
    let base = p.max(1) as f64;
    let increase = (r as f64 - base) / base * 100.0;
    let how = format!(
        "p95 over the last 7 days {r} ms ({} checks) vs {p} ms the 7 days before ({} checks)",
        recent.count(),
        previous.count()
    );
    if increase >= f64::from(percent) {
        LatencyTrend::Rising {
            recent_p95: r,
            previous_p95: p,
            increase_percent: increase,
            message: format!("response time up {increase:.0} % (threshold {percent} %): {how}"),
        }
    } else {
        LatencyTrend::Steady {
            recent_p95: r,
            previous_p95: p,
            increase_percent: increase,
            message: format!(
                "response time change {increase:+.0} % (threshold {percent} %): {how}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR_MS;

    fn p(at_min: i64, remaining: u64, reset_min: i64) -> RateLimitPoint {
        RateLimitPoint {
            at_ms: at_min * MINUTE_MS,
            limit: 5_000,
            remaining,
            reset_at_ms: Some(reset_min * MINUTE_MS),
            resource: Some("core".into()),
        }
    }

    #[test]
    fn linear_consumption_runs_out_before_the_reset() {
        // 100 requests/min: 3 000 left at minute 20 → zero at minute 50; reset at minute 60.
        let pts = [p(0, 5_000, 60), p(10, 4_000, 60), p(20, 3_000, 60)];
        match rate_limit_forecast(&pts, 20 * MINUTE_MS, HOUR_MS) {
            RateLimitForecast::RunsOut {
                runs_out_at_ms,
                per_hour,
                message,
                ..
            } => {
                assert_eq!(runs_out_at_ms, 50 * MINUTE_MS);
                assert!((per_hour - 6_000.0).abs() < 1e-6);
                assert!(message.contains("3 readings over 20 min"), "{message}");
                assert!(message.contains("10 min before it resets"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Same rate, reset at minute 40: lasts.
        let pts = [p(0, 5_000, 40), p(10, 4_000, 40), p(20, 3_000, 40)];
        assert!(
            matches!(rate_limit_forecast(&pts, 20 * MINUTE_MS, HOUR_MS), RateLimitForecast::Lasts { runs_out_at_ms, .. } if runs_out_at_ms == 50 * MINUTE_MS)
        );
    }

    #[test]
    fn reset_in_the_past_no_data_flat_and_a_missed_reset() {
        let pts = [p(0, 5_000, 15), p(10, 4_000, 15)];
        assert!(matches!(
            rate_limit_forecast(&pts, 20 * MINUTE_MS, HOUR_MS),
            RateLimitForecast::ResetPassed { .. }
        ));
        assert!(matches!(
            rate_limit_forecast(&[], 0, HOUR_MS),
            RateLimitForecast::NoData { .. }
        ));
        assert!(matches!(
            rate_limit_forecast(&[p(0, 10, 60)], 0, HOUR_MS),
            RateLimitForecast::NoData { .. }
        ));
        let flat = [p(0, 4_000, 60), p(10, 4_000, 60), p(20, 4_000, 60)];
        assert!(matches!(
            rate_limit_forecast(&flat, 20 * MINUTE_MS, HOUR_MS),
            RateLimitForecast::NotConsuming { .. }
        ));
        // Readings older than the window are ignored.
        let old = [p(0, 5_000, 200), p(10, 10, 200), p(100, 4_000, 200)];
        assert!(matches!(
            rate_limit_forecast(&old, 100 * MINUTE_MS, HOUR_MS),
            RateLimitForecast::NoData { .. }
        ));
        // A rise means a reset we did not see: only readings after it count.
        let rise = [p(0, 100, 60), p(5, 4_900, 60), p(15, 3_900, 60)];
        assert!(
            matches!(rate_limit_forecast(&rise, 15 * MINUTE_MS, HOUR_MS), RateLimitForecast::RunsOut { runs_out_at_ms, .. } if runs_out_at_ms == 15 * MINUTE_MS + 39 * 10 * MINUTE_MS / 10)
        );
    }

    #[test]
    fn credential_expiry_within_the_warning_period() {
        let now = 20_000 * DAY_MS;
        assert!(credential_expiry_forecast(Some(now + 10 * DAY_MS), now, 7).is_none());
        let f = credential_expiry_forecast(Some(now + 5 * DAY_MS + HOUR_MS), now, 7);
        assert_eq!(f.as_ref().map(|f| f.days_left), Some(5));
        assert!(
            f.map(|f| f.message)
                .unwrap_or_default()
                .contains("in 5 day(s)")
        );
        assert_eq!(
            credential_expiry_forecast(Some(now - 1), now, 7).map(|f| f.days_left),
            Some(-1)
        );
        assert!(credential_expiry_forecast(None, now, 7).is_none());
    }

    #[test]
    fn latency_trend_against_hand_computed_p95() {
        // 100 checks each; 100 ms and 149 ms sit where their bins report them exactly.
        let previous = LatencyDigest::from_values([100; 100]);
        let recent = LatencyDigest::from_values([149; 100]);
        match latency_trend(&recent, &previous, 50, 20) {
            LatencyTrend::Steady {
                recent_p95,
                increase_percent,
                ..
            } => {
                assert_eq!(recent_p95, 149);
                assert!((increase_percent - 49.0).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            latency_trend(&recent, &previous, 40, 20),
            LatencyTrend::Rising { .. }
        ));
        assert!(matches!(
            latency_trend(&recent, &previous, 40, 200),
            LatencyTrend::Insufficient { .. }
        ));
    }
}
