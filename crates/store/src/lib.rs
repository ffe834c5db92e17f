//! opsdeck's persistence: services with encrypted secrets, check results, API tokens and the
//! scheduler's leases, on SQLite (default, one file) or PostgreSQL (several server instances).
//!
//! Secrets never leave this crate encrypted-or-not by accident: callers hand in and get back
//! `SecretString`s, and only [`crypto`] ever sees the key. Status and failure kinds cross this
//! boundary as core's [`Status`](opsdeck_core::Status) and
//! [`FailureKind`](opsdeck_core::FailureKind), never as strings.

mod alerts;
pub mod crypto;
mod db;
mod error;
mod files;
mod history;
mod incidents;
mod results;
mod schedule;
mod services;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod views;

use std::path::PathBuf;

use opsdeck_core::clock::SharedClock;
use sqlx::{AnyPool, Row};

pub use alerts::{
    AlertStateRecord, AlertTx, AttemptResult, ChannelData, ChannelRecord, ConfigKind, ConfigRecord,
    HistoryRecord, NewHistory, NewOutbox, OutboxRecord, OutboxState, ResultForRules,
};
pub use crypto::{SecretKey, generate_token, hash_token};
pub use db::{Backend, db_text, now_ms, sqlite_url};
pub use error::{Result, StoreError};
pub use history::{MetricIngest, MetricSeries, RetentionReport, RollupStep, StoredEvent};
pub use incidents::{ResultForIncidents, StoredIncident};
pub use results::{CheckResult, Collection, NewCheckResult, RecordOutcome, SavedMetrics};
pub use schedule::{ClaimRequest, Claimed, Lane, Share};
pub use services::{NewService, ServiceData, ServiceRecord, ServiceUpdate};
pub use tokens::{Role, TokenRecord};
pub use views::{Fingerprint, MetricsRow, StatusRow};

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
    clock: SharedClock,
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
    ///
    /// File modes are enforced on the way: the data directory 0700, the database, its WAL and
    /// the lock file 0600, the key file 0600 (a looser mode is fixed with a warning; a key file
    /// that cannot be fixed is refused).
    pub async fn open(opts: StoreOptions) -> Result<Self> {
        let url = opts
            .database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&opts.data_dir));
        let backend = Backend::from_url(&url)?;
        files::prepare_data_dir(&opts.data_dir)?;
        let lock = match backend {
            Backend::Sqlite => {
                let lock = files::lock_data_dir(&opts.data_dir)?;
                files::prepare_sqlite_files(&opts.data_dir)?;
                Some(std::sync::Arc::new(lock))
            }
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
            clock: opsdeck_core::clock::system(),
            _lock: lock,
        };
        match store.check_key().await {
            Err(StoreError::WrongKey { .. }) if opts.secret_key.is_none() => {
                // A key rotation commits the re-encrypted rows and then renames secret.key.new
                // over secret.key; if it died in between, the new key is the right one — but
                // only a key that opens this database's key check may replace the old one.
                match store.finish_pending_rotation(&opts.data_dir).await {
                    Ok(Some(key)) => store.key = key,
                    Ok(None) => store.check_key().await?,
                    Err(e) => {
                        store.pool.close().await;
                        return Err(e);
                    }
                }
            }
            Err(e) => {
                store.pool.close().await;
                return Err(e);
            }
            Ok(()) => {
                let pending = crypto::pending_key_file_path(&opts.data_dir);
                if opts.secret_key.is_none() && pending.exists() {
                    tracing::warn!(
                        path = %pending.display(),
                        "a stray secret.key.new is left from a rotation that did not commit; it was not used (remove it once you have checked it is not needed)"
                    );
                }
            }
        }
        if backend == Backend::Sqlite {
            // The WAL and shared-memory files appear once the database is written to; SQLite
            // gives them the database file's mode, checked here once more.
            files::prepare_sqlite_files(&opts.data_dir)?;
        }
        Ok(store)
    }

    /// Uses `clock` for the times the store stamps itself (created/updated, tokens).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ms()
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

    /// A transaction that writes: `BEGIN IMMEDIATE` on SQLite, so a transaction that reads
    /// before it writes takes the write lock up front instead of failing with `SQLITE_BUSY`
    /// when another writer commits in between; a plain `BEGIN` on PostgreSQL (row locks).
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Records the key on first start, and refuses a different key afterwards.
    async fn check_key(&self) -> Result<()> {
        let (stored_check, stored_id) = self.stored_key_check().await?;
        let Some(check) = stored_check else {
            return self.record_key_check(stored_id).await;
        };
        if self.key.verify_key_check(&check) {
            Ok(())
        } else {
            Err(StoreError::WrongKey {
                source_name: self.key.source_name().to_owned(),
                expected: stored_id.unwrap_or_else(|| "unknown".into()),
                got: self.key.id(),
            })
        }
    }

    async fn stored_key_check(&self) -> Result<(Option<String>, Option<String>)> {
        let rows = sqlx::query("SELECT key, value FROM meta WHERE key IN ('key_check', 'key_id')")
            .fetch_all(&self.pool)
            .await?;
        let mut check = None;
        let mut id = None;
        for row in rows {
            let k: String = row.try_get(0)?;
            let v: String = row.try_get(1)?;
            match k.as_str() {
                "key_check" => check = Some(v),
                _ => id = Some(v),
            }
        }
        Ok((check, id))
    }

    /// No key check yet. On a new database, this key becomes the database's key. On a database
    /// that already holds secrets the row was lost (a partial restore, a manual edit): a wrong
    /// key would then start silently and fail every check later, so the key is accepted only if
    /// it opens a stored secret, and refused otherwise.
    async fn record_key_check(&self, stored_id: Option<String>) -> Result<()> {
        let sample =
            sqlx::query("SELECT name, secrets FROM services WHERE secrets <> '{}' LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        if let Some(row) = sample {
            let name: String = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            let opens = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                .ok()
                .and_then(|m| {
                    m.iter().next().and_then(|(field, v)| {
                        v.as_str().map(|s| self.key.open(&name, field, s).is_ok())
                    })
                })
                .unwrap_or(false);
            if !opens {
                return Err(StoreError::KeyCheckMissing {
                    source_name: self.key.source_name().to_owned(),
                    got: self.key.id(),
                    expected: stored_id.unwrap_or_else(|| "unknown".into()),
                });
            }
            tracing::warn!(
                key_id = %self.key.id(),
                "the database's key check was missing; the key opens the stored secrets, so the check was recorded again"
            );
        }
        // ON CONFLICT DO NOTHING: two instances starting at once on PostgreSQL agree on one key.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('key_check', $1), ('key_id', $2) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(self.key.key_check()?)
        .bind(self.key.id())
        .execute(&self.pool)
        .await?;
        // Whoever won the race, the stored check decides.
        let (check, id) = self.stored_key_check().await?;
        match check {
            Some(c) if self.key.verify_key_check(&c) => Ok(()),
            _ => Err(StoreError::WrongKey {
                source_name: self.key.source_name().to_owned(),
                expected: id.unwrap_or_else(|| "unknown".into()),
                got: self.key.id(),
            }),
        }
    }

    /// The key file did not open the database. If a rotation left `secret.key.new` and that
    /// key opens the key check, the rotation committed: finish it by renaming. A pending key
    /// that does not verify is never renamed over the current key.
    async fn finish_pending_rotation(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<Option<SecretKey>> {
        let file = crypto::key_file_path(data_dir);
        let pending = crypto::pending_key_file_path(data_dir);
        let Ok(text) = std::fs::read_to_string(&pending) else {
            return Ok(None);
        };
        let key = SecretKey::parse(&text, &file.display().to_string())?;
        let (check, id) = self.stored_key_check().await?;
        if !check.is_some_and(|c| key.verify_key_check(&c)) {
            return Err(StoreError::WrongKey {
                source_name: format!(
                    "{} (and {} does not match either; both files were left as they are)",
                    self.key.source_name(),
                    pending.display()
                ),
                expected: id.unwrap_or_else(|| "unknown".into()),
                got: self.key.id(),
            });
        }
        std::fs::rename(&pending, &file)
            .map_err(|e| StoreError::io("cannot finish the key rotation: rename", &pending, e))?;
        tracing::warn!(key_id = %key.id(), "finished an interrupted key rotation");
        Ok(Some(key))
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
        .bind(db_text(key))
        .bind(db_text(value))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes a `meta` value (tests of the key-check recovery use it).
    pub async fn meta_delete(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM meta WHERE key = $1")
            .bind(db_text(key))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// One `meta` value, through the pool or inside a transaction (`&mut *tx`).
pub(crate) async fn meta_value<'e, E>(executor: E, key: &str) -> Result<Option<String>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(db_text(key))
        .fetch_optional(executor)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

/// The migration sets of both backends, for the test that keeps them in step.
#[doc(hidden)]
pub fn migration_sql(backend: Backend) -> Vec<(i64, &'static str)> {
    db::migration_sources(backend)
        .into_iter()
        .map(|(v, _, sql)| (v, sql))
        .collect()
}
