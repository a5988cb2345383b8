//! Outbound webhooks (PostgreSQL): endpoints, their queues and attempts. Claims take
//! messages with `FOR UPDATE SKIP LOCKED` under a lease, so instances share the work;
//! batches are written with one statement per table.

use crate::codec::{col, fetch_opt, fetch_rows, from_json, in_table, newest_first};
use crate::events::decode_event;
use crate::webhook_rounds::{claim_in, finish_in, queue_in};
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::{AttemptId, ChannelId, EndpointId, EventId, TenantId};
use ponte_store::webhooks::{
    order_key, ClaimedDelivery, DeliveryFinish, DeliverySlots, EndpointDeliveries, WebhookAttempt,
    WebhookEndpoint,
};
use ponte_store::{Event, Page, PageRequest, StoreError, StoreResult, WebhookStore};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

pub(crate) const ENDPOINT_COLUMNS: &str =
    "tenant_id, id, url, description, event_types, channel_id, \
    rate_limit_per_sec, secret, old_secret, old_secret_until, enabled, disabled_reason, \
    failing_since, created_at, updated_at";

pub(crate) const EVENT_COLUMNS: &str = "seq, tenant_id, id, type, at, channel_id, order_id, data";

pub(crate) fn decode_endpoint(r: &PgRow) -> StoreResult<WebhookEndpoint> {
    in_table("webhook_endpoints", || {
        Ok(WebhookEndpoint {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: EndpointId(col(r, "id")?),
            url: col(r, "url")?,
            description: col(r, "description")?,
            event_types: col::<Option<serde_json::Value>>(r, "event_types")?
                .map(from_json)
                .transpose()?,
            channel_id: col::<Option<Uuid>>(r, "channel_id")?.map(ChannelId),
            rate_limit_per_sec: col::<Option<i32>>(r, "rate_limit_per_sec")?
                .map(|n| u32::try_from(n).unwrap_or(0)),
            secret: col(r, "secret")?,
            old_secret: col(r, "old_secret")?,
            old_secret_until: col(r, "old_secret_until")?,
            enabled: col(r, "enabled")?,
            disabled_reason: col(r, "disabled_reason")?,
            failing_since: col(r, "failing_since")?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
        })
    })
}

fn decode_attempt(r: &PgRow) -> StoreResult<WebhookAttempt> {
    in_table("webhook_attempts", || {
        let kind: &str = col(r, "event_type")?;
        Ok(WebhookAttempt {
            id: AttemptId(col(r, "id")?),
            endpoint_id: EndpointId(col(r, "endpoint_id")?),
            event_seq: col(r, "event_seq")?,
            event_id: EventId(col(r, "event_id")?),
            event_type: EventType::parse(kind)
                .ok_or_else(|| StoreError::Corrupt(format!("event type {kind:?}")))?,
            n: u32::try_from(col::<i32>(r, "n")?).unwrap_or(0),
            started_at: col(r, "started_at")?,
            outcome: col(r, "outcome")?,
            http_status: col::<Option<i32>>(r, "http_status")?.and_then(|s| u16::try_from(s).ok()),
            response: col(r, "response")?,
            duration_ms: col::<Option<i64>>(r, "duration_ms")?.and_then(|d| u64::try_from(d).ok()),
            error: col(r, "error")?,
        })
    })
}

fn types_json(ep: &WebhookEndpoint) -> Option<serde_json::Value> {
    ep.event_types.as_ref().map(|t| serde_json::json!(t))
}

fn rate(ep: &WebhookEndpoint) -> Option<i32> {
    ep.rate_limit_per_sec
        .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

/// The endpoint (tenant, id) on the open transaction.
async fn endpoint_in(
    conn: &mut PgConnection,
    tenant: TenantId,
    endpoint: EndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    let q = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"
    );
    fetch_opt(
        sqlx::query(&q).bind(tenant.0).bind(endpoint.0),
        &mut *conn,
        decode_endpoint,
    )
    .await
}

