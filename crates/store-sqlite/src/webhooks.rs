//! Outbound webhooks (SQLite): endpoints, their queues and attempts. Every write runs on
//! the single writer, so claims never race.

use crate::codec::{col, from_opt_ts, from_ts, id, in_table, json, newest_first, to_json, ts};
use crate::events::{decode_event, write_events};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{AttemptId, EndpointId, TenantId};
use ponte_store::webhooks::{
    order_key, plan_finish, ClaimedDelivery, DeliveryFinish, DeliverySlots, EndpointDeliveries,
    HeldMessages, WebhookAttempt, WebhookEndpoint,
};
use ponte_store::{Page, PageRequest, StoreError, StoreResult, WebhookStore};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;

const ENDPOINT_COLUMNS: &str = "tenant_id, id, url, description, event_types, channel_id, \
    rate_limit_per_sec, secret, old_secret, old_secret_until, enabled, disabled_reason, \
    failing_since, created_at, updated_at";

fn decode_endpoint(r: &SqliteRow) -> StoreResult<WebhookEndpoint> {
    in_table("webhook_endpoints", || {
        Ok(WebhookEndpoint {
            tenant_id: id(col(r, "tenant_id")?)?,
            id: id(col(r, "id")?)?,
            url: col(r, "url")?,
            description: col(r, "description")?,
            event_types: col::<Option<&str>>(r, "event_types")?
                .map(json)
                .transpose()?,
            channel_id: col::<Option<&str>>(r, "channel_id")?.map(id).transpose()?,
            rate_limit_per_sec: col::<Option<i64>>(r, "rate_limit_per_sec")?
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            secret: col(r, "secret")?,
            old_secret: col(r, "old_secret")?,
            old_secret_until: from_opt_ts(col(r, "old_secret_until")?)?,
            enabled: col::<i64>(r, "enabled")? != 0,
            disabled_reason: col(r, "disabled_reason")?,
            failing_since: from_opt_ts(col(r, "failing_since")?)?,
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
        })
    })
}

fn decode_attempt(r: &SqliteRow) -> StoreResult<WebhookAttempt> {
    in_table("webhook_attempts", || {
        let kind: &str = col(r, "event_type")?;
        Ok(WebhookAttempt {
            id: id(col(r, "id")?)?,
            endpoint_id: id(col(r, "endpoint_id")?)?,
            event_seq: col(r, "event_seq")?,
            event_id: id(col(r, "event_id")?)?,
            event_type: ponte_core::event::EventType::parse(kind)
                .ok_or_else(|| StoreError::Corrupt(format!("event type {kind:?}")))?,
            n: u32::try_from(col::<i64>(r, "n")?).unwrap_or(0),
            started_at: from_ts(col(r, "started_at")?)?,
            outcome: col(r, "outcome")?,
            http_status: col::<Option<i64>>(r, "http_status")?.and_then(|s| u16::try_from(s).ok()),
            response: col(r, "response")?,
            duration_ms: col::<Option<i64>>(r, "duration_ms")?.and_then(|d| u64::try_from(d).ok()),
            error: col(r, "error")?,
        })
    })
}

fn types_json(ep: &WebhookEndpoint) -> StoreResult<Option<String>> {
    ep.event_types.as_ref().map(to_json).transpose()
}

/// The endpoint (tenant, id) on the open transaction.
async fn endpoint_in(
    conn: &mut SqliteConnection,
    tenant: TenantId,
    endpoint: EndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    let r = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant.to_string())
    .bind(endpoint.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    r.as_ref().map(decode_endpoint).transpose()
}

