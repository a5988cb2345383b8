//! Token buckets shared by every instance.

use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::rate::bucket_state;
use ponte_store::{RateLimitStore, StoreResult};
use sqlx::PgConnection;

#[async_trait]
impl RateLimitStore for PgStore {
    /// One short transaction holding the bucket's row (a new bucket's row is created
    /// full first, so that there is a row to hold).
    async fn update_bucket(
        &self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        next: &(dyn Fn(f64, f64) -> f64 + Sync),
    ) -> StoreResult<(f64, f64)> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = bucket_in(&mut tx, tenant, key, capacity, now, next).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }
}

/// Updates a bucket inside an open transaction, holding its row until the end of it
/// (see `RateLimitStore::update_bucket`).
pub(crate) async fn bucket_in(
    tx: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    capacity: f64,
    now: DateTime<Utc>,
    next: &(dyn Fn(f64, f64) -> f64 + Sync),
) -> StoreResult<(f64, f64)> {
    const HOLD: &str =
        "SELECT tokens, updated_at FROM rate_buckets WHERE tenant_id = $1 AND key = $2 FOR UPDATE";
    let mut held: Option<(f64, DateTime<Utc>)> = sqlx::query_as(HOLD)
        .bind(tenant.0)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    if held.is_none() {
        // The bucket's first use: created full (by one of concurrent first users), then held.
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
        held = Some(
            sqlx::query_as(HOLD)
                .bind(tenant.0)
                .bind(key)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?,
        );
    }
    let (tokens, elapsed) = bucket_state(held, capacity, now);
    sqlx::query("UPDATE rate_buckets SET tokens = $1, updated_at = GREATEST(updated_at, $2) WHERE tenant_id = $3 AND key = $4")
            .bind(next(tokens, elapsed))
            .bind(now)
            .bind(tenant.0)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    Ok((tokens, elapsed))
}
