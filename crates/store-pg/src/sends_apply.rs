//! Applying ERP actions (the orders, their documents, sends and jobs) and resending
//! failed sends.
//!
//! A batch of actions costs a constant number of statements whatever its size: the
//! orders are read, locked and read again (with their sends' summary), every action is
//! decided in memory (each against what the ones before it left), and each table is
//! written once with arrays.

use crate::codec::col;
use crate::db_err;
use crate::jobs::insert_jobs;
use crate::orders::{decode as decode_order, COLUMNS as ORDER_COLUMNS};
use crate::sends::{lock_keys, order_keys, send_job, to_db, to_json};
use crate::timeline::Timeline;
use chrono::{DateTime, SubsecRound, Utc};
use ponte_core::action::{decide, Decision};
use ponte_core::{ChannelId, OrderId, SendId, TenantId};
use ponte_store::{
    ActionApplied, ActionCommit, NewJob, ResendSelector, SendState, StoreResult, StoredOrder,
};
use serde_json::json;
use sqlx::postgres::PgPool;
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The kind of the stored NF-e XML in `order_documents`.
const NFE_XML: &str = "nfe_xml";

/// An order's key: (tenant, id).
type Key = (Uuid, Uuid);

/// An order of the batch, as the actions decided so far leave it.
struct Current<'a> {
    /// The order (status, fulfilment and `updated_at` as last applied).
    order: StoredOrder,
    /// Its platform id.
    external_id: String,
    /// Whether an action of the batch changed it.
    changed: bool,
    /// The NF-e XML to store (the last one of its applied actions).
    xml: Option<&'a str>,
    /// Its highest send `seq` (0: none).
    seq: i64,
    /// Whether one of its sends is failed or blocked: new sends wait behind it.
    held: bool,
}

/// The status sends a batch creates, column by column.
#[derive(Default)]
struct NewSends {
    tenants: Vec<Uuid>,
    ids: Vec<Uuid>,
    channels: Vec<Uuid>,
    orders: Vec<Uuid>,
    external_ids: Vec<String>,
    seqs: Vec<i64>,
    kinds: Vec<&'static str>,
    actions: Vec<serde_json::Value>,
    states: Vec<&'static str>,
    max_attempts: Vec<i32>,
}

/// Everything a batch writes, besides the orders themselves.
#[derive(Default)]
struct Writes {
    sends: NewSends,
    jobs: Vec<(TenantId, NewJob)>,
    notes: Timeline,
}

