//! The scheduler's shared state: when each service is next due, who holds its lease, and which
//! scheduler instances are alive.
//!
//! Claiming is one `UPDATE … WHERE <due and unleased> … RETURNING` over a batch of due rows,
//! bounded by the caller's free capacity. On PostgreSQL the batch is picked `FOR UPDATE SKIP
//! LOCKED`, so concurrent claimers take different rows instead of queueing on the same ones, and
//! the outer `WHERE` re-checks the condition against the row version it updates; SQLite
//! serializes writers. Either way a due slot is claimed by exactly one instance.
//!
//! Instances spread the work by *share*: every live instance (see
//! [`Store::scheduler_heartbeat`]) takes the due services whose id modulo the number of live
//! instances is its own index, and anybody takes a service that is overdue by more than a grace
//! period (a busy or dead instance's share). So N instances each run about 1/N of the checks.

use opsdeck_core::FailureKind;
use sqlx::Row;

use crate::Store;
use crate::db::Backend;
use crate::error::Result;
use crate::results::{NewCheckResult, RecordOutcome, insert, missing_reason};
use crate::services::{COLUMNS as SERVICE_COLUMNS, ServiceRecord, parse_row as parse_service};

/// Which due services a claim may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Services whose last check was quick (or that were never checked).
    Fast,
    /// Services whose last check timed out or took at least `slow_ms`.
    Slow,
}

/// This instance's part of the due work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// This instance's position among the live instances (0-based).
    pub index: i64,
    /// How many instances are live (≥ 1).
    pub of: i64,
    /// A service overdue by more than this is taken by any instance.
    pub grace_ms: i64,
}

impl Share {
    /// The whole due work (one instance).
    pub const ALL: Share = Share {
        index: 0,
        of: 1,
        grace_ms: 0,
    };
}

/// One batched claim.
#[derive(Clone, Copy, Debug)]
pub struct ClaimRequest<'a> {
    /// This instance's id (the lease owner).
    pub owner: &'a str,
    /// Now (unix ms).
    pub now: i64,
    /// How long the lease lasts.
    pub lease_ms: i64,
    /// At most this many services (this instance's free capacity for the lane).
    pub limit: i64,
    /// Fast or slow services.
    pub lane: Lane,
    /// A last check at least this long (ms) makes a service slow.
    pub slow_ms: i64,
    /// This instance's share.
    pub share: Share,
}

/// A service this instance claimed and must check.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// When it was due (unix ms); the next slot is computed from this to avoid drift.
    pub due_at: i64,
    /// The service as it is now (with the version the check must be stored under).
    pub record: ServiceRecord,
}

