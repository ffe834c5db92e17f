//! Opening the database: backend choice, SQLite file settings, and embedded migrations.
//!
//! Both backends go through sqlx's `Any` driver so the rest of the crate has one code path.
//! The price is a small type vocabulary (integers, floats, text, blobs): timestamps are stored
//! as unix milliseconds and flags as 0/1 integers.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr};

use crate::error::{Result, StoreError};

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file in the data directory, one opsdeckd instance.
    Sqlite,
    /// For teams: several opsdeckd instances can share one database.
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "sqlite" => Ok(Self::Sqlite),
            other => Err(StoreError::UnsupportedUrl {
                scheme: other.to_owned(),
            }),
        }
    }

    /// `"sqlite"` or `"postgres"`, for logs and `/healthz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The SQLite URL for the database file in `data_dir`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("opsdeck.db").display()
    )
}

pub(crate) async fn connect(url: &str, backend: Backend) -> Result<AnyPool> {
    install_default_drivers();
    let max = match backend {
        // WAL lets readers run beside the single writer; more connections than cores buys
        // nothing for SQLite.
        Backend::Sqlite => 8,
        Backend::Postgres => 16,
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?;
    if backend == Backend::Sqlite {
        // journal_mode is stored in the file, so setting it once per open is enough; WAL keeps
        // readers (the status endpoint) from blocking on the scheduler's writes.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
    }
    Ok(pool)
}

/// Declares the embedded migrations: one line per file, present in both folders under the same
/// name. Applied migrations are never edited; a change is a new file in both folders.
macro_rules! embedded_migrations {
    ($($version:literal $name:literal $file:literal),* $(,)?) => {
        /// The embedded migrations of one backend: (version, name, SQL).
        pub(crate) fn migration_sources(backend: Backend) -> Vec<(i64, &'static str, &'static str)> {
            match backend {
                Backend::Sqlite => vec![$(
                    ($version, $name, include_str!(concat!("../migrations/sqlite/", $file))),
                )*],
                Backend::Postgres => vec![$(
                    ($version, $name, include_str!(concat!("../migrations/postgres/", $file))),
                )*],
            }
        }
    };
}

embedded_migrations! {
    1 "init" "0001_init.sql",
    2 "scheduler and views" "0002_scheduler_and_views.sql",
    3 "check details" "0003_check_details.sql",
    10 "monitoring" "0010_monitoring.sql",
    20 "alerts" "0020_alerts.sql",
    30 "incidents" "0030_incidents.sql",
    40 "metric problems" "0040_metric_problems.sql",
}

fn migrations(backend: Backend) -> Vec<Migration> {
    migration_sources(backend)
        .into_iter()
        .map(|(version, name, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(name),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect()
}

pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    // On PostgreSQL the migrator holds an advisory lock, so instances starting together are safe.
    Migrator::with_migrations(migrations(backend))
        .run(pool)
        .await?;
    Ok(())
}

/// Milliseconds since the Unix epoch, the store's time unit.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// A row refers to a service that a concurrent transaction deleted (PostgreSQL checks the
/// reference at insert time, after our snapshot was taken).
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_foreign_key_violation(),
        _ => false,
    }
}

/// A write about a service that was deleted meanwhile is dropped, not an error: the row it
/// belonged to is gone with the service (foreign keys cascade).
pub(crate) fn unless_service_gone<T>(r: std::result::Result<T, sqlx::Error>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_foreign_key_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Text as both backends store it alike. PostgreSQL refuses NUL in `TEXT` (SQLite keeps it), so
/// NUL becomes U+FFFD here, on every string bound for the database: a vendor message or an odd
/// name then reads the same on either backend instead of failing on one. (Rust strings are
/// valid UTF-8 already, so no other code point needs replacing.) Callers that take text from a
/// user refuse control characters with a field error before it gets here.
pub fn db_text(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s.to_owned()
    }
}

/// [`db_text`] for optional text.
pub(crate) fn db_text_opt(s: Option<&str>) -> Option<String> {
    s.map(db_text)
}
