//! SAC tickets.

use crate::codec::{col, fetch_opt, fetch_rows, from_json, in_table, order_lock_key};
use crate::jobs::insert_jobs;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::ticket::{FetchedTicket, TicketKind, TicketState};
use ponte_core::{ChannelId, ErrorCode, OrderId, TenantId, TicketId};
use ponte_store::{
    apply_ticket_change, merge_ticket, DeliveryState, StoreError, StoreResult, Ticket,
    TicketChange, TicketFilter, TicketStore,
};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

const COLUMNS: &str = "tenant_id, id, channel_id, external_id, kind, state, order_id, order_ref, \
                       subject, messages, platform_updated_at, created_at, updated_at";

fn decode(r: &PgRow) -> StoreResult<Ticket> {
    in_table("tickets", || {
        let kind: String = col(r, "kind")?;
        let state: String = col(r, "state")?;
        Ok(Ticket {
            tenant_id: TenantId(col(r, "tenant_id")?),
            id: TicketId(col(r, "id")?),
            channel_id: col::<Option<Uuid>>(r, "channel_id")?.map(ChannelId),
            external_id: col(r, "external_id")?,
            kind: TicketKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket kind {kind:?}")))?,
            state: TicketState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket state {state:?}")))?,
            order_id: col::<Option<Uuid>>(r, "order_id")?.map(OrderId),
            order_ref: col(r, "order_ref")?,
            subject: col(r, "subject")?,
            messages: from_json(col(r, "messages")?)?,
            platform_updated_at: col(r, "platform_updated_at")?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
        })
    })
}

/// Inserts or replaces a ticket's row.
async fn write(conn: &mut PgConnection, t: &Ticket) -> StoreResult<()> {
    let messages =
        serde_json::to_value(&t.messages).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(&format!(
        "INSERT INTO tickets ({COLUMNS}, failed_answers) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET state = excluded.state, \
         failed_answers = excluded.failed_answers, \
         order_id = excluded.order_id, order_ref = excluded.order_ref, \
         subject = excluded.subject, messages = excluded.messages, \
         platform_updated_at = excluded.platform_updated_at, updated_at = excluded.updated_at"
    ))
    .bind(t.tenant_id.0)
    .bind(t.id.0)
    .bind(t.channel_id.map(|c| c.0))
    .bind(&t.external_id)
    .bind(t.kind.as_str())
    .bind(t.state.as_str())
    .bind(t.order_id.map(|o| o.0))
    .bind(&t.order_ref)
    .bind(&t.subject)
    .bind(messages)
    .bind(t.platform_updated_at)
    .bind(t.created_at)
    .bind(t.updated_at)
    .bind(i32::try_from(t.failed_answers()).unwrap_or(i32::MAX))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl TicketStore for PgStore {
    async fn upsert_ticket(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        announced: &str,
        fetched: &FetchedTicket,
        now: DateTime<Utc>,
    ) -> StoreResult<Ticket> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Two instances reading the same ticket at once store it once.
        let key = format!("ticket:{}", fetched.external_id);
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(order_lock_key(tenant.0, channel.0, &key))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let existing = fetch_opt(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3"
            ))
            .bind(tenant.0)
            .bind(channel.0)
            .bind(&fetched.external_id),
            &mut *tx,
            decode,
        )
        .await?;
        let order: Option<OrderId> = match &fetched.order_ref {
            Some(r) => sqlx::query_scalar::<_, Uuid>(
                "SELECT id FROM orders WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3",
            )
            .bind(tenant.0)
            .bind(channel.0)
            .bind(r)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .map(OrderId),
            None => None,
        };
        let t = merge_ticket(existing, tenant, channel, fetched, order, now);
        write(&mut tx, &t).await?;
        sqlx::query(
            "UPDATE deliveries SET state = $1, processed_at = $2 \
             WHERE tenant_id = $3 AND channel_id = $4 AND resource_id IN ($5, $7) AND state = $6",
        )
        .bind(DeliveryState::Processed.as_str())
        .bind(now)
        .bind(tenant.0)
        .bind(channel.0)
        .bind(&fetched.external_id)
        .bind(DeliveryState::Received.as_str())
        .bind(announced)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(t)
    }

    async fn insert_ticket(&self, t: &Ticket) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        write(&mut conn, t).await
    }

    async fn ticket(&self, tenant: TenantId, tid: TicketId) -> StoreResult<Option<Ticket>> {
        fetch_opt(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant.0)
            .bind(tid.0),
            &self.pool,
            decode,
        )
        .await
    }

    async fn tickets(
        &self,
        tenant: TenantId,
        f: &TicketFilter,
        limit: u32,
    ) -> StoreResult<Vec<Ticket>> {
        fetch_rows(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = $1 \
                 AND ($2::uuid IS NULL OR channel_id = $2) AND ($3::text IS NULL OR state = $3) \
                 AND ($4::text IS NULL OR kind = $4) AND ($5::uuid IS NULL OR order_id = $5) \
                 AND (NOT $7 OR failed_answers > 0) \
                 ORDER BY updated_at DESC, id DESC LIMIT $6"
            ))
            .bind(tenant.0)
            .bind(f.channel_id.map(|c| c.0))
            .bind(f.state.map(TicketState::as_str))
            .bind(f.kind.map(TicketKind::as_str))
            .bind(f.order_id.map(|o| o.0))
            .bind(i64::from(limit))
            .bind(f.failed_answers),
            &self.pool,
            decode,
        )
        .await
    }

    async fn change_ticket(
        &self,
        tenant: TenantId,
        tid: TicketId,
        change: &TicketChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Result<Ticket, ErrorCode>>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let found = fetch_opt(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
            ))
            .bind(tenant.0)
            .bind(tid.0),
            &mut *tx,
            decode,
        )
        .await?;
        let Some(mut t) = found else {
            return Ok(None);
        };
        let job = match apply_ticket_change(&mut t, change, now) {
            Ok(job) => job,
            Err(code) => return Ok(Some(Err(code))),
        };
        write(&mut tx, &t).await?;
        if let Some(job) = &job {
            insert_jobs(&mut tx, &[(tenant, job)]).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Some(Ok(t)))
    }
}
