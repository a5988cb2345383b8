//! Applying an ERP action (the order, its document, its send and job) and resending
//! failed sends.

use crate::codec::{col, order_lock_key};
use crate::db_err;
use crate::jobs::insert_jobs;
use crate::orders::{decode as decode_order, COLUMNS as ORDER_COLUMNS};
use crate::sends::{lock_keys, send_job, to_db, to_json};
use crate::timeline::Timeline;
use chrono::{DateTime, Utc};
use ponte_core::action::{decide, Decision};
use ponte_core::{ChannelId, OrderId, SendId, TenantId};
use ponte_store::{ActionApplied, ActionCommit, NewJob, ResendSelector, SendState, StoreResult};
use serde_json::json;
use sqlx::postgres::PgPool;
use sqlx::types::Json;
use sqlx::PgConnection;
use std::collections::HashSet;
use uuid::Uuid;

/// The kind of the stored NF-e XML in `order_documents`.
const NFE_XML: &str = "nfe_xml";

/// Applies a batch of ERP actions in one transaction: every order concerned is locked
/// first (sorted: no deadlocks with imports or other batches), then each action is
/// decided in turn against what the ones before it left.
pub(crate) async fn apply_actions(
    pool: &PgPool,
    batch: &[ActionCommit],
    now: DateTime<Utc>,
) -> StoreResult<Vec<ActionApplied>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    let tenants: Vec<Uuid> = batch.iter().map(|c| c.tenant_id.0).collect();
    let ids: Vec<Uuid> = batch.iter().map(|c| c.order_id.0).collect();
    let rows = sqlx::query(
        "SELECT o.tenant_id, o.channel_id, o.external_id FROM orders o \
         JOIN UNNEST($1::uuid[], $2::uuid[]) AS k(t, i) ON o.tenant_id = k.t AND o.id = k.i",
    )
    .bind(&tenants)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in &rows {
        keys.push(order_lock_key(
            col(r, "tenant_id")?,
            col(r, "channel_id")?,
            &col::<String>(r, "external_id")?,
        ));
    }
    // Serialized with these orders' imports: the statuses read below are the latest.
    lock_keys(&mut tx, keys).await?;
    let mut notes = Timeline::default();
    let mut out = Vec::with_capacity(batch.len());
    for c in batch {
        out.push(apply_one(&mut tx, &mut notes, c, now).await?);
    }
    notes.write(&mut tx).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}

