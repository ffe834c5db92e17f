//! opsdeck's persistence: services with encrypted secrets, check results, API tokens and the
//! scheduler's leases, on SQLite (default, one file) or PostgreSQL (several server instances).
//!
//! Secrets never leave this crate encrypted-or-not by accident: callers hand in and get back
//! `SecretString`s, and only [`crypto`] ever sees the key.

pub mod crypto;
mod db;
mod error;
mod results;
mod schedule;
mod services;
mod tokens;

use std::path::{Path, PathBuf};

use sqlx::{AnyPool, Row};

pub use crypto::{SecretKey, generate_token, hash_token};
pub use db::{Backend, now_ms, sqlite_url};
pub use error::{Result, StoreError};
pub use results::{CheckResult, NewCheckResult};
pub use schedule::Claim;
pub use services::{NewService, ServiceData, ServiceRecord, ServiceUpdate};
pub use tokens::{Role, TokenRecord};

/// How to open a store. `Debug` shows neither the key nor the database URL, which may carry a
/// password.
#[derive(Clone)]
pub struct StoreOptions {
    /// `OPSDECK_DATABASE_URL`; `None` means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// The data directory (SQLite file, key file, lock file).
    pub data_dir: PathBuf,
    /// `OPSDECK_SECRET_KEY`; `None` means the key file in `data_dir`.
    pub secret_key: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "[REDACTED]"),
            )
            .field("data_dir", &self.data_dir)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    pub(crate) key: SecretKey,
    // Held for the process lifetime on SQLite so a second instance fails fast.
    _lock: Option<std::sync::Arc<std::fs::File>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("key", &self.key)
            .finish()
    }
}

impl Store {
    /// Opens (and creates, migrates, and checks the key of) the store.
    pub async fn open(opts: StoreOptions) -> Result<Self> {
        let url = opts
            .database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&opts.data_dir));
        let backend = Backend::from_url(&url)?;
        create_data_dir(&opts.data_dir)?;
        let lock = match backend {
            Backend::Sqlite => Some(std::sync::Arc::new(lock_data_dir(&opts.data_dir)?)),
            Backend::Postgres => None,
        };
        let key_file = crypto::key_file_path(&opts.data_dir);
        let loaded = SecretKey::load(
            opts.secret_key
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret),
            &key_file,
        )?;
        let pool = db::connect(&url, backend).await?;
        db::migrate(&pool, backend).await?;
        let key = match loaded {
            Some(key) => key,
            None => match meta_value(&pool, "key_id").await? {
                // Generating a key for a database that already holds secrets would only lock
                // them away for good: say what is missing instead.
                Some(expected) => {
                    pool.close().await;
                    return Err(StoreError::MissingKey {
                        expected,
                        path: key_file,
                    });
                }
                None => SecretKey::create_file(&key_file)?,
            },
        };
        let mut store = Self {
            pool,
            backend,
            key,
            _lock: lock,
        };
        match store.check_key().await {
            Err(StoreError::WrongKey { .. }) if opts.secret_key.is_none() => {
                // A key rotation commits the re-encrypted rows and then renames secret.key.new
                // over secret.key; if it died in between, the new key is the right one.
                store.key = finish_pending_rotation(&opts.data_dir, store.key.clone())?;
                store.check_key().await?;
            }
            other => other?,
        }
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for tests and health checks.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The id (public fingerprint) of the secret key in use.
    pub fn key_id(&self) -> String {
        self.key.id()
    }

    /// Round-trips the database (health check).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records the key on first start, and refuses a different key afterwards.
    async fn check_key(&self) -> Result<()> {
        let check = self.key.key_check()?;
        // ON CONFLICT DO NOTHING: two instances starting at once on PostgreSQL agree on one key.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('key_check', $1), ('key_id', $2) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(check)
        .bind(self.key.id())
        .execute(&self.pool)
        .await?;
        let rows = sqlx::query("SELECT key, value FROM meta WHERE key IN ('key_check', 'key_id')")
            .fetch_all(&self.pool)
            .await?;
        let mut stored_check = None;
        let mut stored_id = String::from("unknown");
        for row in rows {
            let k: String = row.try_get(0)?;
            let v: String = row.try_get(1)?;
            match k.as_str() {
                "key_check" => stored_check = Some(v),
                _ => stored_id = v,
            }
        }
        match stored_check {
            Some(c) if self.key.verify_key_check(&c) => Ok(()),
            _ => Err(StoreError::WrongKey {
                source_name: self.key.source_name().to_owned(),
                expected: stored_id,
                got: self.key.id(),
            }),
        }
    }

    pub(crate) fn key(&self) -> &SecretKey {
        &self.key
    }

    /// Reads a `meta` value.
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        meta_value(&self.pool, key).await
    }

    /// Inserts a `meta` value unless the key exists; returns whether this call inserted it.
    /// Used for once-only events across instances (bootstrap admin token).
    pub async fn meta_insert_once(&self, key: &str, value: &str) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.to_owned())
        .bind(value.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

async fn meta_value(pool: &AnyPool, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(key.to_owned())
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

fn create_data_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| StoreError::io("cannot create the data directory", dir, e))
}

fn lock_data_dir(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("opsdeckd.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io("cannot open the lock file", &path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked { path }),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io("cannot lock", &path, e)),
    }
}

fn finish_pending_rotation(data_dir: &Path, current: SecretKey) -> Result<SecretKey> {
    let file = crypto::key_file_path(data_dir);
    let pending = crypto::pending_key_file_path(data_dir);
    let Ok(text) = std::fs::read_to_string(&pending) else {
        return Ok(current);
    };
    let key = SecretKey::parse(&text, &file.display().to_string())?;
    std::fs::rename(&pending, &file)
        .map_err(|e| StoreError::io("cannot finish the key rotation: rename", &pending, e))?;
    tracing::warn!(key_id = %key.id(), "finished an interrupted key rotation");
    Ok(key)
}
