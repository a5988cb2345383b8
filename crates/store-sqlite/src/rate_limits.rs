//! Token buckets shared by every instance.

use crate::codec::ts;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::{RateGrant, RateLimitStore, StoreResult};

impl SqliteStore {
    /// Applies `f(tokens, elapsed_secs) -> (tokens left, answer)` to bucket `key` (new
    /// buckets start full) in one write transaction.
    async fn update_bucket<R>(
        &self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        f: impl FnOnce(f64, f64) -> (f64, R),
    ) -> StoreResult<R> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let row: Option<(f64, i64)> = sqlx::query_as(
            "SELECT tokens, updated_at FROM rate_buckets WHERE tenant_id = ? AND key = ?",
        )
        .bind(tenant.to_string())
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let (tokens, elapsed) = match row {
            Some((t, at)) => (t, (ts(now) - at) as f64 / 1e6),
            None => (capacity, 0.0),
        };
        let (left, answer) = f(tokens, elapsed);
        sqlx::query(
            "INSERT INTO rate_buckets (tenant_id, key, tokens, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(key)
        .bind(left)
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(answer)
    }
}

#[async_trait]
impl RateLimitStore for SqliteStore {
    async fn take_tokens(
        &self,
        tenant: TenantId,
        key: &str,
        want: u32,
        capacity: f64,
        per_sec: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<RateGrant> {
        self.update_bucket(tenant, key, capacity, now, |tokens, elapsed| {
            ponte_store::rate::take(tokens, elapsed, want, capacity, per_sec)
        })
        .await
    }

    async fn spend_tokens(
        &self,
        tenant: TenantId,
        key: &str,
        n: u32,
        capacity: f64,
        per_sec: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.update_bucket(tenant, key, capacity, now, |tokens, elapsed| {
            (
                ponte_store::rate::spend(tokens, elapsed, n, capacity, per_sec),
                (),
            )
        })
        .await
    }
}
