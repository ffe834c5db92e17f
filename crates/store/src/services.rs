//! Services: create, read, update with optimistic concurrency, delete, and key rotation.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Backend, db_text, is_unique_violation};
use crate::error::{Result, StoreError};
use crate::{SecretKey, Store};

/// What a service is, as written by the API or the provisioning file.
#[derive(Clone, Debug)]
pub struct ServiceData {
    /// Provider id (`github`, …).
    pub provider: String,
    /// Non-secret config fields.
    pub config: Map<String, Value>,
    /// Secret config fields; sealed before they reach the database.
    pub secrets: BTreeMap<String, SecretString>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Whether the scheduler checks it.
    pub enabled: bool,
    /// Per-service check interval; `None` = the server default.
    pub interval_secs: Option<i64>,
    /// Managed by the `--config` file (API edits are refused).
    pub provisioned: bool,
}

/// Alias kept for readability at call sites that create.
pub type NewService = ServiceData;
/// Alias kept for readability at call sites that update.
pub type ServiceUpdate = ServiceData;

/// A stored service. Secret values stay sealed until [`Store::decrypt_secrets`].
#[derive(Clone, Debug)]
pub struct ServiceRecord {
    /// Database id.
    pub id: i64,
    /// Unique name (the URL key).
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// Non-secret config fields.
    pub config: Map<String, Value>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Whether the scheduler checks it.
    pub enabled: bool,
    /// Managed by the `--config` file.
    pub provisioned: bool,
    /// Per-service check interval in seconds.
    pub interval_secs: Option<i64>,
    /// Optimistic-concurrency version, +1 on every change.
    pub version: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    sealed: BTreeMap<String, String>,
}

impl ServiceRecord {
    /// Names of the secret fields that are set (values stay sealed).
    pub fn secret_fields(&self) -> impl Iterator<Item = &str> {
        self.sealed.keys().map(String::as_str)
    }
}

pub(crate) const COLUMNS: &str = "id, name, provider, config, secrets, tags, enabled, provisioned, \
                       interval_secs, version, created_at, updated_at";

pub(crate) fn parse_row(row: &AnyRow) -> Result<ServiceRecord> {
    let name: String = row.try_get("name")?;
    let json_obj = |col: &str| -> Result<Map<String, Value>> {
        let text: String = row.try_get(col)?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::corrupt(format!("{col} of service {name:?}"), e))
    };
    let config = json_obj("config")?;
    let sealed = json_obj("secrets")?
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(StoreError::corrupt(
                format!("secrets of service {name:?}"),
                "not a string",
            )),
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    let tags_text: String = row.try_get("tags")?;
    let tags: Vec<String> = serde_json::from_str(&tags_text)
        .map_err(|e| StoreError::corrupt(format!("tags of service {name:?}"), e))?;
    Ok(ServiceRecord {
        id: row.try_get("id")?,
        provider: row.try_get("provider")?,
        config,
        tags,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        provisioned: row.try_get::<i64, _>("provisioned")? != 0,
        interval_secs: row.try_get("interval_secs")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sealed,
        name,
    })
}

fn seal_all(
    key: &SecretKey,
    name: &str,
    secrets: &BTreeMap<String, SecretString>,
) -> Result<String> {
    let mut out = Map::new();
    for (field, value) in secrets {
        out.insert(field.clone(), Value::String(key.seal(name, field, value)?));
    }
    Ok(Value::Object(out).to_string())
}

