//! Bearer-token authentication, the role rule, and the throttle on failed attempts.
//!
//! Tokens are looked up by their sha256 in an in-memory map that is refreshed from the database
//! every few seconds (and at once after a token is created or revoked here), so a request never
//! waits on the database just to be authorized — the status endpoint's throughput depends on it.
//!
//! Failed attempts are counted per source address in a token bucket ([`AuthThrottle`]): after a
//! burst, that source gets 429 with `Retry-After` for every request until the bucket refills —
//! valid tokens included, or the answer itself would tell a guesser which token is right.
//! Failures are logged at warn level, at most once per source every ten seconds with a count
//! of those suppressed, showing a short token prefix only.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use opsdeck_store::{Role, Store, hash_token};
use tokio::time::Instant;

use crate::error::ApiError;

/// Who is calling; put into request extensions by [`require_token`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's role.
    pub role: Role,
}

/// Known token hashes.
#[derive(Debug, Default)]
pub struct Tokens {
    env_admin_hash: Option<String>,
    by_hash: RwLock<HashMap<String, Role>>,
}

impl Tokens {
    /// `env_admin` is `OPSDECK_ADMIN_TOKEN`; only its hash is kept.
    pub fn new(env_admin: Option<&str>) -> Self {
        Self {
            env_admin_hash: env_admin.map(hash_token),
            by_hash: RwLock::default(),
        }
    }

    /// Reloads the stored tokens.
    pub async fn refresh(&self, store: &Store) -> Result<(), opsdeck_store::StoreError> {
        let map = store
            .token_hashes()
            .await?
            .into_iter()
            .map(|(t, hash)| (hash, t.role))
            .collect::<HashMap<_, _>>();
        if let Ok(mut guard) = self.by_hash.write() {
            *guard = map;
        }
        Ok(())
    }

    /// The role of a presented token, if it is known.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let hash = hash_token(token);
        // Comparing hashes, not tokens: equal-time comparison of the secret itself is moot
        // because an attacker cannot choose inputs that share a prefix of the hash.
        if self.env_admin_hash.as_deref() == Some(hash.as_str()) {
            return Some(Role::Admin);
        }
        self.by_hash.read().ok()?.get(&hash).copied()
    }
}

/// Token bucket of failed authentications per source address.
#[derive(Debug)]
pub struct AuthThrottle {
    burst: f64,
    per_sec: f64,
    sources: Mutex<HashMap<Option<IpAddr>, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    last_log: Option<Instant>,
    suppressed: u64,
}

/// Sources tracked at most; beyond it, sources whose bucket is full again are forgotten.
const MAX_SOURCES: usize = 10_000;
/// At most one failure log line per source in this period.
const LOG_EVERY: Duration = Duration::from_secs(10);

impl AuthThrottle {
    /// `burst` failures allowed at once, refilled at `per_minute` a minute.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        AuthThrottle {
            burst: f64::from(burst.max(1)),
            per_sec: f64::from(per_minute.max(1)) / 60.0,
            sources: Mutex::default(),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.updated = now;
    }

    /// `Err(retry_after)` when the source has used up its failures.
    pub fn check(&self, source: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let Some(b) = map.get_mut(&source) else {
            return Ok(());
        };
        self.refill(b, now);
        if b.tokens >= 1.0 {
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.per_sec;
            Err(Duration::from_secs_f64(wait.clamp(1.0, 3600.0).ceil()))
        }
    }

    /// Counts one failure; returns `Some(suppressed)` when this failure should be logged.
    pub fn fail(&self, source: Option<IpAddr>) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SOURCES && !map.contains_key(&source) {
            let (burst, per_sec) = (self.burst, self.per_sec);
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * per_sec < burst
            });
        }
        let b = map.entry(source).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
            last_log: None,
            suppressed: 0,
        });
        self.refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
        match b.last_log {
            Some(t) if now.saturating_duration_since(t) < LOG_EVERY => {
                b.suppressed += 1;
                None
            }
            _ => {
                b.last_log = Some(now);
                Some(std::mem::take(&mut b.suppressed))
            }
        }
    }
}

/// The role a request needs: reads need any token, writes and token management need admin.
fn required_role(method: &Method, path: &str) -> Role {
    if path.starts_with("/api/v1/tokens") {
        return Role::Admin;
    }
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => Role::Read,
        _ => Role::Admin,
    }
}

/// The token of an `Authorization` header; the scheme is matched case-insensitively
/// (RFC 7235).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A prefix of a presented token short enough to identify a mistyped or leaked token in a log
/// without making it guessable.
fn token_prefix(token: &str) -> String {
    let n = (token.chars().count() / 4).min(6);
    let prefix: String = token.chars().take(n).collect();
    format!("{prefix}…")
}

/// The state [`require_token`] needs.
#[derive(Clone, Debug)]
pub struct AuthState {
    /// Known tokens.
    pub tokens: Arc<Tokens>,
    /// The failure throttle.
    pub throttle: Arc<AuthThrottle>,
}

/// Middleware on every route except `/healthz` and the UI shell.
pub async fn require_token(
    State(auth): State<AuthState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let source = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Err(retry_after) = auth.throttle.check(source) {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: retry_after.as_secs(),
        });
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let Some(role) = presented.and_then(|t| auth.tokens.role_of(t)) else {
        if let Some(suppressed) = auth.throttle.fail(source) {
            let source = source.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
            match presented {
                Some(t) => tracing::warn!(
                    %source,
                    token_prefix = %token_prefix(t),
                    suppressed,
                    path = %req.uri().path(),
                    "authentication failed: unknown token"
                ),
                None => tracing::warn!(
                    %source,
                    suppressed,
                    path = %req.uri().path(),
                    "authentication failed: no bearer token"
                ),
            }
        }
        return Err(ApiError::Unauthorized);
    };
    if required_role(req.method(), req.uri().path()) == Role::Admin && role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    req.extensions_mut().insert(Caller { role });
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER abc"), Some("abc"));
        assert_eq!(bearer("bEaReR   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn prefixes_are_short() {
        assert_eq!(
            token_prefix("odk_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
            "odk_ab…"
        );
        assert_eq!(token_prefix("short"), "s…");
        assert_eq!(token_prefix("abc"), "…");
    }

    #[tokio::test(start_paused = true)]
    async fn throttle_after_a_burst_and_refills() {
        let t = AuthThrottle::new(3, 60);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        let other = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(t.check(ip).is_ok());
        assert_eq!(t.fail(ip), Some(0), "the first failure is logged");
        assert_eq!(t.fail(ip), None, "the next ones within 10 s are counted");
        assert_eq!(t.fail(ip), None);
        assert_eq!(t.check(ip), Err(Duration::from_secs(1)));
        assert!(t.check(other).is_ok(), "per source");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(t.check(ip).is_ok(), "one failure refilled after a second");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            t.fail(ip),
            Some(2),
            "the next log line says how many were suppressed"
        );
    }
}
