//! Listing status sends with their attempts.

use crate::codec::in_table;
use crate::codec::{col, newest_first, push_period};
use crate::db_err;
use crate::sends::{decode_send, from_db, SEND_COLUMNS};
use ponte_core::{SendId, TenantId};
use ponte_store::{
    AttemptOutcome, Page, PageRequest, SendAttempt, SendFilter, StatusSend, StoreError, StoreResult,
};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder};
use std::collections::HashMap;
use uuid::Uuid;

fn decode_attempt(r: &PgRow) -> StoreResult<SendAttempt> {
    in_table("send_attempts", || {
        let outcome: String = col(r, "outcome")?;
        let http: Option<i32> = col(r, "http_status")?;
        let ms: Option<i64> = col(r, "duration_ms")?;
        Ok(SendAttempt {
            n: from_db(col(r, "n")?, "n")?,
            started_at: col(r, "started_at")?,
            outcome: AttemptOutcome::parse(&outcome)
                .ok_or_else(|| StoreError::Corrupt(format!("attempt outcome {outcome:?}")))?,
            request: col(r, "request")?,
            http_status: http
                .map(|h| {
                    u16::try_from(h).map_err(|_| StoreError::Corrupt(format!("http_status: {h}")))
                })
                .transpose()?,
            response: col(r, "response")?,
            duration_ms: ms
                .map(|m| {
                    u64::try_from(m).map_err(|_| StoreError::Corrupt(format!("duration_ms: {m}")))
                })
                .transpose()?,
            error_code: col(r, "error_code")?,
            error: col(r, "error")?,
        })
    })
}

/// Fills in every attempt of `sends` (one query), oldest first.
async fn with_attempts(
    pool: &PgPool,
    tenant: TenantId,
    sends: &mut [StatusSend],
) -> StoreResult<()> {
    if sends.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = sends.iter().map(|s| s.id.0).collect();
    let rows = sqlx::query(
        "SELECT send_id, n, started_at, outcome, request, http_status, response, duration_ms, \
           error_code, error \
         FROM send_attempts WHERE tenant_id = $1 AND send_id = ANY($2) ORDER BY send_id, n",
    )
    .bind(tenant.0)
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let mut by_send: HashMap<Uuid, Vec<SendAttempt>> = HashMap::new();
    for r in &rows {
        by_send
            .entry(col(r, "send_id")?)
            .or_default()
            .push(decode_attempt(r)?);
    }
    for s in sends {
        s.attempts = by_send.remove(&s.id.0).unwrap_or_default();
    }
    Ok(())
}

pub(crate) async fn status_sends(
    pool: &PgPool,
    tenant: TenantId,
    f: &SendFilter,
    page: &PageRequest,
) -> StoreResult<Page<StatusSend>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {SEND_COLUMNS} FROM status_sends WHERE tenant_id = "
    ));
    q.push_bind(tenant.0);
    if let Some(c) = f.channel_id {
        q.push(" AND channel_id = ").push_bind(c.0);
    }
    if let Some(o) = f.order_id {
        q.push(" AND order_id = ").push_bind(o.0);
    }
    if let Some(s) = f.state {
        q.push(" AND state = ").push_bind(s.as_str());
    }
    if let Some(k) = f.kind {
        q.push(" AND kind = ").push_bind(k.as_str());
    }
    push_period(&mut q, "status_sends", "created_at", tenant.0, f.from, f.to);
    let mut sends = newest_first(q, page, pool, decode_send, |s| s.id.to_string()).await?;
    with_attempts(pool, tenant, &mut sends.items).await?;
    Ok(sends)
}

pub(crate) async fn status_send(
    pool: &PgPool,
    tenant: TenantId,
    id: SendId,
) -> StoreResult<Option<StatusSend>> {
    let row = sqlx::query(&format!(
        "SELECT {SEND_COLUMNS} FROM status_sends WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let mut sends = [decode_send(&row)?];
    with_attempts(pool, tenant, &mut sends).await?;
    let [send] = sends;
    Ok(Some(send))
}
