use crate::codec::{from_opt_ts, from_ts, id, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use ponte_store::{RateGrant, RateLimitStore, Schedule, ScheduleStore, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

const COLUMNS: &str =
    "tenant_id, key, kind, channel_id, interval_secs, enabled, next_run_at, last_fired_at";

fn decode(r: &SqliteRow) -> StoreResult<Schedule> {
    Ok(Schedule {
        tenant_id: id(r.get("tenant_id"))?,
        key: r.get("key"),
        kind: r.get("kind"),
        channel_id: r.get::<Option<&str>, _>("channel_id").map(id).transpose()?,
        interval_secs: r.get("interval_secs"),
        enabled: r.get::<i64, _>("enabled") != 0,
        next_run_at: from_ts(r.get("next_run_at"))?,
        last_fired_at: from_opt_ts(r.get("last_fired_at"))?,
    })
}

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn upsert_schedule(&self, s: &Schedule) -> StoreResult<Schedule> {
        let row = sqlx::query(&format!(
            "INSERT INTO schedules ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (tenant_id, key) DO UPDATE SET kind = excluded.kind, channel_id = excluded.channel_id, \
             interval_secs = excluded.interval_secs RETURNING {COLUMNS}"
        ))
        .bind(s.tenant_id.to_string())
        .bind(&s.key)
        .bind(&s.kind)
        .bind(s.channel_id.map(|c| c.to_string()))
        .bind(s.interval_secs)
        .bind(i64::from(s.enabled))
        .bind(ts(s.next_run_at))
        .bind(s.last_fired_at.map(ts))
        .fetch_one(&self.writer)
        .await
        .map_err(db_err)?;
        decode(&row)
    }

    async fn due_schedules(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Schedule>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM schedules WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at LIMIT ?"
        ))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
            "UPDATE schedules SET next_run_at = ?, last_fired_at = ? \
             WHERE tenant_id = ? AND key = ? AND next_run_at = ? AND enabled = 1",
        )
        .bind(ts(next))
        .bind(ts(now))
        .bind(tenant.to_string())
        .bind(key)
        .bind(ts(expected))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
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
        let (left, grant) = ponte_store::rate::take(tokens, elapsed, want, capacity, per_sec);
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
        Ok(grant)
    }
}
