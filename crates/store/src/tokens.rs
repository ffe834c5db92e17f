//! API tokens: stored only as sha256 hashes, with a role.

use sqlx::Row;

use crate::Store;
use crate::crypto::{generate_token, hash_token};
use crate::db::db_text;
use crate::error::{Result, StoreError};

use secrecy::{ExposeSecret, SecretString};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything.
    Admin,
    /// GET routes only.
    Read,
}

impl Role {
    /// `admin` / `read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Read => "read",
        }
    }

    /// Parses `admin` / `read`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "read" => Some(Self::Read),
            _ => None,
        }
    }
}

/// A stored token (without its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Unix ms.
    pub created_at: i64,
}

fn parse(row: &sqlx::any::AnyRow) -> Result<(TokenRecord, String)> {
    let role: String = row.try_get(2)?;
    let role = Role::parse(&role).ok_or_else(|| StoreError::corrupt("api token role", role))?;
    Ok((
        TokenRecord {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            role,
            created_at: row.try_get(3)?,
        },
        row.try_get(4)?,
    ))
}

impl Store {
    /// Creates a token and returns it in clear text exactly once.
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
    ) -> Result<(TokenRecord, SecretString)> {
        let token = generate_token()?;
        let hash = hash_token(token.expose_secret());
        let row = sqlx::query(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, role, created_at, token_hash",
        )
        .bind(db_text(name))
        .bind(role.as_str())
        .bind(hash)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        Ok((parse(&row)?.0, token))
    }

    /// Every token with its hash (for the in-memory auth cache).
    pub async fn token_hashes(&self) -> Result<Vec<(TokenRecord, String)>> {
        let rows = sqlx::query(
            "SELECT id, name, role, created_at, token_hash FROM api_tokens ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(parse).collect()
    }

    /// Every token, without hashes.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(self
            .token_hashes()
            .await?
            .into_iter()
            .map(|(t, _)| t)
            .collect())
    }

    /// Revokes a token.
    pub async fn delete_token(&self, id: i64) -> Result<()> {
        let r = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("token {id}"),
            });
        }
        Ok(())
    }

    /// On the very first start without `OPSDECK_ADMIN_TOKEN`: creates an admin token and returns
    /// it so the caller can print it once. `None` when one was created before (by this or another
    /// instance).
    pub async fn bootstrap_admin(&self) -> Result<Option<SecretString>> {
        if !self
            .meta_insert_once("admin_bootstrapped", &self.now().to_string())
            .await?
        {
            return Ok(None);
        }
        let (_, token) = self.create_token("bootstrap-admin", Role::Admin).await?;
        Ok(Some(token))
    }
}
