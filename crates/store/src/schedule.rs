//! The scheduler's shared state: when each service is next due and who holds its lease.
//!
//! Claiming is a compare-and-set `UPDATE … WHERE <due and unleased>`: on PostgreSQL (READ
//! COMMITTED) a second updater of the same row waits for the first, then re-evaluates the WHERE
//! clause against the new row version and updates nothing; SQLite serializes writers. So the same
//! SQL gives "exactly one instance wins" on both, without `SKIP LOCKED` or advisory locks.

use sqlx::Row;

use crate::Store;
use crate::error::Result;
use crate::results::{NewCheckResult, insert};

/// A due service a scheduler may try to claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Service id.
    pub service_id: i64,
    /// Service name.
    pub name: String,
    /// When it was due (unix ms); the next slot is computed from this to avoid drift.
    pub due_at: i64,
    /// Per-service interval, `None` = default.
    pub interval_secs: Option<i64>,
    /// Config version, so the caller can reuse a built service instance.
    pub version: i64,
}

impl Store {
    /// Enabled services that are due and not leased by a live instance, most overdue first.
    pub async fn due_services(&self, now: i64, limit: i64) -> Result<Vec<Claim>> {
        let rows = sqlx::query(
            "SELECT s.id, s.name, c.next_check_at, s.interval_secs, s.version \
             FROM schedule c JOIN services s ON s.id = c.service_id \
             WHERE s.enabled = 1 AND c.next_check_at <= $1 \
             AND (c.lease_expires_at IS NULL OR c.lease_expires_at <= $1) \
             ORDER BY c.next_check_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Claim {
                    service_id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    due_at: r.try_get(2)?,
                    interval_secs: r.try_get(3)?,
                    version: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Tries to take the lease on a due service; `true` means this instance must run the check.
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

    /// Finishes a claimed check: stores the result and moves the service to its next slot, but
    /// only if this instance still holds the lease. Returns `false` (and stores nothing) if the
    /// lease was lost, so a slot never gets two results.
    pub async fn complete(
        &self,
        owner: &str,
        next_check_at: i64,
        result: &NewCheckResult,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
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
            tx.rollback().await?;
            return Ok(false);
        }
        insert(&mut tx, result).await?;
        tx.commit().await?;
        Ok(true)
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
    /// for them to expire.
    pub async fn release_leases(&self, owner: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE schedule SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1",
        )
        .bind(owner.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }
}
