//! Applying a batch of ERP actions (SQLite) with a constant number of statements:
//! read every order and its sends once, decide with `ponte_store::send_plan`, write
//! each table with one multi-row statement.

use crate::codec::{col, id, pow2_chunks, to_json, ts};
use crate::db_err;
use crate::jobs::insert_jobs;
use crate::orders::{decode as decode_order, COLUMNS as ORDER_COLUMNS};
use crate::sends::SEND_COLUMNS;
use crate::timeline::write_notes;
use chrono::{DateTime, Utc};
use ponte_core::{OrderId, TenantId};
use ponte_store::send_plan::{plan_actions, ActionTarget, ActionTargets};
use ponte_store::{ActionApplied, ActionCommit, NewJob, StatusSend, StoreResult, StoredOrder};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// Reads the batch's orders and, per order, the next send `seq` and whether an earlier
/// send is failed or blocked.
async fn load(conn: &mut SqliteConnection, batch: &[ActionCommit]) -> StoreResult<ActionTargets> {
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
    let mut current = ActionTargets::new();
    for r in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
        let order = decode_order(&r)?;
        let target = ActionTarget {
            external_id: col(&r, "external_id")?,
            order,
            last_seq: 0,
            held: false,
        };
        current.insert((target.order.tenant_id, target.order.id), target);
    }
    if current.is_empty() {
        return Ok(current);
    }
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT tenant_id, order_id, MAX(seq) AS last_seq, MAX(state IN ('failed', 'blocked')) AS held \
         FROM status_sends WHERE order_id IN (",
    );
    let mut sep = q.separated(", ");
    for (_, oid) in current.keys() {
        sep.push_bind(oid.to_string());
    }
    q.push(") GROUP BY tenant_id, order_id");
    for r in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
        let key: (TenantId, OrderId) = (id(col(&r, "tenant_id")?)?, id(col(&r, "order_id")?)?);
        if let Some(cur) = current.get_mut(&key) {
            cur.last_seq = col(&r, "last_seq")?;
            cur.held = col::<i64>(&r, "held")? != 0;
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
    let current = load(conn, batch).await?;
    let plan = plan_actions(batch, current, now);
    write_orders(conn, &plan.orders).await?;
    write_documents(conn, &plan.documents, now).await?;
    write_sends(conn, &plan.sends).await?;
    let jobs: Vec<(TenantId, &NewJob)> = plan.jobs.iter().map(|(t, j)| (*t, j)).collect();
    insert_jobs(conn, &jobs).await?;
    write_notes(conn, &plan.notes).await?;
    crate::events::write_events(conn, plan.events.as_slice()).await?;
    Ok(plan.applied)
}

async fn write_orders(conn: &mut SqliteConnection, changed: &[StoredOrder]) -> StoreResult<()> {
    let rows = changed
        .iter()
        .map(|o| {
            Ok((
                o.tenant_id.to_string(),
                o.id.to_string(),
                o.data.status.as_str(),
                to_json(&o.data)?,
                to_json(&o.fulfilment)?,
                ts(o.updated_at),
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
    docs: &[(TenantId, OrderId, String)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in pow2_chunks(docs) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO order_documents (tenant_id, order_id, kind, content, created_at) ",
        );
        q.push_values(chunk, |mut b, (t, o, xml)| {
            b.push_bind(t.to_string())
                .push_bind(o.to_string())
                .push_bind("nfe_xml")
                .push_bind(xml)
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

async fn write_sends(conn: &mut SqliteConnection, sends: &[StatusSend]) -> StoreResult<()> {
    for chunk in pow2_chunks(sends) {
        let actions = chunk
            .iter()
            .map(|s| to_json(&s.action))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO status_sends ({SEND_COLUMNS}) "));
        q.push_values(chunk.iter().zip(actions), |mut b, (s, action)| {
            b.push_bind(s.tenant_id.to_string())
                .push_bind(s.id.to_string())
                .push_bind(s.channel_id.to_string())
                .push_bind(s.order_id.to_string())
                .push_bind(&s.external_id)
                .push_bind(s.seq)
                .push_bind(s.kind().as_str())
                .push_bind(action)
                .push_bind(s.state.as_str())
                .push_bind(i64::from(s.attempts_used))
                .push_bind(i64::from(s.max_attempts))
                .push_bind(None::<String>)
                .push_bind(None::<String>)
                .push_bind(ts(s.created_at))
                .push_bind(ts(s.updated_at));
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}
