//! Alerts (issue 11): notification channels with sealed secrets, rule/silence/budget
//! definitions, per (rule, service) alert state, alert history, budget state, and the durable
//! outbox the delivery loop leases rows from.
//!
//! The state and the outbox rows of one evaluation are written in one transaction
//! ([`AlertTx`]) that also advances the evaluation cursor, so a transition is recorded and its
//! notifications queued together or not at all, and two instances never evaluate one result
//! twice (the cursor row is locked for the transaction).

use std::collections::BTreeMap;

use opsdeck_monitor::rollup::{PendingId, RollupCursor};
use secrecy::SecretString;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Backend, db_text, db_text_opt, is_unique_violation};
use crate::error::{Result, StoreError};
use crate::results::{COLUMNS as RESULT_COLUMNS, CheckResult, parse_at};
use crate::{SecretKey, Store};

/// The kinds of definitions kept in `alert_configs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKind {
    /// `[alerts.*]`.
    Alert,
    /// `[silences.*]`.
    Silence,
    /// `[budgets.*]`.
    Budget,
}

impl ConfigKind {
    /// The table name in `opsdeck.toml` (`alerts`, `silences`, `budgets`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKind::Alert => "alerts",
            ConfigKind::Silence => "silences",
            ConfigKind::Budget => "budgets",
        }
    }

    fn what(self, name: &str) -> String {
        let noun = match self {
            ConfigKind::Alert => "alert",
            ConfigKind::Silence => "silence",
            ConfigKind::Budget => "budget",
        };
        format!("{noun} {name:?}")
    }
}

/// A stored channel. Secret values stay sealed until [`Store::decrypt_channel_secrets`].
#[derive(Clone, Debug)]
pub struct ChannelRecord {
    /// Unique name.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// Plain fields (including `kind`).
    pub config: Map<String, Value>,
    /// Managed by the `--config` file.
    pub provisioned: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    sealed: BTreeMap<String, String>,
}

impl ChannelRecord {
    /// Names of the secret fields that are set.
    pub fn secret_fields(&self) -> impl Iterator<Item = &str> {
        self.sealed.keys().map(String::as_str)
    }
}

/// What a channel is, as written by the API or the provisioning file.
#[derive(Clone, Debug)]
pub struct ChannelData {
    /// `webhook`, `slack` or `email`.
    pub kind: String,
    /// Plain fields.
    pub config: Map<String, Value>,
    /// Secret fields; sealed before they reach the database.
    pub secrets: BTreeMap<String, SecretString>,
    /// Managed by the `--config` file.
    pub provisioned: bool,
}

/// A stored rule, silence or budget definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigRecord {
    /// Which table.
    pub kind: ConfigKind,
    /// Its name.
    pub name: String,
    /// The entry as written (a JSON object).
    pub body: Value,
    /// Managed by the `--config` file.
    pub provisioned: bool,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// The state of one (rule, service), for the API and the service page.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertStateRecord {
    /// Rule name.
    pub rule: String,
    /// Service id.
    pub service_id: i64,
    /// Service name.
    pub service: String,
    /// opsdeck-monitor's `AlertState` as JSON.
    pub state: Value,
    /// Whether it fires.
    pub firing: bool,
    /// Unix ms.
    pub updated_at: i64,
}

/// One alert-history entry to write.
#[derive(Clone, Debug, PartialEq)]
pub struct NewHistory {
    /// Unix ms.
    pub at: i64,
    /// `alert.firing`, `alert.resolved`, `alert.reminder`, `budget.threshold`.
    pub event: String,
    /// Rule or budget name.
    pub rule: String,
    /// Service name (alerts).
    pub service: Option<String>,
    /// Provider id (alerts).
    pub provider: Option<String>,
    /// In words.
    pub message: String,
    /// Whether notifications were queued.
    pub notified: bool,
    /// Why not (`silenced: maintenance`, `never_announced`, …).
    pub suppressed: Option<String>,
    /// Extra JSON (budget figures).
    pub detail: Option<Value>,
}

/// A stored alert-history entry.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRecord {
    /// Row id.
    pub id: i64,
    /// The entry.
    pub entry: NewHistory,
}