impl Store {
    /// Claims up to `req.limit` due, unleased, enabled services of the lane and share, most
    /// overdue first, with their records (one round trip for the batch, not one per service).
    pub async fn claim_due(&self, req: &ClaimRequest<'_>) -> Result<Vec<Claimed>> {
        if req.limit <= 0 {
            return Ok(Vec::new());
        }
        let lane = match req.lane {
            Lane::Fast => {
                "(r.id IS NULL OR ((r.failure IS NULL OR r.failure <> $5) AND r.latency_ms < $6))"
            }
            Lane::Slow => "(r.id IS NOT NULL AND (r.failure = $5 OR r.latency_ms >= $6))",
        };
        let pick = format!(
            "SELECT c.service_id FROM schedule c JOIN services s ON s.id = c.service_id \
             LEFT JOIN check_results r ON r.id = c.last_result_id \
             WHERE s.enabled = 1 AND c.next_check_at <= $3 \
             AND (c.lease_expires_at IS NULL OR c.lease_expires_at <= $3) \
             AND {lane} \
             AND (c.service_id % $7 = $8 OR c.next_check_at <= $3 - $9) \
             ORDER BY c.next_check_at LIMIT $4"
        );
        let set = "UPDATE schedule SET lease_owner = $1, lease_expires_at = $2";
        let recheck = "AND next_check_at <= $3 AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
                       RETURNING service_id, next_check_at";
        // On PostgreSQL the picked ids are a materialised CTE: a `LIMIT … FOR UPDATE SKIP
        // LOCKED` subquery inside `IN (…)` may be run again by the planner under concurrent
        // updates and then claim more than `limit` rows. SQLite has one writer at a time.
        let sql = sqlx::AssertSqlSafe(match self.backend {
            Backend::Postgres => format!(
                "WITH picked AS MATERIALIZED ({pick} FOR UPDATE OF c SKIP LOCKED) \
                 {set} WHERE service_id IN (SELECT service_id FROM picked) {recheck}"
            ),
            Backend::Sqlite => format!("{set} WHERE service_id IN ({pick}) {recheck}"),
        });
        let rows = sqlx::query(sql)
            .bind(req.owner.to_owned())
            .bind(req.now.saturating_add(req.lease_ms))
            .bind(req.now)
            .bind(req.limit)
            .bind(FailureKind::Timeout.as_str())
            .bind(req.slow_ms)
            .bind(req.share.of.max(1))
            .bind(req.share.index)
            .bind(req.share.grace_ms)
            .fetch_all(&self.pool)
            .await?;
        let mut due: Vec<(i64, i64)> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        due.sort_by_key(|(_, at)| *at);
        let placeholders: Vec<String> = (1..=due.len()).map(|i| format!("${i}")).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SERVICE_COLUMNS} FROM services WHERE id IN ({})",
            placeholders.join(", ")
        ));
        let mut q = sqlx::query(sql);
        for (id, _) in &due {
            q = q.bind(*id);
        }
        let mut records: std::collections::HashMap<i64, ServiceRecord> = q
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| parse_service(r).map(|rec| (rec.id, rec)))
            .collect::<Result<_>>()?;
        // A service deleted since the claim has no schedule row left to release.
        Ok(due
            .into_iter()
            .filter_map(|(id, due_at)| records.remove(&id).map(|record| Claimed { due_at, record }))
            .collect())
    }

    /// Tries to take the lease on one due service; `true` means this instance must run the
    /// check. (The scheduler claims in batches with [`Store::claim_due`].)
    pub async fn claim(
        &self,
        service_id: i64,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE schedule SET lease_owner = $1, lease_expires_at = $2 \
             WHERE service_id = $3 AND next_check_at <= $4 \
             AND (lease_expires_at IS NULL OR lease_expires_at <= $4)",
        )
        .bind(owner.to_owned())
        .bind(now.saturating_add(lease_ms))
        .bind(service_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Finishes a claimed check: stores the result and moves the service to its next slot, in
    /// one transaction, only if this instance still holds the lease and the service still has
    /// the config the check ran with. Otherwise nothing changes and the outcome says why:
    /// [`RecordOutcome::ServiceDeleted`], [`RecordOutcome::ConfigChanged`] (a PATCH releases the
    /// lease of the old config) or [`RecordOutcome::LeaseLost`] (it expired and another
    /// instance took it).
    pub async fn complete(
        &self,
        owner: &str,
        next_check_at: i64,
        result: &NewCheckResult,
    ) -> Result<RecordOutcome> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_complete(owner, next_check_at, result).await {
                Err(crate::StoreError::Database(e))
                    if crate::db::is_foreign_key_violation(&e) && attempt < 4 => {}
                other => return other,
            }
        }
    }

    async fn try_complete(
        &self,
        owner: &str,
        next_check_at: i64,
        result: &NewCheckResult,
    ) -> Result<RecordOutcome> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE schedule SET next_check_at = $1, lease_owner = NULL, lease_expires_at = NULL \
             WHERE service_id = $2 AND lease_owner = $3",
        )
        .bind(next_check_at)
        .bind(result.service_id)
        .bind(owner.to_owned())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            let why = match missing_reason(&mut tx, result.service_id).await? {
                RecordOutcome::ServiceDeleted => RecordOutcome::ServiceDeleted,
                _ => {
                    let version: Option<i64> =
                        sqlx::query("SELECT version FROM services WHERE id = $1")
                            .bind(result.service_id)
                            .fetch_optional(&mut *tx)
                            .await?
                            .map(|r| r.try_get(0))
                            .transpose()?;
                    match (version, result.config_version) {
                        (Some(v), Some(expected)) if v != expected => RecordOutcome::ConfigChanged,
                        _ => RecordOutcome::LeaseLost,
                    }
                }
            };
            tx.rollback().await?;
            return Ok(why);
        }
        let outcome = insert(&mut tx, result).await?;
        if matches!(outcome, RecordOutcome::Stored { .. }) {
            tx.commit().await?;
        } else {
            // Keep the lease and slot as they were: a newer claim (after a PATCH) owns them.
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    /// Gives back one lease without recording a result (the service was disabled or deleted
    /// after it was claimed).
    pub async fn release_lease(&self, service_id: i64, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE schedule SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE service_id = $1 AND lease_owner = $2",
        )
        .bind(service_id)
        .bind(owner.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives back every lease this instance holds (graceful shutdown), so others need not wait
    /// for them to expire, and leaves the set of live schedulers.
    pub async fn release_leases(&self, owner: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE schedule SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1",
        )
        .bind(owner.to_owned())
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM scheduler_instances WHERE instance = $1")
            .bind(owner.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Announces this scheduler as live at `now` and returns its share of the due work: its
    /// index among the instances seen within `live_ms`, and their number. On SQLite (one
    /// instance by construction) nothing is written.
    pub async fn scheduler_heartbeat(
        &self,
        instance: &str,
        now: i64,
        live_ms: i64,
        grace_ms: i64,
    ) -> Result<Share> {
        if self.backend == Backend::Sqlite {
            return Ok(Share::ALL);
        }
        sqlx::query(
            "INSERT INTO scheduler_instances (instance, seen_at) VALUES ($1, $2) \
             ON CONFLICT (instance) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(instance.to_owned())
        .bind(now)
        .execute(&self.pool)
        .await?;
        // Instances that stopped without saying so are forgotten after an hour.
        sqlx::query("DELETE FROM scheduler_instances WHERE seen_at < $1")
            .bind(now.saturating_sub(3_600_000))
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(
            "SELECT instance FROM scheduler_instances WHERE seen_at >= $1 ORDER BY instance",
        )
        .bind(now.saturating_sub(live_ms))
        .fetch_all(&self.pool)
        .await?;
        let live: Vec<String> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        let index = live.iter().position(|i| i == instance).unwrap_or(0);
        Ok(Share {
            index: i64::try_from(index).unwrap_or(0),
            of: i64::try_from(live.len().max(1)).unwrap_or(1),
            grace_ms,
        })
    }
}
