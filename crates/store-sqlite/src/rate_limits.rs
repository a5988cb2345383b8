//! Token buckets shared by every instance: the primitives of
//! `ponte_store::rate::update_bucket`, inside the one write transaction.

use crate::codec::{from_ts, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::rate::{update_bucket, BucketTx};
use ponte_store::{RateLimitStore, StoreResult};
use sqlx::SqliteConnection;

/// A write transaction updating buckets.
struct Buckets<'c>(&'c mut SqliteConnection);

#[async_trait]
impl BucketTx for Buckets<'_> {
    async fn hold_bucket(
        &mut self,
        tenant: TenantId,
        key: &str,
        _: f64,
        _: DateTime<Utc>,
    ) -> StoreResult<Option<(f64, DateTime<Utc>)>> {
        let row: Option<(f64, i64)> = sqlx::query_as(
            "SELECT tokens, updated_at FROM rate_buckets WHERE tenant_id = ? AND key = ?",
        )
        .bind(tenant.to_string())
        .bind(key)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(db_err)?;
        row.map(|(tokens, at)| Ok((tokens, from_ts(at)?)))
            .transpose()
    }

    async fn write_bucket(
        &mut self,
        tenant: TenantId,
        key: &str,
        tokens: f64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO rate_buckets (tenant_id, key, tokens, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(key)
        .bind(tokens)
        .bind(ts(now))
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

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
        let out = update_bucket(&mut Buckets(&mut tx), tenant, key, capacity, now, next).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }
}