/// Applies a batch of ERP actions in one transaction: every order concerned is locked
/// first (sorted: no deadlocks with imports or other batches) and read again, then each
/// action is decided in turn against what the ones before it left.
pub(crate) async fn apply_actions(
    pool: &PgPool,
    batch: &[ActionCommit],
    now: DateTime<Utc>,
) -> StoreResult<Vec<ActionApplied>> {
    if batch.is_empty() {
        return Ok(Vec::new());
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
    let mut orders = HashMap::new();
    if lock_orders(&mut tx, &tenants, &ids).await? {
        orders = read_orders(&mut tx, &tenants, &ids).await?;
    }
    let mut writes = Writes::default();
    let mut out = Vec::with_capacity(batch.len());
    for c in batch {
        out.push(decide_one(&mut orders, &mut writes, c, now)?);
    }
    write_orders(&mut tx, &orders, now).await?;
    writes.write(&mut tx, now).await?;
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
    tx.commit().await.map_err(db_err)?;
    Ok(out)
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
async fn read_orders<'a>(
    conn: &mut PgConnection,
    tenants: &[Uuid],
    ids: &[Uuid],
) -> StoreResult<HashMap<Key, Current<'a>>> {
    let rows = sqlx::query(&format!(
        "SELECT {ORDER_COLUMNS}, external_id, \
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
    let mut orders = HashMap::with_capacity(rows.len());
    for r in &rows {
        let order = decode_order(r)?;
        let key = (order.tenant_id.0, order.id.0);
        let current = Current {
            order,
            external_id: col(r, "external_id")?,
            changed: false,
            xml: None,
            seq: col(r, "last_seq")?,
            held: col(r, "held")?,
        };
        orders.insert(key, current);
    }
    Ok(orders)
}

/// Decides one action against its order as the actions before it left it, and plans
/// what it writes.
fn decide_one<'a>(
    orders: &mut HashMap<Key, Current<'a>>,
    writes: &mut Writes,
    c: &'a ActionCommit,
    now: DateTime<Utc>,
) -> StoreResult<ActionApplied> {
    let t = c.tenant_id.0;
    let Some(cur) = orders.get_mut(&(t, c.order_id.0)) else {
        return Ok(ActionApplied::NotFound);
    };
    let from = cur.order.data.status;
    let to = match decide(from, &cur.order.fulfilment, &c.action) {
        Err(e) => return Ok(ActionApplied::Refused(e)),
        Ok(Decision::AlreadyDone) => {
            return Ok(ActionApplied::AlreadyDone(Box::new(cur.order.clone())))
        }
        Ok(Decision::Apply { status }) => status,
    };
    cur.order.data.status = to;
    cur.order.fulfilment.record(c.action.clone());
    cur.order.updated_at = now;
    cur.changed = true;
    if let Some(xml) = &c.xml {
        cur.xml = Some(xml);
    }
    let channel = cur.order.channel_id;
    let action = to_json(&c.action)?;
    let detail = json!({ "action": action, "from": from, "to": to });
    let ext = &cur.external_id;
    writes
        .notes
        .add(t, channel.0, ext, now, "erp_action", detail);
    let send = match c.send_max_attempts {
        None => None,
        Some(max) => Some(writes.add_send(cur, c, max, action, now)?),
    };
    Ok(ActionApplied::Applied {
        order: Box::new(cur.order.clone()),
        send,
    })
}

impl Writes {
    /// Plans the status send of an applied action (the order's next `seq`), its job and
    /// its timeline entry.
    fn add_send(
        &mut self,
        cur: &mut Current<'_>,
        c: &ActionCommit,
        max: u32,
        action: serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<SendId> {
        let (t, channel, ext) = (c.tenant_id.0, cur.order.channel_id, &cur.external_id);
        let id = SendId::new();
        cur.seq += 1;
        // Behind a failed or blocked send of the order, it waits (without a job) for that
        // one's resend.
        let state = if cur.held {
            SendState::Blocked
        } else {
            // Several of one order's: coalesced by `insert_jobs`.
            let job = send_job(channel, c.order_id, now)?;
            self.jobs.push((c.tenant_id, job));
            SendState::Pending
        };
        let kind = c.action.kind().as_str();
        let s = &mut self.sends;
        s.tenants.push(t);
        s.ids.push(id.0);
        s.channels.push(channel.0);
        s.orders.push(c.order_id.0);
        s.external_ids.push(ext.clone());
        s.seqs.push(cur.seq);
        s.kinds.push(kind);
        s.actions.push(action);
        s.states.push(state.as_str());
        s.max_attempts.push(to_db(max));
        let detail = json!({ "send_id": id, "kind": kind, "state": state.as_str() });
        self.notes
            .add(t, channel.0, ext, now, "status_send_queued", detail);
        Ok(id)
    }

    /// Writes the sends, jobs (which notify the workers) and timeline entries.
    async fn write(self, conn: &mut PgConnection, now: DateTime<Utc>) -> StoreResult<()> {
        self.sends.write(conn, now).await?;
        let jobs: Vec<(TenantId, &NewJob)> = self.jobs.iter().map(|(t, j)| (*t, j)).collect();
        insert_jobs(conn, &jobs).await?;
        self.notes.write(conn).await
    }
}

/// Writes every changed order (final status, data, fulfilment) and the NF-e XML of
/// those that got one, in one statement (one row per order, in key order).
async fn write_orders(
    conn: &mut PgConnection,
    orders: &HashMap<Key, Current<'_>>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut rows: Vec<_> = orders.iter().filter(|(_, o)| o.changed).collect();
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_unstable_by_key(|(k, _)| **k);
    let (mut tenants, mut ids, mut statuses, mut xml) = (vec![], vec![], vec![], vec![]);
    let (mut data, mut fulfilment) = (vec![], vec![]);
    for (k, o) in rows {
        tenants.push(k.0);
        ids.push(k.1);
        statuses.push(o.order.data.status.as_str());
        data.push(to_json(&o.order.data)?);
        fulfilment.push(to_json(&o.order.fulfilment)?);
        xml.push(o.xml);
    }
    sqlx::query(
        "WITH u AS (SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], \
                      $5::jsonb[], $6::text[]) AS u (t, i, status, data, fulfilment, xml)), \
         changed AS (UPDATE orders o SET status = u.status, data = u.data, \
                       fulfilment = u.fulfilment, updated_at = $7 \
                     FROM u WHERE o.tenant_id = u.t AND o.id = u.i) \
         INSERT INTO order_documents (tenant_id, order_id, kind, content, created_at) \
         SELECT t, i, $8, xml, $7 FROM u WHERE xml IS NOT NULL \
         ON CONFLICT (tenant_id, order_id, kind) \
         DO UPDATE SET content = EXCLUDED.content, created_at = EXCLUDED.created_at",
    )
    .bind(tenants)
    .bind(ids)
    .bind(statuses)
    .bind(data)
    .bind(fulfilment)
    .bind(xml)
    .bind(now)
    .bind(NFE_XML)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

impl NewSends {
    /// Inserts the sends.
    async fn write(self, conn: &mut PgConnection, now: DateTime<Utc>) -> StoreResult<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO status_sends (tenant_id, id, channel_id, order_id, external_id, seq, \
               kind, action, state, attempts_used, max_attempts, created_at, updated_at) \
             SELECT t, id, ch, o, ext, seq, kind, action, state, 0, max, $11, $11 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], \
               $6::bigint[], $7::text[], $8::jsonb[], $9::text[], $10::integer[]) \
               AS u (t, id, ch, o, ext, seq, kind, action, state, max)",
        )
        .bind(self.tenants)
        .bind(self.ids)
        .bind(self.channels)
        .bind(self.orders)
        .bind(self.external_ids)
        .bind(self.seqs)
        .bind(self.kinds)
        .bind(self.actions)
        .bind(self.states)
        .bind(self.max_attempts)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }
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
