use crate::codec::col;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::{RateGrant, RateLimitStore, Schedule, ScheduleStore, StoreResult};
use sqlx::postgres::PgRow;
use uuid::Uuid;

const COLUMNS: &str =
    "tenant_id, key, kind, channel_id, interval_secs, enabled, next_run_at, last_fired_at";

fn decode(r: &PgRow) -> StoreResult<Schedule> {
    Ok(Schedule {
        tenant_id: TenantId(col(r, "tenant_id")?),
        key: col(r, "key")?,
        kind: col(r, "kind")?,
        channel_id: col::<Option<Uuid>>(r, "channel_id")?.map(ChannelId),
        interval_secs: col(r, "interval_secs")?,
        enabled: col(r, "enabled")?,
        next_run_at: col(r, "next_run_at")?,
        last_fired_at: col(r, "last_fired_at")?,
    })
}

#[async_trait]
impl ScheduleStore for PgStore {
    async fn upsert_schedule(&self, s: &Schedule) -> StoreResult<Schedule> {
        let row = sqlx::query(&format!(
            "INSERT INTO schedules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET kind = EXCLUDED.kind, channel_id = EXCLUDED.channel_id, \
             interval_secs = EXCLUDED.interval_secs RETURNING {COLUMNS}"
        ))
        .bind(s.tenant_id.0)
        .bind(&s.key)
        .bind(&s.kind)
        .bind(s.channel_id.map(|c| c.0))
        .bind(s.interval_secs)
        .bind(s.enabled)
        .bind(s.next_run_at)
        .bind(s.last_fired_at)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        decode(&row)
    }

    async fn due_schedules(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Schedule>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM schedules WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(decode)
        .collect()
    }

    async fn fire_schedule(
        &self,
        tenant: TenantId,
        key: &str,
        expected: DateTime<Utc>,
        next: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE schedules SET next_run_at = $1, last_fired_at = $2 \
             WHERE tenant_id = $3 AND key = $4 AND next_run_at = $5 AND enabled",
        )
        .bind(next)
        .bind(now)
        .bind(tenant.0)
        .bind(key)
        .bind(expected)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
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