async fn apply_one(
    tx: &mut PgConnection,
    notes: &mut Timeline,
    c: &ActionCommit,
    now: DateTime<Utc>,
) -> StoreResult<ActionApplied> {
    let t = c.tenant_id.0;
    let found =
        sqlx::query("SELECT channel_id, external_id FROM orders WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(c.order_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    let Some(found) = found else {
        return Ok(ActionApplied::NotFound);
    };
    let channel: Uuid = col(&found, "channel_id")?;
    let external_id: String = col(&found, "external_id")?;
    let row = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(t)
    .bind(c.order_id.0)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let order = decode_order(&row)?;
    let from = order.data.status;
    let to = match decide(from, &order.fulfilment, &c.action) {
        Err(e) => return Ok(ActionApplied::Refused(e)),
        Ok(Decision::AlreadyDone) => return Ok(ActionApplied::AlreadyDone(Box::new(order))),
        Ok(Decision::Apply { status }) => status,
    };
    let mut data = order.data;
    data.status = to;
    let mut fulfilment = order.fulfilment;
    fulfilment.record(c.action.clone());
    let row = sqlx::query(&format!(
        "UPDATE orders SET status = $1, data = $2, fulfilment = $3, updated_at = $4 \
         WHERE tenant_id = $5 AND id = $6 RETURNING {ORDER_COLUMNS}"
    ))
    .bind(to.as_str())
    .bind(Json(&data))
    .bind(Json(&fulfilment))
    .bind(now)
    .bind(t)
    .bind(c.order_id.0)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let updated = decode_order(&row)?;
    if let Some(xml) = &c.xml {
        sqlx::query(
            "INSERT INTO order_documents (tenant_id, order_id, kind, content, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, order_id, kind) \
             DO UPDATE SET content = EXCLUDED.content, created_at = EXCLUDED.created_at",
        )
        .bind(t)
        .bind(c.order_id.0)
        .bind(NFE_XML)
        .bind(xml)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    notes.add(
        t,
        channel,
        &external_id,
        now,
        "erp_action",
        json!({ "action": to_json(&c.action)?, "from": from, "to": to }),
    );
    let send = match c.send_max_attempts {
        None => None,
        Some(max) => {
            let id = SendId::new();
            // Behind a failed or blocked send of the order, it waits (without a job) for
            // that one's resend.
            let state: String = sqlx::query_scalar(
                "INSERT INTO status_sends (tenant_id, id, channel_id, order_id, external_id, seq, kind, action, \
                   state, attempts_used, max_attempts, created_at, updated_at) \
                 SELECT $1, $2, $3, $4, $5, COALESCE(MAX(seq), 0) + 1, $6, $7, \
                   CASE WHEN bool_or(state IN ('failed', 'blocked')) THEN 'blocked' ELSE 'pending' END, \
                   0, $8, $9, $9 \
                 FROM status_sends WHERE tenant_id = $1 AND order_id = $4 RETURNING state",
            )
            .bind(t)
            .bind(id.0)
            .bind(channel)
            .bind(c.order_id.0)
            .bind(&external_id)
            .bind(c.action.kind().as_str())
            .bind(Json(&c.action))
            .bind(to_db(max))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            if state == SendState::Pending.as_str() {
                let job = send_job(ChannelId(channel), c.order_id, now)?;
                insert_jobs(tx, &[(c.tenant_id, &job)]).await?;
            }
            notes.add(
                t,
                channel,
                &external_id,
                now,
                "status_send_queued",
                json!({ "send_id": id, "kind": c.action.kind().as_str(), "state": state }),
            );
            Some(id)
        }
    };
    Ok(ActionApplied::Applied {
        order: Box::new(updated),
        send,
    })
}

pub(crate) async fn resend(
    pool: &PgPool,
    tenant: TenantId,
    selector: &ResendSelector,
    now: DateTime<Utc>,
) -> StoreResult<Vec<SendId>> {
    let t = tenant.0;
    let mut tx = pool.begin().await.map_err(db_err)?;
    let (ids, channel): (Option<Vec<Uuid>>, Option<Uuid>) = match selector {
        ResendSelector::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
        ResendSelector::Ids(ids) => (Some(ids.iter().map(|i| i.0).collect()), None),
        ResendSelector::AllFailed(c) => (None, Some(c.0)),
    };
    let cond = "($2::uuid[] IS NULL OR id = ANY($2)) AND ($3::uuid IS NULL OR channel_id = $3)";
    // The orders concerned, to lock them; the state is checked again under the locks.
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT channel_id, external_id FROM status_sends \
         WHERE tenant_id = $1 AND state = 'failed' AND {cond}"
    ))
    .bind(t)
    .bind(&ids)
    .bind(channel)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in &rows {
        keys.push(order_lock_key(
            t,
            col(r, "channel_id")?,
            &col::<String>(r, "external_id")?,
        ));
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    lock_keys(&mut tx, keys).await?;
    let rows = sqlx::query(&format!(
        "UPDATE status_sends SET state = 'pending', attempts_used = 0, updated_at = $4 \
         WHERE tenant_id = $1 AND state = 'failed' AND {cond} \
         RETURNING id, channel_id, order_id"
    ))
    .bind(t)
    .bind(&ids)
    .bind(channel)
    .bind(now)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut resent: Vec<SendId> = Vec::with_capacity(rows.len());
    let mut orders: Vec<(ChannelId, OrderId)> = Vec::new();
    let mut seen = HashSet::new();
    for r in &rows {
        resent.push(SendId(col(r, "id")?));
        let o = (
            ChannelId(col(r, "channel_id")?),
            OrderId(col(r, "order_id")?),
        );
        if seen.insert(o) {
            orders.push(o);
        }
    }
    // The sends they held back go too (unless another send of the order still fails).
    let order_ids: Vec<Uuid> = orders.iter().map(|o| o.1 .0).collect();
    sqlx::query(
        "UPDATE status_sends s SET state = 'pending', updated_at = $3 \
         WHERE s.tenant_id = $1 AND s.order_id = ANY($2) AND s.state = 'blocked' \
           AND NOT EXISTS (SELECT 1 FROM status_sends f WHERE f.tenant_id = s.tenant_id \
                           AND f.order_id = s.order_id AND f.state = 'failed')",
    )
    .bind(t)
    .bind(&order_ids)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let jobs = orders
        .iter()
        .map(|(c, o)| send_job(*c, *o, now))
        .collect::<StoreResult<Vec<_>>>()?;
    let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|j| (tenant, j)).collect();
    // Coalesced with a pending job of the order, which becomes due now; notifies.
    insert_jobs(&mut tx, &refs).await?;
    tx.commit().await.map_err(db_err)?;
    resent.sort_unstable();
    Ok(resent)
}