impl Store {
    /// Every service, ordered by name.
    pub async fn list_services(&self) -> Result<Vec<ServiceRecord>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM services ORDER BY name"));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(parse_row).collect()
    }

    /// One service by name.
    pub async fn get_service(&self, name: &str) -> Result<ServiceRecord> {
        self.find_service(name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// One service by name, `None` when absent.
    pub async fn find_service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM services WHERE name = $1"));
        let row = sqlx::query(sql)
            .bind(db_text(name))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(parse_row).transpose()
    }

    /// One service by id.
    pub async fn get_service_by_id(&self, id: i64) -> Result<Option<ServiceRecord>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM services WHERE id = $1"));
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(parse_row).transpose()
    }

    /// Opens a service's sealed secrets.
    pub fn decrypt_secrets(&self, rec: &ServiceRecord) -> Result<BTreeMap<String, SecretString>> {
        rec.sealed
            .iter()
            .map(|(field, sealed)| Ok((field.clone(), self.key().open(&rec.name, field, sealed)?)))
            .collect()
    }

    /// Creates a service and schedules its first check now.
    pub async fn create_service(&self, name: &str, data: &ServiceData) -> Result<ServiceRecord> {
        self.insert_service(name, data, false)
            .await?
            .ok_or_else(|| StoreError::AlreadyExists {
                what: format!("service {name:?}"),
            })
    }

    /// Creates a service unless one with that name exists (then `None`): the provisioning
    /// upsert, safe when two instances start at once on one PostgreSQL database (the loser of
    /// the race gets `None` instead of a unique-key error).
    pub async fn create_service_if_absent(
        &self,
        name: &str,
        data: &ServiceData,
    ) -> Result<Option<ServiceRecord>> {
        self.insert_service(name, data, true).await
    }

    async fn insert_service(
        &self,
        name: &str,
        data: &ServiceData,
        if_absent: bool,
    ) -> Result<Option<ServiceRecord>> {
        let now = self.now();
        let secrets = seal_all(self.key(), name, &data.secrets)?;
        let mut tx = self.begin_write().await?;
        let conflict = if if_absent {
            "ON CONFLICT (name) DO NOTHING"
        } else {
            ""
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO services (name, provider, config, secrets, tags, enabled, provisioned, \
             interval_secs, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) {conflict} RETURNING {COLUMNS}"
        ));
        let row = sqlx::query(sql)
            .bind(db_text(name))
            .bind(db_text(&data.provider))
            .bind(Value::Object(data.config.clone()).to_string())
            .bind(secrets)
            .bind(tags_json(&data.tags))
            .bind(i64::from(data.enabled))
            .bind(i64::from(data.provisioned))
            .bind(data.interval_secs)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists {
                        what: format!("service {name:?}"),
                    }
                } else {
                    e.into()
                }
            })?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        let rec = parse_row(&row)?;
        sqlx::query("INSERT INTO schedule (service_id, next_check_at) VALUES ($1, $2)")
            .bind(rec.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(rec))
    }

    /// Replaces a service's data. With `expected_version`, the write only happens if the stored
    /// version still matches (compare-and-set), else [`StoreError::StaleVersion`].
    /// The next check is rescheduled to now, so a fixed config shows up at once, and a lease
    /// held for a check of the old config is released: that check's result will not be stored
    /// (its version no longer matches), and the new config is checked at once.
    pub async fn update_service(
        &self,
        name: &str,
        expected_version: Option<i64>,
        data: &ServiceData,
    ) -> Result<ServiceRecord> {
        let now = self.now();
        let secrets = seal_all(self.key(), name, &data.secrets)?;
        // The compare-and-set UPDATE is the transaction's first statement on purpose: on SQLite
        // a transaction that reads first and writes later fails with SQLITE_BUSY when another
        // writer commits in between, whereas a first write simply waits for the lock.
        // `-1` means "any version" (provisioning overwrites whatever is stored).
        let expected = expected_version.unwrap_or(-1);
        let mut tx = self.begin_write().await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE services SET provider = $1, config = $2, secrets = $3, tags = $4, enabled = $5, \
             provisioned = $6, interval_secs = $7, version = version + 1, updated_at = $8 \
             WHERE name = $9 AND (version = $10 OR $10 = -1) RETURNING {COLUMNS}"
        ));
        let row = sqlx::query(sql)
            .bind(db_text(&data.provider))
            .bind(Value::Object(data.config.clone()).to_string())
            .bind(secrets)
            .bind(tags_json(&data.tags))
            .bind(i64::from(data.enabled))
            .bind(i64::from(data.provisioned))
            .bind(data.interval_secs)
            .bind(now)
            .bind(db_text(name))
            .bind(expected)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            let latest: i64 = sqlx::query("SELECT version FROM services WHERE name = $1")
                .bind(db_text(name))
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
                .ok_or_else(|| not_found(name))?;
            return Err(StoreError::StaleVersion {
                expected,
                current: latest,
            });
        };
        let rec = parse_row(&row)?;
        sqlx::query(
            "UPDATE schedule SET next_check_at = $1, lease_owner = NULL, lease_expires_at = NULL \
             WHERE service_id = $2",
        )
        .bind(now)
        .bind(rec.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    /// Marks services that are no longer in the provisioning file as API-managed.
    pub async fn clear_provisioned(&self, name: &str) -> Result<()> {
        sqlx::query(
            "UPDATE services SET provisioned = 0, version = version + 1, updated_at = $1 \
             WHERE name = $2 AND provisioned = 1",
        )
        .bind(self.now())
        .bind(db_text(name))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a service and (by cascade) its results, schedule and metrics.
    pub async fn delete_service(&self, name: &str) -> Result<()> {
        let r = sqlx::query("DELETE FROM services WHERE name = $1")
            .bind(db_text(name))
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(not_found(name));
        }
        Ok(())
    }

    /// Re-encrypts every secret under `new_key` in one write transaction and records the new
    /// key's check value. Afterwards this handle uses the new key. The transaction holds the
    /// write lock from its start (SQLite `BEGIN IMMEDIATE`; on PostgreSQL an exclusive lock on
    /// `services`), so no write can slip in between the read and the re-encryption.
    pub async fn rotate_key(&mut self, new_key: SecretKey) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE services, alert_channels IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM services"));
        let rows = sqlx::query(sql).fetch_all(&mut *tx).await?;
        let mut count = 0;
        for row in &rows {
            let rec = parse_row(row)?;
            let plain = self.decrypt_secrets(&rec)?;
            let resealed = seal_all(&new_key, &rec.name, &plain)?;
            sqlx::query("UPDATE services SET secrets = $1 WHERE id = $2")
                .bind(resealed)
                .bind(rec.id)
                .execute(&mut *tx)
                .await?;
            count += plain.len();
        }
        count += crate::alerts::reseal_channels(&mut tx, &self.key, &new_key).await?;
        sqlx::query("UPDATE meta SET value = $1 WHERE key = 'key_check'")
            .bind(new_key.key_check()?)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE meta SET value = $1 WHERE key = 'key_id'")
            .bind(new_key.id())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.key = new_key;
        Ok(count)
    }
}

fn tags_json(tags: &[String]) -> String {
    Value::Array(tags.iter().map(|t| Value::String(db_text(t))).collect()).to_string()
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("service {name:?}"),
    }
}
