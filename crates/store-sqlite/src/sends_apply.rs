//! Applying a batch of ERP actions (SQLite) with a constant number of statements:
//! read every order and its sends once, decide in memory in batch order, write each
//! table with one multi-row statement.

use crate::codec::{col, id, pow2_chunks, to_json, ts};
use crate::db_err;
use crate::jobs::insert_jobs;
use crate::orders::{decode as decode_order, COLUMNS as ORDER_COLUMNS};
use crate::sends::{send_job, SEND_COLUMNS};
use chrono::{DateTime, Utc};
use ponte_core::action::{decide, Decision};
use ponte_core::{ChannelId, OrderId, SendId, TenantId};
use ponte_store::{ActionApplied, ActionCommit, NewJob, SendState, StoreResult, StoredOrder};
use serde_json::json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;

/// An order of the batch as the actions before leave it.
struct Current {
    order: StoredOrder,
    external_id: String,
    next_seq: i64,
    blocked: bool,
    changed: bool,
}

/// A status send to insert.
struct NewSend {
    id: SendId,
    tenant: TenantId,
    channel: ChannelId,
    order: OrderId,
    external_id: String,
    seq: i64,
    kind: &'static str,
    action: String,
    state: SendState,
    max_attempts: u32,
}

/// Reads the batch's orders and, per order, the next send `seq` and whether an earlier
/// send is failed or blocked.
async fn load(
    conn: &mut SqliteConnection,
    batch: &[ActionCommit],
) -> StoreResult<HashMap<OrderId, Current>> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {ORDER_COLUMNS}, external_id FROM orders WHERE (tenant_id, id) IN (VALUES "
    ));
    let mut sep = q.separated(", ");
    for c in batch {
        sep.push("(")
            .push_bind_unseparated(c.tenant_id.to_string())
            .push_unseparated(", ")
            .push_bind_unseparated(c.order_id.to_string())
            .push_unseparated(")");
    }
    q.push(")");
    let mut current = HashMap::new();
    for r in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
        let order = decode_order(&r)?;
        current.insert(
            order.id,
            Current {
                external_id: col(&r, "external_id")?,
                order,
                next_seq: 1,
                blocked: false,
                changed: false,
            },
        );
    }
    if current.is_empty() {
        return Ok(current);
    }
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT order_id, MAX(seq) + 1 AS next_seq, MAX(state IN ('failed', 'blocked')) AS blocked \
         FROM status_sends WHERE order_id IN (",
    );
    let mut sep = q.separated(", ");
    for oid in current.keys() {
        sep.push_bind(oid.to_string());
    }
    q.push(") GROUP BY order_id");
    for r in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
        let oid: OrderId = id(col(&r, "order_id")?)?;
        if let Some(cur) = current.get_mut(&oid) {
            cur.next_seq = col(&r, "next_seq")?;
            cur.blocked = col::<i64>(&r, "blocked")? != 0;
        }
    }
    Ok(current)
}

/// Applies the batch inside the caller's transaction.
pub(crate) async fn apply_actions(
    conn: &mut SqliteConnection,
    batch: &[ActionCommit],
    now: DateTime<Utc>,
) -> StoreResult<Vec<ActionApplied>> {
    let mut current = load(conn, batch).await?;
    let mut out = Vec::with_capacity(batch.len());
    let mut sends: Vec<NewSend> = vec![];
    let mut docs: HashMap<(TenantId, OrderId), &str> = HashMap::new();
    let mut notes: Vec<(TenantId, ChannelId, String, &'static str, String)> = vec![];
    for c in batch {
        let Some(cur) = current
            .get_mut(&c.order_id)
            .filter(|cur| cur.order.tenant_id == c.tenant_id)
        else {
            out.push(ActionApplied::NotFound);
            continue;
        };
        let from = cur.order.data.status;
        let to = match decide(from, &cur.order.fulfilment, &c.action) {
            Err(e) => {
                out.push(ActionApplied::Refused(e));
                continue;
            }
            Ok(Decision::AlreadyDone) => {
                out.push(ActionApplied::AlreadyDone(Box::new(cur.order.clone())));
                continue;
            }
            Ok(Decision::Apply { status }) => status,
        };
        cur.order.data.status = to;
        cur.order.fulfilment.record(c.action.clone());
        cur.order.updated_at = now;
        cur.changed = true;
        if let Some(xml) = &c.xml {
            docs.insert((c.tenant_id, c.order_id), xml);
        }
        let channel = cur.order.channel_id;
        let detail = json!({"action": c.action, "from": from, "to": to});
        notes.push((
            c.tenant_id,
            channel,
            cur.external_id.clone(),
            "erp_action",
            detail.to_string(),
        ));
        let mut queued = None;
        if let Some(max_attempts) = c.send_max_attempts {
            let send = NewSend {
                id: SendId::new(),
                tenant: c.tenant_id,
                channel,
                order: c.order_id,
                external_id: cur.external_id.clone(),
                seq: cur.next_seq,
                kind: c.action.kind().as_str(),
                action: to_json(&c.action)?,
                state: if cur.blocked {
                    SendState::Blocked
                } else {
                    SendState::Pending
                },
                max_attempts,
            };
            cur.next_seq += 1;
            let detail = json!({"send_id": send.id, "kind": send.kind, "state": send.state});
            notes.push((
                c.tenant_id,
                channel,
                cur.external_id.clone(),
                "status_send_queued",
                detail.to_string(),
            ));
            queued = Some(send.id);
            sends.push(send);
        }
        out.push(ActionApplied::Applied {
            order: Box::new(cur.order.clone()),
            send: queued,
        });
    }
    write_orders(conn, current.values().filter(|c| c.changed).collect()).await?;
    write_documents(conn, &docs, now).await?;
    write_sends(conn, &sends, now).await?;
    let mut jobs: Vec<(TenantId, NewJob)> = vec![];
    let mut seen = std::collections::HashSet::new();
    for s in sends.iter().filter(|s| s.state == SendState::Pending) {
        if seen.insert(s.order) {
            jobs.push(send_job(s.tenant, s.channel, s.order, now));
        }
    }
    let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|(t, j)| (*t, j)).collect();
    insert_jobs(conn, &refs).await?;
    write_notes(conn, &notes, now).await?;
    Ok(out)
}

