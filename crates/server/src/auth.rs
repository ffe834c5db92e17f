//! Bearer-token authentication and the role rule.
//!
//! Tokens are looked up by their sha256 in an in-memory map that is refreshed from the database
//! every few seconds (and at once after a token is created or revoked here), so a request never
//! waits on the database just to be authorized — the status endpoint's throughput depends on it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use opsdeck_store::{Role, Store, hash_token};

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

/// Middleware on every route except `/healthz`.
pub async fn require_token(
    State(tokens): State<Arc<Tokens>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let role = presented
        .and_then(|t| tokens.role_of(t))
        .ok_or(ApiError::Unauthorized)?;
    if required_role(req.method(), req.uri().path()) == Role::Admin && role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    req.extensions_mut().insert(Caller { role });
    Ok(next.run(req).await)
}
