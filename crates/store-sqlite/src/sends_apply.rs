//! Applying a batch of ERP actions (SQLite) with a constant number of statements:
//! read every order and its sends once, decide with `ponte_store::send_plan`, write
//! each table with one multi-row statement.

use crate::claim::Claim;
use crate::codec::{col, id, pow2_chunks, qualified, to_json, ts};
use crate::db_err;
use crate::jobs::insert_jobs;
use crate::orders::{decode as decode_order, COLUMNS_BUT_RAW};
use crate::sends::{json_rows, SEND_COLUMNS};
use crate::timeline::write_notes;
use chrono::{DateTime, Utc};
use ponte_core::{OrderId, TenantId};
use ponte_store::claim::{start_queued, Claimed, StartSends};
use ponte_store::send_plan::{plan_actions, ActionTarget, ActionTargets, OrderChange};
use ponte_store::{ActionCommit, ActionsApplied, NewJob, StatusSend, StoreResult};
use serde_json::json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashSet;

/// The batch's orders (`?1`: a JSON array of `[tenant, order]`), without their platform
/// payload (see `ActionApplied`).
fn orders_sql() -> String {
    format!(
        "SELECT {}, 'null' AS raw, o.external_id FROM json_each(?1) v \
         JOIN orders o ON o.tenant_id = v.value->>0 AND o.id = v.value->>1",
        qualified(COLUMNS_BUT_RAW, "o")
    )
}

/// Per order of the batch (`?1` as above): its last send `seq` and whether one is failed or
/// blocked.
const SENDS_SQL: &str = "SELECT s.tenant_id, s.order_id, MAX(s.seq) AS last_seq, \
     MAX(s.state IN ('failed', 'blocked')) AS held \
     FROM json_each(?1) v \
     JOIN status_sends s ON s.tenant_id = v.value->>0 AND s.order_id = v.value->>1 \
     GROUP BY s.tenant_id, s.order_id";

/// Reads the batch's orders and, per order, the next send `seq` and whether an earlier
/// send is failed or blocked. Both are searched by key (a `json_each` join: SQLite
/// scans a whole index for a row-value `IN` list or an `order_id IN` without the tenant).
/// Each order is asked for once, however many of the batch's actions are on it.
async fn load(conn: &mut SqliteConnection, batch: &[ActionCommit]) -> StoreResult<ActionTargets> {
    let orders: HashSet<(TenantId, OrderId)> =
        batch.iter().map(|c| (c.tenant_id, c.order_id)).collect();
    let keys = json_rows(orders.iter().map(|(t, o)| json!([t, o])).collect());
    let rows = sqlx::query(&orders_sql())
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut current = ActionTargets::new();
    for r in rows {
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
    let rows = sqlx::query(SENDS_SQL)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    for r in rows {
        let key: (TenantId, OrderId) = (id(col(&r, "tenant_id")?)?, id(col(&r, "order_id")?)?);
        if let Some(cur) = current.get_mut(&key) {
            cur.last_seq = col(&r, "last_seq")?;
            cur.held = col::<i64>(&r, "held")? != 0;
        }
    }
    Ok(current)
}

/// Applies the batch inside the caller's transaction, starting the sends it queues
/// with `start`.
pub(crate) async fn apply_actions(
    conn: &mut SqliteConnection,
    batch: &[ActionCommit],
    now: DateTime<Utc>,
    start: Option<&StartSends<'_>>,
) -> StoreResult<ActionsApplied> {
    let current = load(conn, batch).await?;
    let plan = plan_actions(batch, current, now);
    write_orders(conn, &plan.orders).await?;
    write_documents(conn, &plan.documents, now).await?;
    write_sends(conn, &plan.sends).await?;
    let jobs: Vec<(TenantId, &NewJob)> = plan.jobs.iter().map(|(t, j)| (*t, j)).collect();
    insert_jobs(conn, &jobs).await?;
    let started = match start {
        Some(s) => start_queued(&mut Claim(&mut *conn), &plan.jobs, s, now).await?,
        None => Claimed::default(),
    };
    write_notes(conn, &plan.notes).await?;
    crate::events::write_events(conn, plan.events.as_slice()).await?;
    Ok(ActionsApplied {
        applied: plan.applied,
        started,
    })
}

/// Writes what the batch changed of each order (status, also in its data; fulfilment);
/// the rest of the data is not written again.
async fn write_orders(conn: &mut SqliteConnection, changed: &[OrderChange]) -> StoreResult<()> {
    let rows = changed
        .iter()
        .map(|o| {
            Ok((
                o.tenant_id.to_string(),
                o.id.to_string(),
                o.status.as_str(),
                to_json(&o.fulfilment)?,
                ts(o.updated_at),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    for chunk in pow2_chunks(&rows) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("WITH v(t, i, st, f, u) AS (");
        q.push_values(chunk, |mut b, r| {
            b.push_bind(&r.0)
                .push_bind(&r.1)
                .push_bind(r.2)
                .push_bind(&r.3)
                .push_bind(r.4);
        });
        q.push(
            ") UPDATE orders SET status = v.st, data = json_set(orders.data, '$.status', v.st), \
             fulfilment = v.f, updated_at = v.u \
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

#[cfg(test)]
mod tests {
    use crate::SqliteStore;

    /// The steps SQLite plans for `sql` (bound to an empty batch).
    async fn plan(s: &SqliteStore, sql: &str) -> Vec<String> {
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .bind("[]")
            .fetch_all(&s.writer)
            .await
            .unwrap();
        rows.iter().map(|r| sqlx::Row::get(r, "detail")).collect()
    }

    /// An action batch's reads search orders and sends by key: they never scan a whole
    /// table or index (which grows with every order ever imported).
    #[tokio::test]
    async fn loads_search_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db")).await.unwrap();
        for sql in [super::orders_sql(), super::SENDS_SQL.to_owned()] {
            let steps = plan(&s, &sql).await;
            let scans: Vec<_> = (steps.iter())
                .filter(|d| d.starts_with("SCAN") && !d.starts_with("SCAN v"))
                .collect();
            assert!(scans.is_empty(), "{sql}: {steps:?}");
            assert!(steps.iter().any(|d| d.starts_with("SEARCH")), "{steps:?}");
        }
    }
}
