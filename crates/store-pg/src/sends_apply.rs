//! Applying ERP actions (the orders, their documents, sends and jobs) and resending
//! failed sends.
//!
//! A batch of actions costs a constant number of statements whatever its size: the
//! orders are read, locked and read again (with their sends' summary), every action is
//! decided in memory (each against what the ones before it left), and each table is
//! written once with arrays.

use crate::claim::Claim;
use crate::codec::col;
use crate::db_err;
use crate::jobs::insert_jobs;
use crate::orders::{decode as decode_order, COLUMNS_BUT_RAW};
use crate::sends::{lock_keys, order_keys, to_db, to_json};
use crate::timeline::write_notes;
use chrono::{DateTime, SubsecRound, Utc};
use ponte_core::{ChannelId, OrderId, SendId, TenantId};
use ponte_store::claim::{start_queued, Claimed, StartSends};
use ponte_store::send_plan::{plan_actions, send_job, ActionTarget, ActionTargets, OrderChange};
use ponte_store::{
    ActionApplied, ActionCommit, ActionsApplied, NewJob, ResendSelector, StatusSend, StoreResult,
};
use sqlx::postgres::PgPool;
use sqlx::PgConnection;
use std::collections::HashSet;
use uuid::Uuid;

/// The kind of the stored NF-e XML in `order_documents`.
const NFE_XML: &str = "nfe_xml";

/// Applies a batch of ERP actions in one transaction: every order concerned is locked
/// first (sorted: no deadlocks with imports or other batches) and read again, then each
/// action is decided in turn against what the ones before it left.
pub(crate) async fn apply_actions(
    pool: &PgPool,
    batch: &[ActionCommit],
    now: DateTime<Utc>,
    start: Option<&StartSends<'_>>,
) -> StoreResult<ActionsApplied> {
    if batch.is_empty() {
        return Ok(ActionsApplied::default());
    }
    // As stored (microseconds), so the orders returned are those a read would give.
    let now = now.trunc_subsecs(6);
    let mut seen = HashSet::new();
    let (tenants, ids): (Vec<Uuid>, Vec<Uuid>) = batch
        .iter()
        .map(|c| (c.tenant_id.0, c.order_id.0))
        .filter(|k| seen.insert(*k))
        .unzip();
    let mut tx = pool.begin().await.map_err(db_err)?;
    let mut orders = ActionTargets::new();
    if lock_orders(&mut tx, &tenants, &ids).await? {
        orders = read_orders(&mut tx, &tenants, &ids).await?;
    }
    let plan = plan_actions(batch, orders, now);
    let out = plan.applied;
    write_orders(&mut tx, &plan.orders, &plan.documents, now).await?;
    write_sends(&mut tx, &plan.sends).await?;
    let jobs: Vec<(TenantId, &NewJob)> = plan.jobs.iter().map(|(t, j)| (*t, j)).collect();
    // Several of one order's are coalesced by `insert_jobs`, which notifies the workers.
    insert_jobs(&mut tx, &jobs).await?;
    // Its sends start here, under the orders' locks: no claim transaction for them.
    let started = match start {
        Some(s) => start_queued(&mut Claim(&mut tx), &plan.jobs, s, now).await?,
        None => Claimed::default(),
    };
    write_notes(&mut tx, &plan.notes).await?;
    // What the applied actions do to stock (an invoice debits, a cancellation gives
    // back), under the orders' locks taken above.
    let touched: Vec<(TenantId, OrderId)> = out
        .iter()
        .filter_map(|a| match a {
            ActionApplied::Applied { order, .. } => Some((order.tenant_id, order.id)),
            _ => None,
        })
        .collect();
    crate::stock_orders::apply_order_effects(&mut tx, &touched, now).await?;
    // Last: the events' counter row stays locked only until the commit.
    crate::events::write_events(&mut tx, plan.events.as_slice()).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(ActionsApplied {
        applied: out,
        started,
    })
}

/// Takes the advisory locks (the imports' ones) of the orders of these keys that exist;
/// whether there are any.
async fn lock_orders(conn: &mut PgConnection, tenants: &[Uuid], ids: &[Uuid]) -> StoreResult<bool> {
    let rows = sqlx::query(
        "SELECT o.tenant_id, o.channel_id, o.external_id FROM orders o \
         JOIN UNNEST($1::uuid[], $2::uuid[]) AS k(t, i) ON o.tenant_id = k.t AND o.id = k.i",
    )
    .bind(tenants)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let keys = order_keys(&rows)?;
    // Serialized with these orders' imports: what is read next is the latest.
    lock_keys(conn, keys).await?;
    Ok(!rows.is_empty())
}

