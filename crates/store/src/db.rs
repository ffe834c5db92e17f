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

fn migrations(backend: Backend) -> Vec<Migration> {
    let init: &'static str = match backend {
        Backend::Sqlite => include_str!("../migrations/sqlite/0001_init.sql"),
        Backend::Postgres => include_str!("../migrations/postgres/0001_init.sql"),
    };
    vec![Migration::new(
        1,
        Cow::Borrowed("init"),
        MigrationType::Simple,
        init.into_sql_str(),
        false,
    )]
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
