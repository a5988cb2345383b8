//! Pushing stock: claiming a channel's pending values, recording push calls and their
//! effect on the targets, and the push history.

use crate::codec::{col, limit};
use crate::stock::{decode_target, TARGET_COLUMNS};
use crate::stock_marks::lock_stock;
use crate::{db_err, PgStore};
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::stock_plan::{
    keyset_page, push_items_json, push_outcome_parts, pushed_values, SkuKey,
};
use ponte_store::*;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The SKUs among `skus` that are not products.
pub(crate) async fn unknown_skus(
    conn: &mut PgConnection,
    skus: &BTreeSet<SkuKey>,
) -> StoreResult<Vec<String>> {
    if skus.is_empty() {
        return Ok(vec![]);
    }
    sqlx::query_scalar(
        "SELECT k.sku FROM UNNEST($1::uuid[], $2::text[]) AS k (t, sku) WHERE NOT EXISTS \
         (SELECT 1 FROM products p WHERE p.tenant_id = k.t AND p.sku = k.sku)",
    )
    .bind(skus.iter().map(|k| k.0 .0).collect::<Vec<_>>())
    .bind(skus.iter().map(|k| k.1.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)
}

/// Every SKU a channel lists.
pub(crate) async fn channel_skus(
    conn: &mut PgConnection,
    tenant: TenantId,
    channel: ChannelId,
) -> StoreResult<BTreeSet<SkuKey>> {
    let skus: Vec<String> =
        sqlx::query_scalar("SELECT sku FROM listings WHERE tenant_id = $1 AND channel_id = $2")
            .bind(tenant.0)
            .bind(channel.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok(skus.into_iter().map(|s| (tenant, s)).collect())
}

pub(crate) async fn claim(
    store: &PgStore,
    lease: &JobLease,
    channel: ChannelId,
    n: u32,
) -> StoreResult<Option<Vec<StockTarget>>> {
    let mut conn = store.pool.acquire().await.map_err(db_err)?;
    // This job must hold its lease, and no older push job of the channel may be running.
    let me: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT j.tenant_id, EXISTS (SELECT 1 FROM jobs o WHERE o.tenant_id = j.tenant_id \
           AND o.unique_key = j.unique_key AND o.state = 'running' AND o.id < j.id) AS twin \
         FROM jobs j WHERE j.id = $1 AND j.lease_owner = $2 AND j.state = 'running' AND j.unique_key = $3",
    )
    .bind(lease.job_id.0)
    .bind(&lease.owner)
    .bind(stock_job_key(channel))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let tenant = match me {
        Some((tenant, false)) => tenant,
        _ => return Ok(None),
    };
    let rows = sqlx::query(&format!(
        "SELECT {TARGET_COLUMNS} FROM stock_targets \
         WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' \
         AND product_id IN (SELECT DISTINCT product_id FROM stock_targets \
           WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' ORDER BY product_id LIMIT $3) \
         ORDER BY product_id, sku"
    ))
    .bind(tenant)
    .bind(channel.0)
    .bind(i64::from(n))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(decode_target)
        .collect::<StoreResult<Vec<_>>>()
        .map(Some)
}

pub(crate) async fn record(
    store: &PgStore,
    tenant: TenantId,
    pushes: &[PushRecord],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if pushes.is_empty() {
        return Ok(());
    }
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    // The targets change under their SKUs' locks, like every other write of them.
    let skus: BTreeSet<SkuKey> = pushes
        .iter()
        .flat_map(|p| p.items.iter().map(|(sku, _, _)| (tenant, sku.clone())))
        .collect();
    lock_stock(&mut tx, &skus, &[]).await?;
    for p in pushes {
        let (outcome, error) = push_outcome_parts(&p.outcome);
        // One row per target (the last value sent for a SKU).
        let sent = pushed_values(&p.items);
        let set = match &p.outcome {
            PushOutcome::Succeeded => {
                "pushed = s.q, pushed_at = $5, attempts = 0, last_error = NULL, \
                 state = CASE WHEN st.desired = s.q THEN 'pushed' ELSE 'pending' END"
            }
            PushOutcome::Retrying { .. } => "attempts = st.attempts + 1, last_error = $11",
            PushOutcome::Failed { .. } => {
                "attempts = st.attempts + 1, last_error = $11, \
                 state = CASE WHEN st.desired = s.q THEN 'failed' ELSE 'pending' END"
            }
            PushOutcome::Waiting { .. } => "last_error = $11",
        };
        // The call, the SKUs it touched and its effect on their targets, in one statement.
        sqlx::query(&format!(
            "WITH p AS ( \
               INSERT INTO stock_pushes (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
               VALUES ($1, $2, $5, $6, $7, $8, $9, $10, $11) RETURNING seq), \
             k AS ( \
               INSERT INTO stock_push_skus (tenant_id, push_seq, sku) \
               SELECT $1, p.seq, u.sku FROM p, UNNEST($3::text[]) AS u (sku)) \
             UPDATE stock_targets st SET {set} \
             FROM UNNEST($3::text[], $4::bigint[]) AS s (sku, q) \
             WHERE st.tenant_id = $1 AND st.channel_id = $2 AND st.sku = s.sku"
        ))
        .bind(tenant.0)
        .bind(p.channel_id.0)
        .bind(sent.keys().copied().collect::<Vec<_>>())
        .bind(sent.values().copied().collect::<Vec<_>>())
        .bind(now)
        .bind(&p.request)
        .bind(push_items_json(&p.items))
        .bind(p.http_status.map(i32::from))
        .bind(i64::try_from(p.duration_ms).unwrap_or(i64::MAX))
        .bind(outcome)
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    tx.commit().await.map_err(db_err)
}

pub(crate) async fn list(
    store: &PgStore,
    tenant: TenantId,
    channel: Option<ChannelId>,
    sku: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<StockPush>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT p.seq, p.channel_id, p.at, p.request, p.items, p.http_status, p.duration_ms, p.outcome, p.error \
         FROM stock_pushes p WHERE p.tenant_id = ",
    );
    q.push_bind(tenant.0);
    if let Some(c) = channel {
        q.push(" AND p.channel_id = ").push_bind(c.0);
    }
    if let Some(s) = sku {
        q.push(" AND p.seq IN (SELECT push_seq FROM stock_push_skus WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND sku = ")
            .push_bind(s.to_owned())
            .push(")");
    }
    if let Some(c) = &page.cursor {
        let c: i64 = c
            .parse()
            .map_err(|_| StoreError::Invalid(format!("cursor {c:?}")))?;
        q.push(" AND p.seq < ").push_bind(c);
    }
    let n = limit(page.limit);
    q.push(" ORDER BY p.seq DESC LIMIT ").push_bind(n);
    let items = q
        .build()
        .fetch_all(&store.pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            Ok(StockPush {
                seq: col(r, "seq")?,
                channel_id: ChannelId(col(r, "channel_id")?),
                at: col(r, "at")?,
                request: col(r, "request")?,
                items: col(r, "items")?,
                http_status: col::<Option<i32>>(r, "http_status")?
                    .and_then(|s| u16::try_from(s).ok()),
                duration_ms: u64::try_from(col::<i64>(r, "duration_ms")?).unwrap_or(0),
                outcome: col(r, "outcome")?,
                error: col(r, "error")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(keyset_page(items, n, |p| p.seq.to_string()))
}