/// A notification to queue for one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOutbox {
    /// Idempotency key (the delivery id), unique.
    pub delivery: String,
    /// Channel name.
    pub channel: String,
    /// opsdeck-notify's `Notification` as JSON.
    pub notification: Value,
    /// The history entry it announces.
    pub history_id: Option<i64>,
}

/// Where an outbox row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting for (another) attempt.
    Pending,
    /// Accepted by the receiver.
    Delivered,
    /// Gave up (permanent failure or attempts used up).
    GaveUp,
}

impl OutboxState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::GaveUp => "gave_up",
        }
    }

    fn parse(s: &str) -> OutboxState {
        match s {
            "delivered" => OutboxState::Delivered,
            "gave_up" => OutboxState::GaveUp,
            _ => OutboxState::Pending,
        }
    }
}

/// A stored outbox row.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRecord {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub delivery: String,
    /// Channel name.
    pub channel: String,
    /// The notification as JSON.
    pub notification: Value,
    /// The history entry it announces.
    pub history_id: Option<i64>,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts made (a claimed row counts the attempt it was claimed for).
    pub attempts: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub next_attempt_at: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was delivered or given up.
    pub finished_at: Option<i64>,
}

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// Delivered.
    Delivered,
    /// Try again at (unix ms).
    Retry {
        /// Next attempt.
        at: i64,
        /// Why this one failed.
        error: String,
    },
    /// Not attempted: try again at `at` (unix ms) without counting an attempt (the delivery
    /// waits for something else first).
    Defer {
        /// Next attempt.
        at: i64,
    },
    /// Gave up.
    GaveUp {
        /// Why.
        error: String,
    },
}

/// A check result with the service facts the rules match on.
#[derive(Clone, Debug)]
pub struct ResultForRules {
    /// The stored result.
    pub result: CheckResult,
    /// Service name.
    pub service: String,
    /// Provider id.
    pub provider: String,
    /// Tags.
    pub tags: Vec<String>,
}

const CHANNEL_COLUMNS: &str =
    "name, kind, config, secrets, provisioned, version, created_at, updated_at";
const CONFIG_COLUMNS: &str = "kind, name, body, provisioned, version, created_at, updated_at";
const HISTORY_COLUMNS: &str =
    "id, at, event, rule, service, provider, message, notified, suppressed, detail";
const OUTBOX_COLUMNS: &str = "id, delivery, channel, notification, history_id, state, attempts, \
                              created_at, next_attempt_at, last_error, finished_at";

/// Channel secrets are sealed bound to `channel:<name>` and the field, so they can neither be
/// swapped with a service's secrets nor between channels.
fn channel_aad(name: &str) -> String {
    format!("channel:{name}")
}

fn seal_channel(
    key: &SecretKey,
    name: &str,
    secrets: &BTreeMap<String, SecretString>,
) -> Result<String> {
    let mut out = Map::new();
    for (field, value) in secrets {
        out.insert(
            field.clone(),
            Value::String(key.seal(&channel_aad(name), field, value)?),
        );
    }
    Ok(Value::Object(out).to_string())
}

fn json_object(text: &str, what: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what.to_owned(), e))
}

fn parse_channel(row: &AnyRow) -> Result<ChannelRecord> {
    let name: String = row.try_get("name")?;
    let config = json_object(
        &row.try_get::<String, _>("config")?,
        &format!("config of channel {name:?}"),
    )?;
    let sealed = json_object(
        &row.try_get::<String, _>("secrets")?,
        &format!("secrets of channel {name:?}"),
    )?
    .into_iter()
    .map(|(k, v)| match v {
        Value::String(s) => Ok((k, s)),
        _ => Err(StoreError::corrupt(
            format!("secrets of channel {name:?}"),
            "not a string",
        )),
    })
    .collect::<Result<BTreeMap<_, _>>>()?;
    Ok(ChannelRecord {
        kind: row.try_get("kind")?,
        config,
        provisioned: row.try_get::<i64, _>("provisioned")? != 0,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sealed,
        name,
    })
}

fn parse_kind(s: &str) -> Result<ConfigKind> {
    match s {
        "alerts" => Ok(ConfigKind::Alert),
        "silences" => Ok(ConfigKind::Silence),
        "budgets" => Ok(ConfigKind::Budget),
        other => Err(StoreError::corrupt("alert config kind", other)),
    }
}

