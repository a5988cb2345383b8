//! Outbound events (PostgreSQL): numbered per tenant in commit order by the
//! `event_seqs` counter row (see migration 0011), which the writing statement bumps
//! as its transaction's last write.

use crate::codec::{col, from_json, in_table, limit};
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::{ChannelId, EventId, OrderId, TenantId};
use ponte_store::{Event, EventQuery, EventStore, NewEvent, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

/// Appends the events, numbering each tenant's in order. The transaction's last write:
/// the counter row stays locked until commit, and tenants are taken in id order, so
/// two transactions never wait on each other's counters in opposite orders.
pub(crate) async fn write_events(conn: &mut PgConnection, events: &[NewEvent]) -> StoreResult<()> {
    let mut tenants: Vec<TenantId> = events.iter().map(|e| e.tenant_id).collect();
    tenants.sort_by_key(|t| t.0);
    tenants.dedup();
    for tenant in tenants {
        let mine: Vec<&NewEvent> = events.iter().filter(|e| e.tenant_id == tenant).collect();
        let n = i64::try_from(mine.len()).unwrap_or(i64::MAX);
        let ids: Vec<Uuid> = mine.iter().map(|e| e.id.0).collect();
        let kinds: Vec<&str> = mine.iter().map(|e| e.kind.as_str()).collect();
        let at: Vec<DateTime<Utc>> = mine.iter().map(|e| e.at).collect();
        let channels: Vec<Option<Uuid>> = mine.iter().map(|e| e.channel_id.map(|c| c.0)).collect();
        let orders: Vec<Option<Uuid>> = mine.iter().map(|e| e.order_id.map(|o| o.0)).collect();
        let data: Vec<&serde_json::Value> = mine.iter().map(|e| &e.data).collect();
        sqlx::query(
            "WITH s AS (INSERT INTO event_seqs (tenant_id, last_seq) VALUES ($1, $2) \
               ON CONFLICT (tenant_id) DO UPDATE SET last_seq = event_seqs.last_seq + excluded.last_seq \
               RETURNING last_seq) \
             INSERT INTO events (tenant_id, seq, id, type, at, channel_id, order_id, data) \
             SELECT $1, s.last_seq - $2 + u.n, u.id, u.type, u.at, u.ch, u.o, u.d \
             FROM s, UNNEST($3::uuid[], $4::text[], $5::timestamptz[], $6::uuid[], $7::uuid[], $8::jsonb[]) \
               WITH ORDINALITY AS u(id, type, at, ch, o, d, n)",
        )
        .bind(tenant.0)
        .bind(n)
        .bind(ids)
        .bind(kinds)
        .bind(at)
        .bind(channels)
        .bind(orders)
        .bind(data)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// Decodes an `events` row.
pub(crate) fn decode_event(r: &PgRow) -> StoreResult<Event> {
    in_table("events", || {
        let kind: &str = col(r, "type")?;
        let kind = EventType::parse(kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event type {kind:?}")))?;
        Ok(Event {
            seq: col(r, "seq")?,
            event: NewEvent {
                tenant_id: TenantId(col(r, "tenant_id")?),
                id: EventId(col(r, "id")?),
                kind,
                at: col(r, "at")?,
                channel_id: col::<Option<Uuid>>(r, "channel_id")?.map(ChannelId),
                order_id: col::<Option<Uuid>>(r, "order_id")?.map(OrderId),
                data: from_json(col(r, "data")?)?,
            },
        })
    })
}

#[async_trait]
impl EventStore for PgStore {
    async fn events(&self, tenant: TenantId, q: &EventQuery) -> StoreResult<Vec<Event>> {
        let types: Vec<&str> = q.types.iter().map(|t| t.as_str()).collect();
        let rows = sqlx::query(
            "SELECT seq, tenant_id, id, type, at, channel_id, order_id, data FROM events \
             WHERE tenant_id = $1 AND seq > $2 AND (cardinality($3::text[]) = 0 OR type = ANY($3)) \
             ORDER BY seq LIMIT $4",
        )
        .bind(tenant.0)
        .bind(q.after)
        .bind(types)
        .bind(limit(q.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_event).collect()
    }
}
