//! Outbound events (SQLite): written in the writer's transaction, read in rowid order,
//! which is commit order (one writer).

use crate::codec::{col, from_ts, id, in_table, json, limit, pow2_chunks, ts};
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use ponte_core::event::EventType;
use ponte_store::{Event, EventQuery, EventStore, NewEvent, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// Appends the events, in order (the transaction's last write).
pub(crate) async fn write_events(
    conn: &mut SqliteConnection,
    events: &[NewEvent],
) -> StoreResult<()> {
    for chunk in pow2_chunks(events) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO events (tenant_id, id, type, at, channel_id, order_id, data) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e.tenant_id.to_string())
                .push_bind(e.id.to_string())
                .push_bind(e.kind.as_str())
                .push_bind(ts(e.at))
                .push_bind(e.channel_id.map(|c| c.to_string()))
                .push_bind(e.order_id.map(|o| o.to_string()))
                .push_bind(e.data.to_string());
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// Decodes an `events` row.
pub(crate) fn decode_event(r: &SqliteRow) -> StoreResult<Event> {
    in_table("events", || {
        let kind: &str = col(r, "type")?;
        let kind = EventType::parse(kind)
            .ok_or_else(|| StoreError::Corrupt(format!("event type {kind:?}")))?;
        Ok(Event {
            seq: col(r, "seq")?,
            event: NewEvent {
                tenant_id: id(col(r, "tenant_id")?)?,
                id: id(col(r, "id")?)?,
                kind,
                at: from_ts(col(r, "at")?)?,
                channel_id: col::<Option<&str>>(r, "channel_id")?.map(id).transpose()?,
                order_id: col::<Option<&str>>(r, "order_id")?.map(id).transpose()?,
                data: json(col(r, "data")?)?,
            },
        })
    })
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn events(
        &self,
        tenant: ponte_core::TenantId,
        q: &EventQuery,
    ) -> StoreResult<Vec<Event>> {
        let mut b: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT seq, tenant_id, id, type, at, channel_id, order_id, data FROM events \
             WHERE tenant_id = ",
        );
        b.push_bind(tenant.to_string())
            .push(" AND seq > ")
            .push_bind(q.after);
        if !q.types.is_empty() {
            b.push(" AND type IN (");
            let mut s = b.separated(", ");
            for t in &q.types {
                s.push_bind(t.as_str());
            }
            b.push(")");
        }
        b.push(" ORDER BY seq LIMIT ").push_bind(limit(q.limit));
        let rows = b.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(decode_event).collect()
    }
}