fn parse_config(row: &AnyRow) -> Result<ConfigRecord> {
    let kind = parse_kind(&row.try_get::<String, _>("kind")?)?;
    let name: String = row.try_get("name")?;
    let body: Value = serde_json::from_str(&row.try_get::<String, _>("body")?)
        .map_err(|e| StoreError::corrupt(kind.what(&name), e))?;
    Ok(ConfigRecord {
        kind,
        body,
        provisioned: row.try_get::<i64, _>("provisioned")? != 0,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        name,
    })
}

fn parse_history(row: &AnyRow) -> Result<HistoryRecord> {
    let detail: Option<String> = row.try_get("detail")?;
    Ok(HistoryRecord {
        id: row.try_get("id")?,
        entry: NewHistory {
            at: row.try_get("at")?,
            event: row.try_get("event")?,
            rule: row.try_get("rule")?,
            service: row.try_get("service")?,
            provider: row.try_get("provider")?,
            message: row.try_get("message")?,
            notified: row.try_get::<i64, _>("notified")? != 0,
            suppressed: row.try_get("suppressed")?,
            detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        },
    })
}

fn parse_outbox(row: &AnyRow) -> Result<OutboxRecord> {
    let delivery: String = row.try_get("delivery")?;
    let notification = serde_json::from_str(&row.try_get::<String, _>("notification")?)
        .map_err(|e| StoreError::corrupt(format!("outbox row {delivery}"), e))?;
    Ok(OutboxRecord {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        notification,
        history_id: row.try_get("history_id")?,
        state: OutboxState::parse(&row.try_get::<String, _>("state")?),
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        finished_at: row.try_get("finished_at")?,
        delivery,
    })
}

fn channel_not_found(name: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("channel {name:?}"),
    }
}

impl Store {
    // ---- channels -------------------------------------------------------------------------

