//! Token buckets shared by every instance.

use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::{RateGrant, RateLimitStore, StoreResult};

impl PgStore {
    /// Applies `f(tokens, elapsed_secs) -> (tokens left, answer)` to bucket `key` (new
    /// buckets start full) with its row held for one short transaction.
    async fn update_bucket<R>(
        &self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        f: impl FnOnce(f64, f64) -> (f64, R),
    ) -> StoreResult<R> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO rate_buckets (tenant_id, key, tokens, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, key) DO NOTHING",
        )
        .bind(tenant.0)
        .bind(key)
        .bind(capacity)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let (tokens, at): (f64, DateTime<Utc>) = sqlx::query_as(
            "SELECT tokens, updated_at FROM rate_buckets WHERE tenant_id = $1 AND key = $2 FOR UPDATE",
        )
        .bind(tenant.0)
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let elapsed = (now - at).num_microseconds().unwrap_or(0) as f64 / 1e6;
        let (left, answer) = f(tokens, elapsed);
        sqlx::query("UPDATE rate_buckets SET tokens = $1, updated_at = GREATEST(updated_at, $2) WHERE tenant_id = $3 AND key = $4")
            .bind(left)
            .bind(now)
            .bind(tenant.0)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(answer)
    }
}

#[async_trait]
impl RateLimitStore for PgStore {
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