/// Sets the messages of `seqs` pending, due now with a fresh budget (queued if not).
async fn requeue(
    conn: &mut PgConnection,
    ep: &WebhookEndpoint,
    events: &[Event],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let wanted: Vec<&Event> = events.iter().filter(|e| ep.wants(&e.event)).collect();
    let seqs: Vec<i64> = wanted.iter().map(|e| e.seq).collect();
    let keys: Vec<String> = wanted.iter().map(|e| order_key(&e.event)).collect();
    sqlx::query(
        "INSERT INTO webhook_messages (tenant_id, endpoint_id, event_seq, order_key, state, \
           attempts_used, next_at, created_at, updated_at) \
         SELECT $1, $2, s, k, 'pending', 0, $5, $5, $5 FROM UNNEST($3::bigint[], $4::text[]) AS v(s, k) \
         ON CONFLICT (tenant_id, endpoint_id, event_seq) DO UPDATE SET state = 'pending', \
           attempts_used = 0, next_at = excluded.next_at, updated_at = excluded.updated_at",
    )
    .bind(ep.tenant_id.0)
    .bind(ep.id.0)
    .bind(seqs)
    .bind(keys)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(wanted.len() as u64)
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn insert_endpoint(&self, ep: &WebhookEndpoint) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, cursor_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
               COALESCE((SELECT last_seq FROM event_seqs WHERE tenant_id = $1), 0))"
        ))
        .bind(ep.tenant_id.0)
        .bind(ep.id.0)
        .bind(&ep.url)
        .bind(&ep.description)
        .bind(types_json(ep))
        .bind(ep.channel_id.map(|c| c.0))
        .bind(rate(ep))
        .bind(&ep.secret)
        .bind(&ep.old_secret)
        .bind(ep.old_secret_until)
        .bind(ep.enabled)
        .bind(&ep.disabled_reason)
        .bind(ep.failing_since)
        .bind(ep.created_at)
        .bind(ep.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn endpoint(
        &self,
        tenant: TenantId,
        id: EndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        endpoint_in(&mut conn, tenant, id).await
    }

    async fn endpoints(&self, tenant: TenantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let q = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY id"
        );
        fetch_rows(sqlx::query(&q).bind(tenant.0), &self.pool, decode_endpoint).await
    }

    async fn update_endpoint(&self, ep: &WebhookEndpoint) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, channel_id = $4, \
               rate_limit_per_sec = $5, secret = $6, old_secret = $7, old_secret_until = $8, enabled = $9, \
               disabled_reason = $10, failing_since = $11, updated_at = $12 \
             WHERE tenant_id = $13 AND id = $14",
        )
        .bind(&ep.url)
        .bind(&ep.description)
        .bind(types_json(ep))
        .bind(ep.channel_id.map(|c| c.0))
        .bind(rate(ep))
        .bind(&ep.secret)
        .bind(&ep.old_secret)
        .bind(ep.old_secret_until)
        .bind(ep.enabled)
        .bind(&ep.disabled_reason)
        .bind(ep.failing_since)
        .bind(ep.updated_at)
        .bind(ep.tenant_id.0)
        .bind(ep.id.0)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    async fn delete_endpoint(&self, tenant: TenantId, id: EndpointId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for table in ["webhook_attempts", "webhook_messages"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND endpoint_id = $2"
            ))
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let r = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    async fn queue_deliveries(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let queued = queue_in(&mut tx, now, limit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(queued)
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        slots: &DeliverySlots,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        if slots.free() == 0 {
            return Ok(vec![]);
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let claimed = claim_in(&mut tx, owner, now, lease, slots).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(claimed)
    }

    async fn finish_deliveries(
        &self,
        batch: &[DeliveryFinish],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<bool>> {
        if batch.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = finish_in(&mut tx, batch, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn delivery_round(
        &self,
        done: &[DeliveryFinish],
        now: DateTime<Utc>,
        queue_limit: u32,
        owner: &str,
        lease: std::time::Duration,
        slots: &DeliverySlots,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if !done.is_empty() {
            finish_in(&mut tx, done, now).await?;
        }
        queue_in(&mut tx, now, queue_limit).await?;
        let claimed = if slots.free() == 0 {
            vec![]
        } else {
            claim_in(&mut tx, owner, now, lease, slots).await?
        };
        tx.commit().await.map_err(db_err)?;
        Ok(claimed)
    }

    async fn webhook_attempts(
        &self,
        tenant: TenantId,
        endpoint: EndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT * FROM (SELECT a.tenant_id, a.id, a.endpoint_id, a.event_seq, e.id AS event_id, \
               e.type AS event_type, a.n, a.started_at, a.outcome, a.http_status, a.response, \
               a.duration_ms, a.error FROM webhook_attempts a \
             JOIN events e ON e.tenant_id = a.tenant_id AND e.seq = a.event_seq) x \
             WHERE tenant_id = ",
        );
        q.push_bind(tenant.0)
            .push(" AND endpoint_id = ")
            .push_bind(endpoint.0);
        newest_first(q, page, &self.pool, decode_attempt, |a| a.id.to_string()).await
    }

    async fn endpoint_deliveries(&self, tenant: TenantId) -> StoreResult<Vec<EndpointDeliveries>> {
        let decode = |r: &PgRow| {
            in_table("webhook_messages", || {
                Ok(EndpointDeliveries {
                    endpoint_id: EndpointId(col(r, "id")?),
                    pending: u64::try_from(col::<i64>(r, "pending")?).unwrap_or(0),
                    failed: u64::try_from(col::<i64>(r, "failed")?).unwrap_or(0),
                    last_success_at: col(r, "last_success_at")?,
                    last_failure_at: col(r, "last_failure_at")?,
                })
            })
        };
        let q = sqlx::query(
            "SELECT w.id, \
               (SELECT COUNT(*) FROM webhook_messages m WHERE m.tenant_id = w.tenant_id \
                  AND m.endpoint_id = w.id AND m.state = 'pending') AS pending, \
               (SELECT COUNT(*) FROM webhook_messages m WHERE m.tenant_id = w.tenant_id \
                  AND m.endpoint_id = w.id AND m.state = 'failed') AS failed, \
               (SELECT MAX(a.started_at) FROM webhook_attempts a WHERE a.tenant_id = w.tenant_id \
                  AND a.endpoint_id = w.id AND a.outcome = 'succeeded') AS last_success_at, \
               (SELECT MAX(a.started_at) FROM webhook_attempts a WHERE a.tenant_id = w.tenant_id \
                  AND a.endpoint_id = w.id AND a.outcome = 'failed') AS last_failure_at \
             FROM webhook_endpoints w WHERE w.tenant_id = $1 ORDER BY w.id",
        )
        .bind(tenant.0);
        fetch_rows(q, &self.pool, decode).await
    }

    async fn recover_deliveries(
        &self,
        tenant: TenantId,
        endpoint: EndpointId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(ep) = endpoint_in(&mut tx, tenant, endpoint).await? else {
            return Err(StoreError::NotFound);
        };
        let q = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND at >= $2 AND seq <= \
               (SELECT cursor_seq FROM webhook_endpoints WHERE tenant_id = $1 AND id = $3) ORDER BY seq"
        );
        let events = fetch_rows(
            sqlx::query(&q).bind(tenant.0).bind(since).bind(endpoint.0),
            &mut *tx,
            decode_event,
        )
        .await?;
        let n = requeue(&mut tx, &ep, &events, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn resend_attempt(
        &self,
        tenant: TenantId,
        endpoint: EndpointId,
        attempt: AttemptId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(ep) = endpoint_in(&mut tx, tenant, endpoint).await? else {
            return Ok(false);
        };
        let q = "SELECT e.seq, e.tenant_id, e.id, e.type, e.at, e.channel_id, e.order_id, e.data \
             FROM webhook_attempts a JOIN events e ON e.tenant_id = a.tenant_id AND e.seq = a.event_seq \
             WHERE a.tenant_id = $1 AND a.endpoint_id = $2 AND a.id = $3";
        let q = sqlx::query(q)
            .bind(tenant.0)
            .bind(endpoint.0)
            .bind(attempt.0);
        let Some(event) = fetch_opt(q, &mut *tx, decode_event).await? else {
            return Ok(false);
        };
        requeue(&mut tx, &ep, std::slice::from_ref(&event), now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