    /// Every channel, by name.
    pub async fn list_channels(&self) -> Result<Vec<ChannelRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels ORDER BY name"
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(parse_channel).collect()
    }

    /// One channel, `None` when absent.
    pub async fn find_channel(&self, name: &str) -> Result<Option<ChannelRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE name = $1"
        ));
        let row = sqlx::query(sql)
            .bind(db_text(name))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(parse_channel).transpose()
    }

    /// Opens a channel's sealed secrets.
    pub fn decrypt_channel_secrets(
        &self,
        rec: &ChannelRecord,
    ) -> Result<BTreeMap<String, SecretString>> {
        rec.sealed
            .iter()
            .map(|(field, sealed)| {
                Ok((
                    field.clone(),
                    self.key().open(&channel_aad(&rec.name), field, sealed)?,
                ))
            })
            .collect()
    }

    /// Creates a channel.
    pub async fn create_channel(&self, name: &str, data: &ChannelData) -> Result<ChannelRecord> {
        let now = self.now();
        let secrets = seal_channel(self.key(), name, &data.secrets)?;
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO alert_channels (name, kind, config, secrets, provisioned, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6) \
             RETURNING {CHANNEL_COLUMNS}"
        ));
        let row = sqlx::query(sql)
            .bind(db_text(name))
            .bind(db_text(&data.kind))
            .bind(Value::Object(data.config.clone()).to_string())
            .bind(secrets)
            .bind(i64::from(data.provisioned))
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists {
                        what: format!("channel {name:?}"),
                    }
                } else {
                    e.into()
                }
            })?;
        parse_channel(&row)
    }

    /// Replaces a channel (compare-and-set on `expected_version` when given).
    pub async fn update_channel(
        &self,
        name: &str,
        expected_version: Option<i64>,
        data: &ChannelData,
    ) -> Result<ChannelRecord> {
        let now = self.now();
        let secrets = seal_channel(self.key(), name, &data.secrets)?;
        let expected = expected_version.unwrap_or(-1);
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE alert_channels SET kind = $1, config = $2, secrets = $3, provisioned = $4, \
             version = version + 1, updated_at = $5 \
             WHERE name = $6 AND (version = $7 OR $7 = -1) RETURNING {CHANNEL_COLUMNS}"
        ));
        let row = sqlx::query(sql)
            .bind(db_text(&data.kind))
            .bind(Value::Object(data.config.clone()).to_string())
            .bind(secrets)
            .bind(i64::from(data.provisioned))
            .bind(now)
            .bind(db_text(name))
            .bind(expected)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => parse_channel(&row),
            None => {
                let current = self
                    .find_channel(name)
                    .await?
                    .ok_or_else(|| channel_not_found(name))?;
                Err(StoreError::StaleVersion {
                    expected,
                    current: current.version,
                })
            }
        }
    }

    /// Deletes a channel.
    pub async fn delete_channel(&self, name: &str) -> Result<()> {
        let r = sqlx::query("DELETE FROM alert_channels WHERE name = $1")
            .bind(db_text(name))
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(channel_not_found(name));
        }
        Ok(())
    }

    // ---- rules, silences, budgets ---------------------------------------------------------

    /// Every definition of a kind, by name.
    pub async fn list_alert_configs(&self, kind: ConfigKind) -> Result<Vec<ConfigRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CONFIG_COLUMNS} FROM alert_configs WHERE kind = $1 ORDER BY name"
        ));
        let rows = sqlx::query(sql)
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(parse_config).collect()
    }

    /// One definition, `None` when absent.
    pub async fn find_alert_config(
        &self,
        kind: ConfigKind,
        name: &str,
    ) -> Result<Option<ConfigRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CONFIG_COLUMNS} FROM alert_configs WHERE kind = $1 AND name = $2"
        ));
        let row = sqlx::query(sql)
            .bind(kind.as_str())
            .bind(db_text(name))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(parse_config).transpose()
    }

    /// Creates a definition.
    pub async fn create_alert_config(
        &self,
        kind: ConfigKind,
        name: &str,
        body: &Value,
        provisioned: bool,
    ) -> Result<ConfigRecord> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO alert_configs (kind, name, body, provisioned, version, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING {CONFIG_COLUMNS}"
        ));
        let row = sqlx::query(sql)
            .bind(kind.as_str())
            .bind(db_text(name))
            .bind(body.to_string())
            .bind(i64::from(provisioned))
            .bind(self.now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists {
                        what: kind.what(name),
                    }
                } else {
                    e.into()
                }
            })?;
        parse_config(&row)
    }

    /// Replaces a definition (compare-and-set on `expected_version` when given).
    pub async fn update_alert_config(
        &self,
        kind: ConfigKind,
        name: &str,
        expected_version: Option<i64>,
        body: &Value,
        provisioned: bool,
    ) -> Result<ConfigRecord> {
        let expected = expected_version.unwrap_or(-1);
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE alert_configs SET body = $1, provisioned = $2, version = version + 1, \
             updated_at = $3 WHERE kind = $4 AND name = $5 AND (version = $6 OR $6 = -1) \
             RETURNING {CONFIG_COLUMNS}"
        ));
        let row = sqlx::query(sql)
            .bind(body.to_string())
            .bind(i64::from(provisioned))
            .bind(self.now())
            .bind(kind.as_str())
            .bind(db_text(name))
            .bind(expected)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => parse_config(&row),
            None => {
                let current = self.find_alert_config(kind, name).await?.ok_or_else(|| {
                    StoreError::NotFound {
                        what: kind.what(name),
                    }
                })?;
                Err(StoreError::StaleVersion {
                    expected,
                    current: current.version,
                })
            }
        }
    }

    /// Deletes a definition (and, for a rule, its per-service states).
    pub async fn delete_alert_config(&self, kind: ConfigKind, name: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query("DELETE FROM alert_configs WHERE kind = $1 AND name = $2")
            .bind(kind.as_str())
            .bind(db_text(name))
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound {
                what: kind.what(name),
            });
        }
        let cleanup = match kind {
            ConfigKind::Alert => Some("DELETE FROM alert_states WHERE rule = $1"),
            ConfigKind::Budget => Some("DELETE FROM budget_states WHERE budget = $1"),
            ConfigKind::Silence => None,
        };
        if let Some(sql) = cleanup {
            sqlx::query(sql)
                .bind(db_text(name))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- state, history -------------------------------------------------------------------

    /// Every stored (rule, service) state, with the service's name.
    pub async fn alert_states(&self) -> Result<Vec<AlertStateRecord>> {
        let rows = sqlx::query(
            "SELECT a.rule, a.service_id, s.name, a.state, a.firing, a.updated_at \
             FROM alert_states a JOIN services s ON s.id = a.service_id ORDER BY a.rule, s.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let rule: String = r.try_get(0)?;
                let text: String = r.try_get(3)?;
                Ok(AlertStateRecord {
                    state: serde_json::from_str(&text)
                        .map_err(|e| StoreError::corrupt(format!("state of alert {rule:?}"), e))?,
                    rule,
                    service_id: r.try_get(1)?,
                    service: r.try_get(2)?,
                    firing: r.try_get::<i64, _>(4)? != 0,
                    updated_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// History since `since` (unix ms), newest first; optionally of one service.
    pub async fn alert_history(
        &self,
        since: i64,
        service: Option<&str>,
        limit: i64,
    ) -> Result<Vec<HistoryRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {HISTORY_COLUMNS} FROM alert_history WHERE at >= $1 \
             AND ($2 = '' OR service = $2) ORDER BY at DESC, id DESC LIMIT $3"
        ));
        let rows = sqlx::query(sql)
            .bind(since)
            .bind(db_text(service.unwrap_or("")))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(parse_history).collect()
    }

    /// Budget state rows (budget name → opsdeck-monitor's `BudgetState` as JSON).
    pub async fn budget_states(&self) -> Result<BTreeMap<String, Value>> {
        let rows = sqlx::query("SELECT budget, state FROM budget_states")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                let text: String = r.try_get(1)?;
                let v = serde_json::from_str(&text)
                    .map_err(|e| StoreError::corrupt(format!("state of budget {name:?}"), e))?;
                Ok((name, v))
            })
            .collect()
    }

    /// The stored cost figure of every service that has one (service id → figure JSON).
    pub async fn cost_figures(&self) -> Result<BTreeMap<i64, Value>> {
        let rows = sqlx::query("SELECT service_id, figure FROM alert_cost_figures")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get(0)?;
                let text: String = r.try_get(1)?;
                let v = serde_json::from_str(&text)
                    .map_err(|e| StoreError::corrupt("cost figure", e))?;
                Ok((id, v))
            })
            .collect()
    }

    /// Saves a service's latest cost figure (no-op when the service is gone).
    pub async fn save_cost_figure(
        &self,
        service_id: i64,
        figure: &Value,
        as_of: i64,
    ) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO alert_cost_figures (service_id, figure, as_of) \
             SELECT $1, $2, $3 FROM services WHERE id = $1 \
             ON CONFLICT (service_id) DO UPDATE SET figure = excluded.figure, as_of = excluded.as_of",
        )
        .bind(service_id)
        .bind(figure.to_string())
        .bind(as_of)
        .execute(&self.pool)
        .await;
        crate::db::unless_service_gone(r)
    }

    // ---- evaluation transaction -----------------------------------------------------------

    /// Whether results were stored after the `name` cursor, or one it jumped over has committed
    /// since (a read, so an idle evaluator does not take the write lock on every tick). `true`
    /// when the cursor does not exist yet.
    pub async fn results_pending(&self, name: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT (SELECT MAX(id) FROM check_results), \
             (SELECT value FROM alert_cursors WHERE name = $1)",
        )
        .bind(db_text(name))
        .fetch_one(&self.pool)
        .await?;
        let max: Option<i64> = row.try_get(0)?;
        let cursor: Option<i64> = row.try_get(1)?;
        let ahead = match cursor {
            None => true,
            Some(c) => max.unwrap_or(0) > c,
        };
        if ahead {
            return Ok(true);
        }
        // A result the cursor jumped over that has committed since.
        let pending = match crate::meta_value(&self.pool, &pending_key(name)).await? {
            Some(text) => parse_pending(&text)?,
            None => return Ok(false),
        };
        if pending.is_empty() {
            return Ok(false);
        }
        let ids: Vec<String> = pending.iter().map(|p| p.id.to_string()).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM check_results WHERE id IN ({})",
            ids.join(", ")
        ));
        let n: i64 = sqlx::query(sql).fetch_one(&self.pool).await?.try_get(0)?;
        Ok(n > 0)
    }

    /// Starts an evaluation: a write transaction holding the `name` cursor row locked, so
    /// instances sharing a PostgreSQL database evaluate one after the other and each result
    /// once. Returns the transaction and the cursor (`None` the first time).
    pub async fn begin_alert_eval(&self, cursor: &str) -> Result<(AlertTx, Option<i64>)> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO alert_cursors (name, value) VALUES ($1, -1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(db_text(cursor))
        .execute(&mut *tx)
        .await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT value FROM alert_cursors WHERE name = $1{lock}"
        ));
        let value: i64 = sqlx::query(sql)
            .bind(db_text(cursor))
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        Ok((AlertTx { tx }, (value >= 0).then_some(value)))
    }

    // ---- outbox ---------------------------------------------------------------------------

    /// Leases up to `limit` due, pending rows to `owner` until `now + lease_ms`, counting the
    /// attempt. A row leased by another live instance is skipped; one whose lease expired (its
    /// instance died mid-send) is taken over.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRecord>> {
        // The candidates are chosen once (a materialized CTE), so LIMIT bounds the batch; on
        // PostgreSQL rows another instance is claiming are skipped, not waited for.
        let (materialized, lock) = match self.backend {
            Backend::Postgres => ("MATERIALIZED", "FOR UPDATE SKIP LOCKED"),
            Backend::Sqlite => ("", ""),
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "WITH due AS {materialized} (SELECT id FROM alert_outbox WHERE state = 'pending' \
               AND next_attempt_at <= $3 AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
               ORDER BY id LIMIT $4 {lock}) \
             UPDATE alert_outbox SET lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM due) \
             AND state = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
             RETURNING {OUTBOX_COLUMNS}"
        ));
        let rows = sqlx::query(sql)
            .bind(db_text(owner))
            .bind(now.saturating_add(lease_ms))
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out: Vec<OutboxRecord> = rows.iter().map(parse_outbox).collect::<Result<_>>()?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Records an attempt's result, if `owner` still holds the row's lease. Returns whether it
    /// did.
    pub async fn finish_outbox(
        &self,
        id: i64,
        owner: &str,
        result: &AttemptResult,
        now: i64,
    ) -> Result<bool> {
        let (state, next, error, finished) = match result {
            AttemptResult::Delivered => (OutboxState::Delivered, now, None, Some(now)),
            AttemptResult::Retry { at, error } => (OutboxState::Pending, *at, Some(error), None),
            AttemptResult::GaveUp { error } => (OutboxState::GaveUp, now, Some(error), Some(now)),
            AttemptResult::Defer { at } => {
                // The claim counted an attempt that was not made.
                let r = sqlx::query(
                    "UPDATE alert_outbox SET next_attempt_at = $1, attempts = attempts - 1, \
                     lease_owner = NULL, lease_expires_at = NULL \
                     WHERE id = $2 AND lease_owner = $3 AND state = 'pending'",
                )
                .bind(*at)
                .bind(id)
                .bind(db_text(owner))
                .execute(&self.pool)
                .await?;
                return Ok(r.rows_affected() == 1);
            }
        };
        let r = sqlx::query(
            "UPDATE alert_outbox SET state = $1, next_attempt_at = $2, \
             last_error = COALESCE($3, last_error), finished_at = $4, lease_owner = NULL, \
             lease_expires_at = NULL WHERE id = $5 AND lease_owner = $6 AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(next)
        .bind(error.map(|e| db_text(e)))
        .bind(finished)
        .bind(id)
        .bind(db_text(owner))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Outbox rows, newest first (tests, the API's delivery log).
    pub async fn outbox(&self, limit: i64) -> Result<Vec<OutboxRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM alert_outbox ORDER BY id DESC LIMIT $1"
        ));
        let rows = sqlx::query(sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(parse_outbox).collect()
    }

    /// The earliest `next_attempt_at` of a pending row (the delivery loop sleeps until then).
    pub async fn next_outbox_due(&self) -> Result<Option<i64>> {
        let row =
            sqlx::query("SELECT MIN(next_attempt_at) FROM alert_outbox WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get(0)?)
    }
}

fn parse_result_for_rules(row: &AnyRow) -> Result<ResultForRules> {
    let tags: String = row.try_get(11)?;
    Ok(ResultForRules {
        result: parse_at(row, 0)?,
        service: row.try_get(9)?,
        provider: row.try_get(10)?,
        tags: serde_json::from_str(&tags).map_err(|e| StoreError::corrupt("service tags", e))?,
    })
}

fn parse_pending(text: &str) -> Result<Vec<PendingId>> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt("alert results cursor", e))
}