async fn write_orders(conn: &mut SqliteConnection, changed: Vec<&Current>) -> StoreResult<()> {
    let rows = changed
        .into_iter()
        .map(|c| {
            Ok((
                c.order.tenant_id.to_string(),
                c.order.id.to_string(),
                c.order.data.status.as_str(),
                to_json(&c.order.data)?,
                to_json(&c.order.fulfilment)?,
                ts(c.order.updated_at),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    for chunk in pow2_chunks(&rows) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("WITH v(t, i, st, d, f, u) AS (");
        q.push_values(chunk, |mut b, r| {
            b.push_bind(&r.0)
                .push_bind(&r.1)
                .push_bind(r.2)
                .push_bind(&r.3)
                .push_bind(&r.4)
                .push_bind(r.5);
        });
        q.push(
            ") UPDATE orders SET status = v.st, data = v.d, fulfilment = v.f, updated_at = v.u \
             FROM v WHERE orders.tenant_id = v.t AND orders.id = v.i",
        );
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

async fn write_documents(
    conn: &mut SqliteConnection,
    docs: &HashMap<(TenantId, OrderId), &str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let rows: Vec<_> = docs.iter().collect();
    for chunk in pow2_chunks(&rows) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO order_documents (tenant_id, order_id, kind, content, created_at) ",
        );
        q.push_values(chunk, |mut b, ((t, o), xml)| {
            b.push_bind(t.to_string())
                .push_bind(o.to_string())
                .push_bind("nfe_xml")
                .push_bind(**xml)
                .push_bind(ts(now));
        });
        q.push(
            " ON CONFLICT (tenant_id, order_id, kind) DO UPDATE SET content = excluded.content, \
             created_at = excluded.created_at",
        );
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

async fn write_sends(
    conn: &mut SqliteConnection,
    sends: &[NewSend],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in pow2_chunks(sends) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO status_sends ({SEND_COLUMNS}) "));
        q.push_values(chunk, |mut b, s| {
            b.push_bind(s.tenant.to_string())
                .push_bind(s.id.to_string())
                .push_bind(s.channel.to_string())
                .push_bind(s.order.to_string())
                .push_bind(&s.external_id)
                .push_bind(s.seq)
                .push_bind(s.kind)
                .push_bind(&s.action)
                .push_bind(s.state.as_str())
                .push_bind(0_i64)
                .push_bind(i64::from(s.max_attempts))
                .push_bind(None::<String>)
                .push_bind(None::<String>)
                .push_bind(ts(now))
                .push_bind(ts(now));
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

async fn write_notes(
    conn: &mut SqliteConnection,
    notes: &[(TenantId, ChannelId, String, &'static str, String)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in pow2_chunks(notes) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) ",
        );
        q.push_values(chunk, |mut b, n| {
            b.push_bind(n.0.to_string())
                .push_bind(n.1.to_string())
                .push_bind(&n.2)
                .push_bind(ts(now))
                .push_bind(n.3)
                .push_bind(&n.4);
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}
