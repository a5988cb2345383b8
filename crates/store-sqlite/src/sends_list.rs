//! Listing status sends with their attempts (SQLite).

use crate::codec::{col, limit, push_period};
use crate::db_err;
use crate::sends::{decode_attempt, decode_send, SEND_COLUMNS};
use ponte_core::{SendId, TenantId};
use ponte_store::{Page, PageRequest, SendFilter, StatusSend, StoreResult};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::collections::HashMap;

/// Fills each send's attempts with one query.
async fn with_attempts(
    pool: &SqlitePool,
    tenant: TenantId,
    mut sends: Vec<StatusSend>,
) -> StoreResult<Vec<StatusSend>> {
    if sends.is_empty() {
        return Ok(sends);
    }
    let mut q: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT * FROM send_attempts WHERE tenant_id = ");
    q.push_bind(tenant.to_string()).push(" AND send_id IN (");
    let mut sep = q.separated(", ");
    for s in &sends {
        sep.push_bind(s.id.to_string());
    }
    q.push(") ORDER BY send_id, n");
    let rows = q.build().fetch_all(pool).await.map_err(db_err)?;
    let mut by_send: HashMap<String, Vec<_>> = HashMap::new();
    for r in &rows {
        by_send
            .entry(col(r, "send_id")?)
            .or_default()
            .push(decode_attempt(r)?);
    }
    for s in &mut sends {
        s.attempts = by_send.remove(&s.id.to_string()).unwrap_or_default();
    }
    Ok(sends)
}

/// Sends matching `f`, newest first.
pub(crate) async fn list(
    pool: &SqlitePool,
    tenant: TenantId,
    f: &SendFilter,
    page: &PageRequest,
) -> StoreResult<Page<StatusSend>> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {SEND_COLUMNS} FROM status_sends WHERE tenant_id = "
    ));
    q.push_bind(tenant.to_string());
    if let Some(c) = f.channel_id {
        q.push(" AND channel_id = ").push_bind(c.to_string());
    }
    if let Some(o) = f.order_id {
        q.push(" AND order_id = ").push_bind(o.to_string());
    }
    if let Some(s) = f.state {
        q.push(" AND state = ").push_bind(s.as_str());
    }
    if let Some(k) = f.kind {
        q.push(" AND kind = ").push_bind(k.as_str());
    }
    push_period(
        &mut q,
        "status_sends",
        "created_at",
        &tenant.to_string(),
        f.from,
        f.to,
    );
    if let Some(c) = &page.cursor {
        q.push(" AND id < ").push_bind(c.clone());
    }
    let n = limit(page.limit);
    q.push(" ORDER BY id DESC LIMIT ").push_bind(n);
    let sends = q
        .build()
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(decode_send)
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = (sends.len() as i64 == n)
        .then(|| sends.last().map(|s| s.id.to_string()))
        .flatten();
    let items = with_attempts(pool, tenant, sends).await?;
    Ok(Page { items, next_cursor })
}

/// One send with its attempts.
pub(crate) async fn one(
    pool: &SqlitePool,
    tenant: TenantId,
    send: SendId,
) -> StoreResult<Option<StatusSend>> {
    let row = sqlx::query(&format!(
        "SELECT {SEND_COLUMNS} FROM status_sends WHERE tenant_id = ? AND id = ?"
    ))
    .bind(tenant.to_string())
    .bind(send.to_string())
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    match row {
        Some(r) => Ok(with_attempts(pool, tenant, vec![decode_send(&r)?])
            .await?
            .pop()),
        None => Ok(None),
    }
}
