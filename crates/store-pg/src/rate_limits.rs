//! Token buckets shared by every instance: the primitives of
//! `ponte_store::rate::update_bucket`, each bucket's row held with `FOR UPDATE`.

use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::rate::{update_bucket, BucketTx};
use ponte_store::{RateLimitStore, StoreResult};
use sqlx::PgConnection;

/// A transaction updating buckets.
struct Buckets<'c>(&'c mut PgConnection);

#[async_trait]
impl BucketTx for Buckets<'_> {
    /// Creates a missing bucket first, so that there is a row to hold.
    async fn hold_bucket(
        &mut self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(f64, DateTime<Utc>)>> {
        sqlx::query(
            "INSERT INTO rate_buckets (tenant_id, key, tokens, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, key) DO NOTHING",
        )
        .bind(tenant.0)
        .bind(key)
        .bind(capacity)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        let held = sqlx::query_as(
            "SELECT tokens, updated_at FROM rate_buckets WHERE tenant_id = $1 AND key = $2 FOR UPDATE",
        )
        .bind(tenant.0)
        .bind(key)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(Some(held))
    }

    async fn write_bucket(
        &mut self,
        tenant: TenantId,
        key: &str,
        tokens: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE rate_buckets SET tokens = $1, updated_at = GREATEST(updated_at, $2) WHERE tenant_id = $3 AND key = $4")
            .bind(tokens)
            .bind(now)
            .bind(tenant.0)
            .bind(key)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl RateLimitStore for PgStore {
    /// One short transaction holding the bucket's row.
    async fn update_bucket(
        &self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        next: &(dyn Fn(f64, f64) -> f64 + Sync),
    ) -> StoreResult<(f64, f64)> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = update_bucket(&mut Buckets(&mut tx), tenant, key, capacity, now, next).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }
}
