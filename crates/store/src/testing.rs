//! Test support shared by the store's and the server's tests (feature `testing`): one policy for
//! runs without PostgreSQL.
//!
//! Each PostgreSQL test gets a fresh schema in the database named by `OPSDECK_TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), reached through a URL whose
//! `search_path` points at it — much cheaper than a database per test. When PostgreSQL cannot
//! be reached: in CI (`CI` set) that is a failure; locally the test prints a visible `SKIP`
//! notice and returns early.

use sqlx::any::AnyPoolOptions;

/// The base URL of the test database.
pub fn base_url() -> String {
    std::env::var("OPSDECK_TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A URL for a fresh, empty schema, or `None` (after a `SKIP` notice naming `test`) when
/// PostgreSQL is unreachable outside CI.
///
/// # Panics
/// In CI when PostgreSQL is unreachable: CI always has it.
pub async fn postgres_url(test: &str) -> Option<String> {
    sqlx::any::install_default_drivers();
    let base = base_url();
    let schema = format!("opsdeck_t_{:016x}", rand::random::<u64>());
    let created = async {
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect(&base)
            .await?;
        let sql = sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"));
        sqlx::query(sql).execute(&pool).await?;
        pool.close().await;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    match created {
        Ok(()) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
        }
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIP {test}: PostgreSQL is not reachable at {} ({e}); start it or set \
                 OPSDECK_TEST_DATABASE_URL (CI always runs these tests)",
                redact(&base)
            );
            None
        }
        Err(e) => panic!("{test}: PostgreSQL is required in CI and is not reachable: {e}"),
    }
}

/// Drops the schema behind a URL from [`postgres_url`].
pub async fn drop_postgres(url: &str) {
    let Some(schema) = url
        .rsplit("search_path%3D")
        .next()
        .filter(|s| s.starts_with("opsdeck_t_"))
    else {
        return;
    };
    let base = base_url();
    if let Ok(pool) = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
    {
        let sql = sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        let _ = sqlx::query(sql).execute(&pool).await;
        pool.close().await;
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}