/// The orders of these keys that exist, by key, each with its highest send `seq` and
/// whether one of its sends holds the next ones back (failed or blocked).
async fn read_orders(
    conn: &mut PgConnection,
    tenants: &[Uuid],
    ids: &[Uuid],
) -> StoreResult<ActionTargets> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS_BUT_RAW}, 'null'::jsonb AS raw, external_id, \
           (SELECT COALESCE(MAX(s.seq), 0) FROM status_sends s \
            WHERE s.tenant_id = o.tenant_id AND s.order_id = o.id) AS last_seq, \
           EXISTS (SELECT 1 FROM status_sends s WHERE s.tenant_id = o.tenant_id \
                   AND s.order_id = o.id AND s.state IN ('failed', 'blocked')) AS held \
         FROM orders o \
         JOIN UNNEST($1::uuid[], $2::uuid[]) AS k(t, i) ON o.tenant_id = k.t AND o.id = k.i"
    ))
    .bind(tenants)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut orders = ActionTargets::with_capacity(rows.len());
    for r in &rows {
        let order = decode_order(r)?;
        let key = (order.tenant_id, order.id);
        let target = ActionTarget {
            order,
            external_id: col(r, "external_id")?,
            last_seq: col(r, "last_seq")?,
            held: col(r, "held")?,
        };
        orders.insert(key, target);
    }
    Ok(orders)
}

/// Writes what the batch changed of each order (status, also in its data; fulfilment)
/// and the NF-e XML of those that got one, in one statement (one row per order, in key
/// order). The rest of the data is not sent again.
async fn write_orders(
    conn: &mut PgConnection,
    orders: &[OrderChange],
    documents: &[(TenantId, OrderId, String)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut rows: Vec<&OrderChange> = orders.iter().collect();
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_unstable_by_key(|o| (o.tenant_id, o.id));
    let (mut tenants, mut ids, mut statuses, mut xml) = (vec![], vec![], vec![], vec![]);
    let mut fulfilment = vec![];
    for o in rows {
        tenants.push(o.tenant_id.0);
        ids.push(o.id.0);
        statuses.push(o.status.as_str());
        fulfilment.push(to_json(&o.fulfilment)?);
        let doc = documents.iter().find(|d| d.0 == o.tenant_id && d.1 == o.id);
        xml.push(doc.map(|d| d.2.as_str()));
    }
    sqlx::query(
        "WITH u AS (SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], \
                      $5::text[]) AS u (t, i, status, fulfilment, xml)), \
         changed AS (UPDATE orders o SET status = u.status, \
                       data = jsonb_set(o.data, '{status}', to_jsonb(u.status)), \
                       fulfilment = u.fulfilment, updated_at = $6 \
                     FROM u WHERE o.tenant_id = u.t AND o.id = u.i) \
         INSERT INTO order_documents (tenant_id, order_id, kind, content, created_at) \
         SELECT t, i, $7, xml, $6 FROM u WHERE xml IS NOT NULL \
         ON CONFLICT (tenant_id, order_id, kind) \
         DO UPDATE SET content = EXCLUDED.content, created_at = EXCLUDED.created_at",
    )
    .bind(tenants)
    .bind(ids)
    .bind(statuses)
    .bind(fulfilment)
    .bind(xml)
    .bind(now)
    .bind(NFE_XML)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Inserts the new sends.
async fn write_sends(conn: &mut PgConnection, sends: &[StatusSend]) -> StoreResult<()> {
    if sends.is_empty() {
        return Ok(());
    }
    let actions = sends
        .iter()
        .map(|s| to_json(&s.action))
        .collect::<StoreResult<Vec<_>>>()?;
    sqlx::query(
        "INSERT INTO status_sends (tenant_id, id, channel_id, order_id, external_id, seq, \
           kind, action, state, attempts_used, max_attempts, created_at, updated_at) \
         SELECT t, id, ch, o, ext, seq, kind, action, state, 0, max, at, at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], \
           $6::bigint[], $7::text[], $8::jsonb[], $9::text[], $10::integer[], $11::timestamptz[]) \
           AS u (t, id, ch, o, ext, seq, kind, action, state, max, at)",
    )
    .bind(sends.iter().map(|s| s.tenant_id.0).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.id.0).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.channel_id.0).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.order_id.0).collect::<Vec<_>>())
    .bind(
        sends
            .iter()
            .map(|s| s.external_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(sends.iter().map(|s| s.seq).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.kind().as_str()).collect::<Vec<_>>())
    .bind(actions)
    .bind(sends.iter().map(|s| s.state.as_str()).collect::<Vec<_>>())
    .bind(
        sends
            .iter()
            .map(|s| to_db(s.max_attempts))
            .collect::<Vec<_>>(),
    )
    .bind(sends.iter().map(|s| s.created_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Makes failed sends pending again (and the sends they held back), and enqueues their
/// orders' jobs.
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
        "SELECT DISTINCT tenant_id, channel_id, external_id FROM status_sends \
         WHERE tenant_id = $1 AND state = 'failed' AND {cond}"
    ))
    .bind(t)
    .bind(&ids)
    .bind(channel)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let keys = order_keys(&rows)?;
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
    let jobs: Vec<NewJob> = orders.iter().map(|(c, o)| send_job(*c, *o, now)).collect();
    let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|j| (tenant, j)).collect();
    // Coalesced with a pending job of the order, which becomes due now; notifies.
    insert_jobs(&mut tx, &refs).await?;
    tx.commit().await.map_err(db_err)?;
    resent.sort_unstable();
    Ok(resent)
}
