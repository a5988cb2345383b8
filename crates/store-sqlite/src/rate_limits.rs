//! Token buckets shared by every instance.

use crate::codec::{from_ts, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::rate::bucket_state;
use ponte_store::{RateLimitStore, StoreResult};
use sqlx::SqliteConnection;

#[async_trait]
impl RateLimitStore for SqliteStore {
    /// One write transaction.
    async fn update_bucket(
        &self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        next: &(dyn Fn(f64, f64) -> f64 + Sync),
    ) -> StoreResult<(f64, f64)> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let out = bucket_in(&mut tx, tenant, key, capacity, now, next).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }
}

/// Updates a bucket inside an open transaction (see `RateLimitStore::update_bucket`).
pub(crate) async fn bucket_in(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    key: &str,
    capacity: f64,
    now: DateTime<Utc>,
    next: &(dyn Fn(f64, f64) -> f64 + Sync),
) -> StoreResult<(f64, f64)> {
    let stored: Option<(f64, i64)> = sqlx::query_as(
        "SELECT tokens, updated_at FROM rate_buckets WHERE tenant_id = ? AND key = ?",
    )
    .bind(tenant.to_string())
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let stored = stored.map(|(t, at)| Ok((t, from_ts(at)?))).transpose()?;
    let (tokens, elapsed) = bucket_state(stored, capacity, now);
    sqlx::query(
            "INSERT INTO rate_buckets (tenant_id, key, tokens, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(key)
        .bind(next(tokens, elapsed))
        .bind(ts(now))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok((tokens, elapsed))
}
