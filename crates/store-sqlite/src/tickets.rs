//! SAC tickets.

use crate::codec::{
    col, fetch_opt, fetch_rows, from_opt_ts, from_ts, id, in_table, json, to_json, ts,
};
use crate::jobs::insert_jobs;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::ticket::{FetchedTicket, TicketKind, TicketState};
use ponte_core::{ChannelId, ErrorCode, OrderId, TenantId, TicketId};
use ponte_store::{
    apply_ticket_change, merge_ticket, DeliveryState, StoreError, StoreResult, Ticket,
    TicketChange, TicketFilter, TicketStore,
};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

const COLUMNS: &str = "tenant_id, id, channel_id, external_id, kind, state, order_id, order_ref, \
                       subject, messages, platform_updated_at, created_at, updated_at";

fn decode(r: &SqliteRow) -> StoreResult<Ticket> {
    in_table("tickets", || {
        let kind: String = col(r, "kind")?;
        let state: String = col(r, "state")?;
        Ok(Ticket {
            tenant_id: id(col(r, "tenant_id")?)?,
            id: id(col(r, "id")?)?,
            channel_id: col::<Option<String>>(r, "channel_id")?
                .as_deref()
                .map(id)
                .transpose()?,
            external_id: col(r, "external_id")?,
            kind: TicketKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket kind {kind:?}")))?,
            state: TicketState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket state {state:?}")))?,
            order_id: col::<Option<String>>(r, "order_id")?
                .as_deref()
                .map(id)
                .transpose()?,
            order_ref: col(r, "order_ref")?,
            subject: col(r, "subject")?,
            messages: json(col(r, "messages")?)?,
            platform_updated_at: from_opt_ts(col(r, "platform_updated_at")?)?,
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
        })
    })
}

/// Inserts or replaces a ticket's row.
async fn write(conn: &mut SqliteConnection, t: &Ticket) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO tickets ({COLUMNS}, failed_answers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (tenant_id, id) DO UPDATE SET state = excluded.state, \
         failed_answers = excluded.failed_answers, \
         order_id = excluded.order_id, order_ref = excluded.order_ref, \
         subject = excluded.subject, messages = excluded.messages, \
         platform_updated_at = excluded.platform_updated_at, updated_at = excluded.updated_at"
    ))
    .bind(t.tenant_id.to_string())
    .bind(t.id.to_string())
    .bind(t.channel_id.map(|c| c.to_string()))
    .bind(&t.external_id)
    .bind(t.kind.as_str())
    .bind(t.state.as_str())
    .bind(t.order_id.map(|o| o.to_string()))
    .bind(&t.order_ref)
    .bind(&t.subject)
    .bind(to_json(&t.messages)?)
    .bind(t.platform_updated_at.map(ts))
    .bind(ts(t.created_at))
    .bind(ts(t.updated_at))
    .bind(i64::try_from(t.failed_answers()).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl TicketStore for SqliteStore {
    async fn upsert_ticket(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        announced: &str,
        fetched: &FetchedTicket,
        now: DateTime<Utc>,
    ) -> StoreResult<Ticket> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let existing = fetch_opt(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = ? AND channel_id = ? AND external_id = ?"
            ))
            .bind(tenant.to_string())
            .bind(channel.to_string())
            .bind(&fetched.external_id),
            &mut *tx,
            decode,
        )
        .await?;
        let order: Option<OrderId> = match &fetched.order_ref {
            Some(r) => sqlx::query_scalar::<_, String>(
                "SELECT id FROM orders WHERE tenant_id = ? AND channel_id = ? AND external_id = ?",
            )
            .bind(tenant.to_string())
            .bind(channel.to_string())
            .bind(r)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .as_deref()
            .map(id)
            .transpose()?,
            None => None,
        };
        let t = merge_ticket(existing, tenant, channel, fetched, order, now);
        write(&mut tx, &t).await?;
        sqlx::query(
            "UPDATE deliveries SET state = ?, processed_at = ? \
             WHERE tenant_id = ? AND channel_id = ? AND resource_id IN (?, ?) AND state = ?",
        )
        .bind(DeliveryState::Processed.as_str())
        .bind(ts(now))
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(&fetched.external_id)
        .bind(announced)
        .bind(DeliveryState::Received.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(t)
    }

    async fn insert_ticket(&self, t: &Ticket) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
        write(&mut conn, t).await
    }

    async fn ticket(&self, tenant: TenantId, tid: TicketId) -> StoreResult<Option<Ticket>> {
        fetch_opt(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = ? AND id = ?"
            ))
            .bind(tenant.to_string())
            .bind(tid.to_string()),
            &self.reader,
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
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = ? \
                 AND (? IS NULL OR channel_id = ?) AND (? IS NULL OR state = ?) \
                 AND (? IS NULL OR kind = ?) AND (? IS NULL OR order_id = ?) \
                 AND (? = 0 OR failed_answers > 0) \
                 ORDER BY updated_at DESC, id DESC LIMIT ?"
            ))
            .bind(tenant.to_string())
            .bind(f.channel_id.map(|c| c.to_string()))
            .bind(f.channel_id.map(|c| c.to_string()))
            .bind(f.state.map(TicketState::as_str))
            .bind(f.state.map(TicketState::as_str))
            .bind(f.kind.map(TicketKind::as_str))
            .bind(f.kind.map(TicketKind::as_str))
            .bind(f.order_id.map(|o| o.to_string()))
            .bind(f.order_id.map(|o| o.to_string()))
            .bind(i64::from(f.failed_answers))
            .bind(i64::from(limit)),
            &self.reader,
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let found = fetch_opt(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM tickets WHERE tenant_id = ? AND id = ?"
            ))
            .bind(tenant.to_string())
            .bind(tid.to_string()),
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
