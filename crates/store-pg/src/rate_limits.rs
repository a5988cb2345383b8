//! Token buckets shared by every instance.

use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::{RateGrant, RateLimitStore, StoreResult};

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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Create the bucket full if new, then hold its row for this short transaction.
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
        let (left, grant) = ponte_store::rate::take(tokens, elapsed, want, capacity, per_sec);
        sqlx::query("UPDATE rate_buckets SET tokens = $1, updated_at = GREATEST(updated_at, $2) WHERE tenant_id = $3 AND key = $4")
            .bind(left)
            .bind(now)
            .bind(tenant.0)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(grant)
    }
}