/// Queues one endpoint's new events (up to `limit`); how many messages.
async fn queue_endpoint(
    conn: &mut SqliteConnection,
    ep: &WebhookEndpoint,
    cursor: i64,
    limit: u32,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let rows = sqlx::query(
        "SELECT seq, tenant_id, id, type, at, channel_id, order_id, data FROM events \
         WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(ep.tenant_id.to_string())
    .bind(cursor)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let events = rows
        .iter()
        .map(decode_event)
        .collect::<StoreResult<Vec<_>>>()?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(0);
    };
    let mut queued = 0;
    for e in events.iter().filter(|e| ep.wants(&e.event)) {
        let r = sqlx::query(
            "INSERT INTO webhook_messages (tenant_id, endpoint_id, event_seq, order_key, state, \
               attempts_used, next_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(ep.tenant_id.to_string())
        .bind(ep.id.to_string())
        .bind(e.seq)
        .bind(order_key(&e.event))
        .bind(ts(now))
        .bind(ts(now))
        .bind(ts(now))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        queued += r.rows_affected();
    }
    sqlx::query("UPDATE webhook_endpoints SET cursor_seq = ? WHERE tenant_id = ? AND id = ?")
        .bind(last)
        .bind(ep.tenant_id.to_string())
        .bind(ep.id.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(queued)
}

/// Sets one message pending, due now with a fresh budget (queued if it was not).
async fn requeue(
    conn: &mut SqliteConnection,
    ep: &WebhookEndpoint,
    seq: i64,
    key: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_messages (tenant_id, endpoint_id, event_seq, order_key, state, \
           attempts_used, next_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) \
         ON CONFLICT (tenant_id, endpoint_id, event_seq) DO UPDATE SET state = 'pending', \
           attempts_used = 0, next_at = excluded.next_at, updated_at = excluded.updated_at",
    )
    .bind(ep.tenant_id.to_string())
    .bind(ep.id.to_string())
    .bind(seq)
    .bind(key)
    .bind(ts(now))
    .bind(ts(now))
    .bind(ts(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn insert_endpoint(&self, ep: &WebhookEndpoint) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, cursor_seq) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
               (SELECT COALESCE(MAX(seq), 0) FROM events))"
        ))
        .bind(ep.tenant_id.to_string())
        .bind(ep.id.to_string())
        .bind(&ep.url)
        .bind(&ep.description)
        .bind(types_json(ep)?)
        .bind(ep.channel_id.map(|c| c.to_string()))
        .bind(ep.rate_limit_per_sec.map(i64::from))
        .bind(&ep.secret)
        .bind(&ep.old_secret)
        .bind(ep.old_secret_until.map(ts))
        .bind(i64::from(ep.enabled))
        .bind(&ep.disabled_reason)
        .bind(ep.failing_since.map(ts))
        .bind(ts(ep.created_at))
        .bind(ts(ep.updated_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn endpoint(
        &self,
        tenant: TenantId,
        id: EndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        endpoint_in(&mut conn, tenant, id).await
    }

    async fn endpoints(&self, tenant: TenantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ? ORDER BY id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_endpoint).collect()
    }

    async fn update_endpoint(&self, ep: &WebhookEndpoint) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, channel_id = ?, \
               rate_limit_per_sec = ?, secret = ?, old_secret = ?, old_secret_until = ?, enabled = ?, \
               disabled_reason = ?, failing_since = ?, updated_at = ? \
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(&ep.url)
        .bind(&ep.description)
        .bind(types_json(ep)?)
        .bind(ep.channel_id.map(|c| c.to_string()))
        .bind(ep.rate_limit_per_sec.map(i64::from))
        .bind(&ep.secret)
        .bind(&ep.old_secret)
        .bind(ep.old_secret_until.map(ts))
        .bind(i64::from(ep.enabled))
        .bind(&ep.disabled_reason)
        .bind(ep.failing_since.map(ts))
        .bind(ts(ep.updated_at))
        .bind(ep.tenant_id.to_string())
        .bind(ep.id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    async fn delete_endpoint(&self, tenant: TenantId, id: EndpointId) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        for table in ["webhook_attempts", "webhook_messages"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE tenant_id = ? AND endpoint_id = ?"
            ))
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let r = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    async fn queue_deliveries(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let behind = format!(
            "SELECT {ENDPOINT_COLUMNS}, cursor_seq FROM webhook_endpoints w WHERE enabled = 1 \
             AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = w.tenant_id AND e.seq > w.cursor_seq)"
        );
        // Looked for on a reader first: the writer is not held when nothing is new.
        let any = sqlx::query(&behind)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        if any.is_none() {
            return Ok(0);
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let rows = sqlx::query(&behind)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut queued = 0;
        for r in &rows {
            let ep = decode_endpoint(r)?;
            let cursor: i64 = col(r, "cursor_seq")?;
            queued += queue_endpoint(&mut tx, &ep, cursor, limit, now).await?;
        }
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
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        const DUE: &str = "m.state = 'pending' AND m.next_at <= ?1 \
             AND (m.lease_until IS NULL OR m.lease_until < ?1) \
             AND NOT EXISTS (SELECT 1 FROM webhook_messages p WHERE p.tenant_id = m.tenant_id \
               AND p.endpoint_id = m.endpoint_id AND p.order_key = m.order_key \
               AND p.event_seq < m.event_seq AND p.state = 'pending')";
        // Looked for on a reader first: the writer is not held when nothing is due.
        let any = sqlx::query(&format!(
            "SELECT 1 FROM webhook_messages m JOIN webhook_endpoints w \
             ON w.tenant_id = m.tenant_id AND w.id = m.endpoint_id AND w.enabled = 1 \
             WHERE {DUE} LIMIT 1"
        ))
        .bind(ts(now))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        if any.is_none() || slots.free() == 0 {
            return Ok(vec![]);
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let enabled = sqlx::query(
            "SELECT tenant_id, id FROM webhook_endpoints WHERE enabled = 1 ORDER BY tenant_id, id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut endpoints = Vec::with_capacity(enabled.len());
        for r in &enabled {
            endpoints.push((id(col(r, "tenant_id")?)?, id(col(r, "id")?)?));
        }
        let per_endpoint = format!(
            "SELECT m.tenant_id, m.endpoint_id, m.event_seq, m.attempts_used FROM webhook_messages m \
             WHERE m.tenant_id = ?2 AND m.endpoint_id = ?3 AND {DUE} \
             ORDER BY m.next_at, m.event_seq LIMIT ?4"
        );
        let mut rows = Vec::new();
        for (t, e, k) in slots.allowances(&endpoints) {
            let mut due = sqlx::query(&per_endpoint)
                .bind(ts(now))
                .bind(t.to_string())
                .bind(e.to_string())
                .bind(i64::from(k))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
            rows.append(&mut due);
        }
        let mut out = Vec::with_capacity(rows.len());
        let mut eps: HashMap<(TenantId, EndpointId), WebhookEndpoint> = HashMap::new();
        for r in &rows {
            let tenant: TenantId = id(col(r, "tenant_id")?)?;
            let endpoint: EndpointId = id(col(r, "endpoint_id")?)?;
            let seq: i64 = col(r, "event_seq")?;
            let used = u32::try_from(col::<i64>(r, "attempts_used")?).unwrap_or(0);
            let (t, e) = (tenant.to_string(), endpoint.to_string());
            sqlx::query(
                "UPDATE webhook_attempts SET outcome = 'interrupted' \
                 WHERE tenant_id = ? AND endpoint_id = ? AND event_seq = ? AND outcome = 'started'",
            )
            .bind(&t)
            .bind(&e)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query(
                "UPDATE webhook_messages SET lease_owner = ?, lease_until = ? \
                 WHERE tenant_id = ? AND endpoint_id = ? AND event_seq = ?",
            )
            .bind(owner)
            .bind(ts(until))
            .bind(&t)
            .bind(&e)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            let attempt = AttemptId::new();
            sqlx::query(
                "INSERT INTO webhook_attempts (tenant_id, id, endpoint_id, event_seq, n, started_at, outcome) \
                 VALUES (?, ?, ?, ?, ?, ?, 'started')",
            )
            .bind(&t)
            .bind(attempt.to_string())
            .bind(&e)
            .bind(seq)
            .bind(i64::from(used) + 1)
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            let ep = match eps.get(&(tenant, endpoint)) {
                Some(ep) => ep.clone(),
                None => {
                    let ep = endpoint_in(&mut tx, tenant, endpoint)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    eps.insert((tenant, endpoint), ep.clone());
                    ep
                }
            };
            let ev = sqlx::query(
                "SELECT seq, tenant_id, id, type, at, channel_id, order_id, data FROM events \
                 WHERE tenant_id = ? AND seq = ?",
            )
            .bind(&t)
            .bind(seq)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            out.push(ClaimedDelivery {
                endpoint: ep,
                event: decode_event(&ev)?,
                attempt,
                attempts_used: used,
            });
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn finish_deliveries(
        &self,
        batch: &[DeliveryFinish],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<bool>> {
        if batch.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let mut held = HeldMessages::new();
        let mut eps = HashMap::new();
        for f in batch {
            let used: Option<i64> = sqlx::query_scalar(
                "SELECT attempts_used FROM webhook_messages WHERE tenant_id = ? AND endpoint_id = ? \
                 AND event_seq = ? AND state = 'pending' AND lease_owner = ?",
            )
            .bind(f.tenant_id.to_string())
            .bind(f.endpoint_id.to_string())
            .bind(f.event_seq)
            .bind(&f.owner)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if let Some(used) = used {
                let used = u32::try_from(used).unwrap_or(0);
                held.insert((f.tenant_id, f.endpoint_id, f.event_seq), used);
            }
            let key = (f.tenant_id, f.endpoint_id);
            if let std::collections::hash_map::Entry::Vacant(v) = eps.entry(key) {
                if let Some(ep) = endpoint_in(&mut tx, key.0, key.1).await? {
                    v.insert(ep);
                }
            }
        }
        let plan = plan_finish(batch, &held, eps, now);
        for (i, outcome) in &plan.attempts {
            let f = &batch[*i];
            sqlx::query(
                "UPDATE webhook_attempts SET outcome = ?, http_status = ?, response = ?, \
                   duration_ms = ?, error = ? WHERE tenant_id = ? AND id = ?",
            )
            .bind(*outcome)
            .bind(f.http_status.map(i64::from))
            .bind(&f.response)
            .bind(i64::try_from(f.duration_ms).unwrap_or(i64::MAX))
            .bind(&f.error)
            .bind(f.tenant_id.to_string())
            .bind(f.attempt.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for m in &plan.messages {
            sqlx::query(
                "UPDATE webhook_messages SET state = ?, attempts_used = ?, next_at = ?, \
                   lease_owner = NULL, lease_until = NULL, updated_at = ? \
                 WHERE tenant_id = ? AND endpoint_id = ? AND event_seq = ?",
            )
            .bind(m.state)
            .bind(i64::from(m.attempts_used))
            .bind(ts(m.next_at))
            .bind(ts(now))
            .bind(m.tenant_id.to_string())
            .bind(m.endpoint_id.to_string())
            .bind(m.event_seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for ep in &plan.endpoints {
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ?, failing_since = ?, \
                   updated_at = ? WHERE tenant_id = ? AND id = ?",
            )
            .bind(i64::from(ep.enabled))
            .bind(&ep.disabled_reason)
            .bind(ep.failing_since.map(ts))
            .bind(ts(ep.updated_at))
            .bind(ep.tenant_id.to_string())
            .bind(ep.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        write_events(&mut tx, plan.events.as_slice()).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(plan.out)
    }

    async fn webhook_attempts(
        &self,
        tenant: TenantId,
        endpoint: EndpointId,
        page: &PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT * FROM (SELECT a.tenant_id, a.id, a.endpoint_id, a.event_seq, e.id AS event_id, \
               e.type AS event_type, a.n, a.started_at, a.outcome, a.http_status, a.response, \
               a.duration_ms, a.error FROM webhook_attempts a \
             JOIN events e ON e.tenant_id = a.tenant_id AND e.seq = a.event_seq) \
             WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string())
            .push(" AND endpoint_id = ")
            .push_bind(endpoint.to_string());
        newest_first(q, page, &self.reader, decode_attempt, |a| a.id.to_string()).await
    }

    async fn endpoint_deliveries(&self, tenant: TenantId) -> StoreResult<Vec<EndpointDeliveries>> {
        let rows = sqlx::query(
            "SELECT w.id, \
               (SELECT COUNT(*) FROM webhook_messages m WHERE m.tenant_id = w.tenant_id \
                  AND m.endpoint_id = w.id AND m.state = 'pending') AS pending, \
               (SELECT COUNT(*) FROM webhook_messages m WHERE m.tenant_id = w.tenant_id \
                  AND m.endpoint_id = w.id AND m.state = 'failed') AS failed, \
               (SELECT MAX(a.started_at) FROM webhook_attempts a WHERE a.tenant_id = w.tenant_id \
                  AND a.endpoint_id = w.id AND a.outcome = 'succeeded') AS last_success_at, \
               (SELECT MAX(a.started_at) FROM webhook_attempts a WHERE a.tenant_id = w.tenant_id \
                  AND a.endpoint_id = w.id AND a.outcome = 'failed') AS last_failure_at \
             FROM webhook_endpoints w WHERE w.tenant_id = ? ORDER BY w.id",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                in_table("webhook_messages", || {
                    Ok(EndpointDeliveries {
                        endpoint_id: id(col(r, "id")?)?,
                        pending: u64::try_from(col::<i64>(r, "pending")?).unwrap_or(0),
                        failed: u64::try_from(col::<i64>(r, "failed")?).unwrap_or(0),
                        last_success_at: from_opt_ts(col(r, "last_success_at")?)?,
                        last_failure_at: from_opt_ts(col(r, "last_failure_at")?)?,
                    })
                })
            })
            .collect()
    }

    async fn recover_deliveries(
        &self,
        tenant: TenantId,
        endpoint: EndpointId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let Some(ep) = endpoint_in(&mut tx, tenant, endpoint).await? else {
            return Err(StoreError::NotFound);
        };
        let rows = sqlx::query(
            "SELECT seq, tenant_id, id, type, at, channel_id, order_id, data FROM events \
             WHERE tenant_id = ? AND at >= ? AND seq <= \
               (SELECT cursor_seq FROM webhook_endpoints WHERE tenant_id = ? AND id = ?) ORDER BY seq",
        )
        .bind(tenant.to_string())
        .bind(ts(since))
        .bind(tenant.to_string())
        .bind(endpoint.to_string())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut n = 0;
        for r in &rows {
            let e = decode_event(r)?;
            if ep.wants(&e.event) {
                requeue(&mut tx, &ep, e.seq, &order_key(&e.event), now).await?;
                n += 1;
            }
        }
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let Some(ep) = endpoint_in(&mut tx, tenant, endpoint).await? else {
            return Ok(false);
        };
        let row = sqlx::query(
            "SELECT e.seq, e.tenant_id, e.id, e.type, e.at, e.channel_id, e.order_id, e.data \
             FROM webhook_attempts a JOIN events e ON e.tenant_id = a.tenant_id AND e.seq = a.event_seq \
             WHERE a.tenant_id = ? AND a.endpoint_id = ? AND a.id = ?",
        )
        .bind(tenant.to_string())
        .bind(endpoint.to_string())
        .bind(attempt.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let e = decode_event(&row)?;
        requeue(&mut tx, &ep, e.seq, &order_key(&e.event), now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