/// Where the ids a results cursor jumped over are kept (`alert_cursors` holds numbers only).
fn pending_key(cursor: &str) -> String {
    format!("alert_cursor_pending:{cursor}")
}

/// One evaluation's writes, committed together (see [`Store::begin_alert_eval`]).
pub struct AlertTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
}

impl std::fmt::Debug for AlertTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertTx").finish_non_exhaustive()
    }
}

impl AlertTx {
    /// Results stored after `after` (row id), oldest first, with their services' facts.
    pub async fn results_after(&mut self, after: i64, limit: i64) -> Result<Vec<ResultForRules>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RESULT_COLUMNS}, s.name, s.provider, s.tags FROM check_results r \
             JOIN services s ON s.id = r.service_id WHERE r.id > $1 ORDER BY r.id LIMIT $2"
        ));
        let rows = sqlx::query(sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(parse_result_for_rules).collect()
    }

    /// The ids the `name` results cursor jumped over that may still appear (kept in `meta`
    /// beside the cursor's number), as a cursor at `after`.
    pub async fn results_cursor(&mut self, name: &str, after: i64) -> Result<RollupCursor> {
        let pending = match crate::meta_value(&mut *self.tx, &pending_key(name)).await? {
            Some(text) => parse_pending(&text)?,
            None => Vec::new(),
        };
        Ok(RollupCursor {
            last_id: after,
            pending,
        })
    }

    /// Results the cursor does not cover (after it, or jumped over and committed since),
    /// oldest id first, with their services' facts.
    pub async fn results_after_cursor(
        &mut self,
        cursor: &RollupCursor,
        limit: i64,
    ) -> Result<Vec<ResultForRules>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RESULT_COLUMNS}, s.name, s.provider, s.tags FROM check_results r \
             JOIN services s ON s.id = r.service_id WHERE {} ORDER BY r.id LIMIT $1",
            crate::history::uncovered(cursor, "r.id")
        ));
        let rows = sqlx::query(sql)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(parse_result_for_rules).collect()
    }

    /// Moves the `name` results cursor, with the ids it still expects.
    pub async fn set_results_cursor(&mut self, name: &str, cursor: &RollupCursor) -> Result<()> {
        self.set_cursor(name, cursor.last_id).await?;
        if cursor.pending.is_empty() {
            sqlx::query("DELETE FROM meta WHERE key = $1")
                .bind(db_text(&pending_key(name)))
                .execute(&mut *self.tx)
                .await?;
        } else {
            let text = serde_json::to_string(&cursor.pending)
                .map_err(|e| StoreError::corrupt("alert results cursor", e))?;
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(db_text(&pending_key(name)))
            .bind(text)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    /// The highest stored result id (a first evaluation starts from here, not from history).
    pub async fn max_result_id(&mut self) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(id) FROM check_results")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    /// Moves a cursor.
    pub async fn set_cursor(&mut self, name: &str, value: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO alert_cursors (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(db_text(name))
        .bind(value)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Reads a cursor other than the locked one.
    pub async fn cursor(&mut self, name: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT value FROM alert_cursors WHERE name = $1")
            .bind(db_text(name))
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// The state of (rule, service), `None` when never stored.
    pub async fn state(&mut self, rule: &str, service_id: i64) -> Result<Option<Value>> {
        let row = sqlx::query("SELECT state FROM alert_states WHERE rule = $1 AND service_id = $2")
            .bind(db_text(rule))
            .bind(service_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        match row {
            Some(r) => {
                let text: String = r.try_get(0)?;
                Ok(Some(serde_json::from_str(&text).map_err(|e| {
                    StoreError::corrupt(format!("state of alert {rule:?}"), e)
                })?))
            }
            None => Ok(None),
        }
    }

    /// Writes the state of (rule, service); a service deleted meanwhile is skipped.
    pub async fn put_state(
        &mut self,
        rule: &str,
        service_id: i64,
        state: &Value,
        firing: bool,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO alert_states (rule, service_id, state, firing, updated_at) \
             SELECT $1, $2, $3, $4, $5 FROM services WHERE id = $2 \
             ON CONFLICT (rule, service_id) DO UPDATE SET state = excluded.state, \
             firing = excluded.firing, updated_at = excluded.updated_at",
        )
        .bind(db_text(rule))
        .bind(service_id)
        .bind(state.to_string())
        .bind(i64::from(firing))
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Appends a history entry; returns its id.
    pub async fn add_history(&mut self, h: &NewHistory) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO alert_history (at, event, rule, service, provider, message, notified, \
             suppressed, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(h.at)
        .bind(db_text(&h.event))
        .bind(db_text(&h.rule))
        .bind(db_text_opt(h.service.as_deref()))
        .bind(db_text_opt(h.provider.as_deref()))
        .bind(db_text(&h.message))
        .bind(i64::from(h.notified))
        .bind(db_text_opt(h.suppressed.as_deref()))
        .bind(h.detail.as_ref().map(Value::to_string))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Queues a notification, due now.
    pub async fn enqueue(&mut self, n: &NewOutbox, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO alert_outbox (delivery, channel, notification, history_id, state, \
             attempts, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
        )
        .bind(db_text(&n.delivery))
        .bind(db_text(&n.channel))
        .bind(n.notification.to_string())
        .bind(n.history_id)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// A budget's state JSON, `None` when never stored.
    pub async fn budget_state(&mut self, budget: &str) -> Result<Option<Value>> {
        let row = sqlx::query("SELECT state FROM budget_states WHERE budget = $1")
            .bind(db_text(budget))
            .fetch_optional(&mut *self.tx)
            .await?;
        match row {
            Some(r) => {
                let text: String = r.try_get(0)?;
                Ok(Some(serde_json::from_str(&text).map_err(|e| {
                    StoreError::corrupt(format!("state of budget {budget:?}"), e)
                })?))
            }
            None => Ok(None),
        }
    }

    /// Writes a budget's state.
    pub async fn put_budget_state(&mut self, budget: &str, state: &Value, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO budget_states (budget, state, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (budget) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(db_text(budget))
        .bind(state.to_string())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Stores a rate-limit reading (a JSON `RateLimitPoint`) and prunes that service's
    /// readings older than `keep_after`.
    pub async fn add_rate_limit(
        &mut self,
        service_id: i64,
        at: i64,
        reading: &Value,
        keep_after: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO alert_rate_limits (service_id, at, reading) \
             SELECT $1, $2, $3 FROM services WHERE id = $1",
        )
        .bind(service_id)
        .bind(at)
        .bind(reading.to_string())
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("DELETE FROM alert_rate_limits WHERE service_id = $1 AND at < $2")
            .bind(service_id)
            .bind(keep_after)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// A service's rate-limit readings since `since`, oldest first.
    pub async fn rate_limits(&mut self, service_id: i64, since: i64) -> Result<Vec<Value>> {
        let rows = sqlx::query(
            "SELECT reading FROM alert_rate_limits WHERE service_id = $1 AND at >= $2 ORDER BY at, id",
        )
        .bind(service_id)
        .bind(since)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(0)?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::corrupt("rate-limit reading", e))
            })
            .collect()
    }

    /// Commits everything.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Drops everything.
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// Re-seals every channel's secrets from `old` to `new` inside a key rotation.
pub(crate) async fn reseal_channels(
    tx: &mut sqlx::AnyConnection,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<usize> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CHANNEL_COLUMNS} FROM alert_channels"));
    let rows = sqlx::query(sql).fetch_all(&mut *tx).await?;
    let mut count = 0;
    for row in &rows {
        let rec = parse_channel(row)?;
        let mut plain = BTreeMap::new();
        for (field, sealed) in &rec.sealed {
            plain.insert(
                field.clone(),
                old.open(&channel_aad(&rec.name), field, sealed)?,
            );
        }
        let resealed = seal_channel(new, &rec.name, &plain)?;
        sqlx::query("UPDATE alert_channels SET secrets = $1 WHERE name = $2")
            .bind(resealed)
            .bind(db_text(&rec.name))
            .execute(&mut *tx)
            .await?;
        count += plain.len();
    }
    Ok(count)
}
