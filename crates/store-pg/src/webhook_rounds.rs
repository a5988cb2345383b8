//! A round of webhook deliveries (PostgreSQL): record the finished attempts, queue
//! new events, claim due messages. Each step runs inside a transaction it is given, so
//! the delivery loop does all three in one ([`ponte_store::WebhookStore::delivery_round`]),
//! one commit per round instead of three.

use crate::codec::{col, fetch_rows};
use crate::db_err;
use crate::events::{decode_event, write_events};
use crate::webhooks::{decode_endpoint, ENDPOINT_COLUMNS, EVENT_COLUMNS};
use chrono::{DateTime, Utc};
use ponte_core::{AttemptId, EndpointId, TenantId};
use ponte_store::webhooks::{
    order_key, plan_finish, ClaimedDelivery, DeliveryFinish, DeliverySlots, HeldMessages,
    WebhookEndpoint,
};
use ponte_store::{Event, StoreError, StoreResult};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// Queues the events committed since each enabled endpoint's cursor that it wants, up
/// to `limit` per endpoint; how many messages were queued.
pub(crate) async fn queue_in(
    tx: &mut PgConnection,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    // Another instance queueing an endpoint holds its row: it is skipped here. The
    // tenant's counter row holds its last committed event number (one row read, where
    // looking into `events` would depend on the planner knowing that table's size).
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS}, cursor_seq, \
           (SELECT last_seq FROM event_seqs s WHERE s.tenant_id = w.tenant_id) AS last_seq \
         FROM webhook_endpoints w WHERE enabled \
         AND EXISTS (SELECT 1 FROM event_seqs s WHERE s.tenant_id = w.tenant_id AND s.last_seq > w.cursor_seq) \
         FOR UPDATE OF w SKIP LOCKED"
    ))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut queued = 0;
    for r in &rows {
        let ep = decode_endpoint(r)?;
        let cursor: i64 = col(r, "cursor_seq")?;
        let q = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let q = sqlx::query(&q)
            .bind(ep.tenant_id.0)
            .bind(cursor)
            .bind(i64::from(limit));
        let events = fetch_rows(q, &mut *tx, decode_event).await?;
        // None left after the cursor (retention pruned them): move it past them.
        let last = events
            .last()
            .map_or(col::<i64>(r, "last_seq"), |e| Ok(e.seq))?;
        let wanted: Vec<&Event> = events.iter().filter(|e| ep.wants(&e.event)).collect();
        let seqs: Vec<i64> = wanted.iter().map(|e| e.seq).collect();
        let keys: Vec<String> = wanted.iter().map(|e| order_key(&e.event)).collect();
        let r = sqlx::query(
            "INSERT INTO webhook_messages (tenant_id, endpoint_id, event_seq, order_key, state, \
               attempts_used, next_at, created_at, updated_at) \
             SELECT $1, $2, s, k, 'pending', 0, $5, $5, $5 FROM UNNEST($3::bigint[], $4::text[]) AS v(s, k) \
             ON CONFLICT DO NOTHING",
        )
        .bind(ep.tenant_id.0)
        .bind(ep.id.0)
        .bind(seqs)
        .bind(keys)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        queued += r.rows_affected();
        sqlx::query(
            "UPDATE webhook_endpoints SET cursor_seq = $1 WHERE tenant_id = $2 AND id = $3",
        )
        .bind(last)
        .bind(ep.tenant_id.0)
        .bind(ep.id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    Ok(queued)
}

/// Claims due messages, each endpoint its allowance of `slots`, recording their
/// attempts `started`.
pub(crate) async fn claim_in(
    tx: &mut PgConnection,
    owner: &str,
    now: DateTime<Utc>,
    lease: std::time::Duration,
    slots: &DeliverySlots,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let enabled = sqlx::query(
        "SELECT tenant_id, id FROM webhook_endpoints WHERE enabled ORDER BY tenant_id, id",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut endpoints = Vec::with_capacity(enabled.len());
    for r in &enabled {
        endpoints.push((
            TenantId(col::<Uuid>(r, "tenant_id")?),
            EndpointId(col::<Uuid>(r, "id")?),
        ));
    }
    let mut rows = Vec::new();
    for (t, e, k) in slots.allowances(&endpoints) {
        let mut claimed = sqlx::query(
            // `OFFSET 0` keeps the check a probe of the message's own queue (see
            // migration 0023); `leased`: an earlier lease ran out (its attempt, cut
            // off, is `started`).
            "WITH c AS (SELECT m.tenant_id, m.endpoint_id, m.event_seq, m.lease_owner IS NOT NULL AS leased \
               FROM webhook_messages m \
               WHERE m.tenant_id = $5 AND m.endpoint_id = $6 \
               AND m.state = 'pending' AND m.next_at <= $1 AND (m.lease_until IS NULL OR m.lease_until < $1) \
               AND NOT EXISTS (SELECT 1 FROM webhook_messages p WHERE p.queue_key = m.queue_key \
                 AND p.event_seq < m.event_seq AND p.state = 'pending' OFFSET 0) \
               ORDER BY m.next_at, m.event_seq LIMIT $2 FOR UPDATE OF m SKIP LOCKED) \
             UPDATE webhook_messages m SET lease_owner = $3, lease_until = $4 FROM c \
             WHERE m.tenant_id = c.tenant_id AND m.endpoint_id = c.endpoint_id AND m.event_seq = c.event_seq \
             RETURNING m.tenant_id, m.endpoint_id, m.event_seq, m.attempts_used, c.leased",
        )
        .bind(now)
        .bind(i64::from(k))
        .bind(owner)
        .bind(until)
        .bind(t.0)
        .bind(e.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        rows.append(&mut claimed);
    }
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut tenants = Vec::with_capacity(rows.len());
    let mut endpoints = Vec::with_capacity(rows.len());
    let mut seqs = Vec::with_capacity(rows.len());
    let mut used = Vec::with_capacity(rows.len());
    for r in &rows {
        tenants.push(col::<Uuid>(r, "tenant_id")?);
        endpoints.push(col::<Uuid>(r, "endpoint_id")?);
        seqs.push(col::<i64>(r, "event_seq")?);
        used.push(u32::try_from(col::<i32>(r, "attempts_used")?).unwrap_or(0));
    }
    let mut cut = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if col::<bool>(r, "leased")? {
            cut.push(i);
        }
    }
    if !cut.is_empty() {
        sqlx::query(
            "UPDATE webhook_attempts a SET outcome = 'interrupted' \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[]) AS v(t, e, s) \
             WHERE a.tenant_id = v.t AND a.endpoint_id = v.e AND a.event_seq = v.s AND a.outcome = 'started'",
        )
        .bind(cut.iter().map(|i| tenants[*i]).collect::<Vec<_>>())
        .bind(cut.iter().map(|i| endpoints[*i]).collect::<Vec<_>>())
        .bind(cut.iter().map(|i| seqs[*i]).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    let attempts: Vec<AttemptId> = rows.iter().map(|_| AttemptId::new()).collect();
    let ids: Vec<Uuid> = attempts.iter().map(|a| a.0).collect();
    let ns: Vec<i32> = used
        .iter()
        .map(|u| i32::try_from(*u).unwrap_or(i32::MAX).saturating_add(1))
        .collect();
    sqlx::query(
        "INSERT INTO webhook_attempts (tenant_id, id, endpoint_id, event_seq, n, started_at, outcome) \
         SELECT t, i, e, s, n, $6, 'started' \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::int[]) AS v(t, i, e, s, n)",
    )
    .bind(&tenants)
    .bind(&ids)
    .bind(&endpoints)
    .bind(&seqs)
    .bind(&ns)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let eps = endpoints_by_key(tx, &tenants, &endpoints).await?;
    let q = format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE (tenant_id, seq) IN (SELECT * FROM UNNEST($1::uuid[], $2::bigint[]))"
    );
    let events = fetch_rows(
        sqlx::query(&q).bind(&tenants).bind(&seqs),
        &mut *tx,
        decode_event,
    )
    .await?;
    let events: HashMap<(TenantId, i64), Event> = events
        .into_iter()
        .map(|e| ((e.event.tenant_id, e.seq), e))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for (i, attempt) in attempts.into_iter().enumerate() {
        let (t, e) = (TenantId(tenants[i]), EndpointId(endpoints[i]));
        let (Some(endpoint), Some(event)) = (eps.get(&(t, e)), events.get(&(t, seqs[i]))) else {
            return Err(StoreError::Corrupt(
                "claimed message without its endpoint or event".into(),
            ));
        };
        out.push(ClaimedDelivery {
            endpoint: endpoint.clone(),
            event: event.clone(),
            attempt,
            attempts_used: used[i],
        });
    }
    Ok(out)
}

/// Records how attempts ended, each under its lease (false when it was lost).
pub(crate) async fn finish_in(
    tx: &mut PgConnection,
    batch: &[DeliveryFinish],
    now: DateTime<Utc>,
) -> StoreResult<Vec<bool>> {
    let tenants: Vec<Uuid> = batch.iter().map(|f| f.tenant_id.0).collect();
    let endpoints: Vec<Uuid> = batch.iter().map(|f| f.endpoint_id.0).collect();
    let seqs: Vec<i64> = batch.iter().map(|f| f.event_seq).collect();
    let owners: Vec<&str> = batch.iter().map(|f| f.owner.as_str()).collect();
    let rows = sqlx::query(
        // One key lookup per attempt (`OFFSET 0`), whatever the planner believes of
        // how many messages are pending.
        "SELECT m.tenant_id, m.endpoint_id, m.event_seq, m.attempts_used \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::text[]) AS v(t, e, s, o) \
         CROSS JOIN LATERAL (SELECT m.tenant_id, m.endpoint_id, m.event_seq, m.attempts_used \
           FROM webhook_messages m WHERE m.tenant_id = v.t AND m.endpoint_id = v.e AND m.event_seq = v.s \
           AND m.state = 'pending' AND m.lease_owner = v.o OFFSET 0 FOR UPDATE) m",
    )
    .bind(&tenants)
    .bind(&endpoints)
    .bind(&seqs)
    .bind(&owners)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut held = HeldMessages::new();
    for r in &rows {
        let key = (
            TenantId(col(r, "tenant_id")?),
            EndpointId(col(r, "endpoint_id")?),
            col::<i64>(r, "event_seq")?,
        );
        held.insert(
            key,
            u32::try_from(col::<i32>(r, "attempts_used")?).unwrap_or(0),
        );
    }
    let eps = endpoints_by_key(tx, &tenants, &endpoints).await?;
    let plan = plan_finish(batch, &held, eps, now);
    write_attempts(tx, batch, &plan.attempts).await?;
    write_messages(tx, &plan.messages, now).await?;
    for ep in &plan.endpoints {
        sqlx::query(
            "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = $2, failing_since = $3, \
               updated_at = $4 WHERE tenant_id = $5 AND id = $6",
        )
        .bind(ep.enabled)
        .bind(&ep.disabled_reason)
        .bind(ep.failing_since)
        .bind(ep.updated_at)
        .bind(ep.tenant_id.0)
        .bind(ep.id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    write_events(tx, plan.events.as_slice()).await?;
    Ok(plan.out)
}

/// The endpoints named by (tenant, id) pairs, by key.
async fn endpoints_by_key(
    tx: &mut PgConnection,
    tenants: &[Uuid],
    endpoints: &[Uuid],
) -> StoreResult<HashMap<(TenantId, EndpointId), WebhookEndpoint>> {
    let q = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
         WHERE (tenant_id, id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
    );
    let eps = fetch_rows(
        sqlx::query(&q).bind(tenants).bind(endpoints),
        &mut *tx,
        decode_endpoint,
    )
    .await?;
    Ok(eps.into_iter().map(|e| ((e.tenant_id, e.id), e)).collect())
}

/// Records how the attempts ended.
async fn write_attempts(
    tx: &mut PgConnection,
    batch: &[DeliveryFinish],
    attempts: &[(usize, &'static str)],
) -> StoreResult<()> {
    let fs: Vec<&DeliveryFinish> = attempts.iter().map(|(i, _)| &batch[*i]).collect();
    sqlx::query(
        "UPDATE webhook_attempts a SET outcome = v.o, http_status = v.h, response = v.r, \
           duration_ms = v.d, error = v.e \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::bigint[], $7::text[]) \
           AS v(t, i, o, h, r, d, e) \
         WHERE a.tenant_id = v.t AND a.id = v.i",
    )
    .bind(fs.iter().map(|f| f.tenant_id.0).collect::<Vec<_>>())
    .bind(fs.iter().map(|f| f.attempt.0).collect::<Vec<_>>())
    .bind(attempts.iter().map(|(_, o)| *o).collect::<Vec<_>>())
    .bind(fs.iter().map(|f| f.http_status.map(i32::from)).collect::<Vec<_>>())
    .bind(fs.iter().map(|f| f.response.as_deref()).collect::<Vec<_>>())
    .bind(
        fs.iter()
            .map(|f| i64::try_from(f.duration_ms).unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(fs.iter().map(|f| f.error.as_deref()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Writes the messages' new states, releasing their leases.
async fn write_messages(
    tx: &mut PgConnection,
    messages: &[ponte_store::webhooks::MessageUpdate],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_messages m SET state = v.st, attempts_used = v.u, next_at = v.n, \
           lease_owner = NULL, lease_until = NULL, updated_at = $7 \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::int[], $6::timestamptz[]) \
           AS v(t, e, s, st, u, n) \
         WHERE m.tenant_id = v.t AND m.endpoint_id = v.e AND m.event_seq = v.s",
    )
    .bind(messages.iter().map(|m| m.tenant_id.0).collect::<Vec<_>>())
    .bind(messages.iter().map(|m| m.endpoint_id.0).collect::<Vec<_>>())
    .bind(messages.iter().map(|m| m.event_seq).collect::<Vec<_>>())
    .bind(messages.iter().map(|m| m.state).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| i32::try_from(m.attempts_used).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(messages.iter().map(|m| m.next_at).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}
