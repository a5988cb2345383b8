//! Retention deletes (the rules are `ponte_store::Prunable`'s) and the database size.

use crate::codec::ts;
use crate::sends::json_rows;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_store::{MaintenanceStore, Prunable, StoreResult};
use serde_json::json;
use sqlx::SqliteConnection;
use std::collections::BTreeMap;

#[async_trait]
impl MaintenanceStore for SqliteStore {
    async fn prune(&self, what: Prunable, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let (cutoff, limit) = (ts(cutoff), i64::from(limit));
        let n = match what {
            Prunable::Deliveries => deliveries(&mut tx, cutoff, limit).await?,
            Prunable::SendAttempts => send_attempts(&mut tx, cutoff, limit).await?,
            Prunable::TaskRuns => task_runs(&mut tx, cutoff, limit).await?,
            Prunable::StockPushes => stock_pushes(&mut tx, cutoff, limit).await?,
            Prunable::WebhookMessages => webhook_messages(&mut tx, cutoff, limit).await?,
            Prunable::Events => events(&mut tx, cutoff, limit).await?,
        };
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn database_size(&self) -> StoreResult<u64> {
        let pages: i64 = sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let wal = std::fs::metadata(wal).map_or(0, |m| m.len());
        Ok(u64::try_from(pages).unwrap_or(0) + wal)
    }

    async fn refresh_statistics(&self) -> StoreResult<Vec<String>> {
        // Without statistics SQLite's planner assumes every table large and prefers
        // its indexes: nothing to refresh.
        Ok(vec![])
    }
}

/// Finished deliveries; their timeline entries move to the timeline table.
async fn deliveries(conn: &mut SqliteConnection, cutoff: i64, limit: i64) -> StoreResult<u64> {
    let rows: Vec<i64> = sqlx::query_scalar(
        "SELECT rowid FROM deliveries WHERE state <> 'received' AND received_at < ? \
         ORDER BY received_at LIMIT ?",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let rows = json_rows(rows.into_iter().map(|r| json!(r)).collect());
    sqlx::query(
        "INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) \
         SELECT tenant_id, channel_id, resource_id, received_at, 'delivery_received', \
                json_object('delivery_id', id, 'event', event, 'state', state) \
         FROM deliveries WHERE rowid IN (SELECT value FROM json_each(?1)) \
           AND resource_id IS NOT NULL ORDER BY received_at",
    )
    .bind(&rows)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let done =
        sqlx::query("DELETE FROM deliveries WHERE rowid IN (SELECT value FROM json_each(?))")
            .bind(&rows)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    Ok(done.rows_affected())
}

/// Attempts of sends that succeeded before the cut-off.
async fn send_attempts(conn: &mut SqliteConnection, cutoff: i64, limit: i64) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM send_attempts WHERE rowid IN ( \
           SELECT a.rowid FROM send_attempts a JOIN status_sends s \
             ON s.tenant_id = a.tenant_id AND s.id = a.send_id \
           WHERE a.started_at < ?1 AND s.state = 'succeeded' AND s.updated_at < ?1 \
           ORDER BY a.started_at LIMIT ?2)",
    )
    .bind(cutoff)
    .bind(limit)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}

/// Finished runs but each task's latest; their poll gaps are added to their task.
async fn task_runs(conn: &mut SqliteConnection, cutoff: i64, limit: i64) -> StoreResult<u64> {
    let gone: Vec<(String, String, i64)> = sqlx::query_as(
        "DELETE FROM task_runs WHERE rowid IN ( \
           SELECT r.rowid FROM task_runs r \
           WHERE r.finished_at < ?1 AND r.state IN ('succeeded', 'failed') \
             AND r.id <> (SELECT MAX(x.id) FROM task_runs x \
                          WHERE x.tenant_id = r.tenant_id AND x.task_id = r.task_id) \
           ORDER BY r.finished_at LIMIT ?2) \
         RETURNING tenant_id, task_id, COALESCE(json_extract(counts, '$.gaps'), 0)",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let n = gone.len() as u64;
    let mut gaps: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (tenant, task, g) in gone.into_iter().filter(|(_, _, g)| *g > 0) {
        *gaps.entry((tenant, task)).or_default() += g;
    }
    if !gaps.is_empty() {
        let rows = gaps
            .into_iter()
            .map(|((t, k), g)| json!([t, k, g]))
            .collect();
        sqlx::query(
            "WITH v(t, k, g) AS (SELECT value->>0, value->>1, value->>2 FROM json_each(?1)) \
             UPDATE scheduled_tasks SET pruned_gaps = pruned_gaps + v.g FROM v \
             WHERE scheduled_tasks.tenant_id = v.t AND scheduled_tasks.id = v.k",
        )
        .bind(json_rows(rows))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(n)
}

/// Push calls made before the cut-off, with their SKU rows.
async fn stock_pushes(conn: &mut SqliteConnection, cutoff: i64, limit: i64) -> StoreResult<u64> {
    let gone: Vec<(String, i64)> = sqlx::query_as(
        "DELETE FROM stock_pushes WHERE seq IN ( \
           SELECT seq FROM stock_pushes WHERE at < ? ORDER BY at LIMIT ?) \
         RETURNING tenant_id, seq",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    if gone.is_empty() {
        return Ok(0);
    }
    let n = gone.len() as u64;
    let rows = gone.into_iter().map(|(t, s)| json!([t, s])).collect();
    sqlx::query(
        "DELETE FROM stock_push_skus WHERE (tenant_id, push_seq) IN \
         (SELECT value->>0, value->>1 FROM json_each(?))",
    )
    .bind(json_rows(rows))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(n)
}

/// Delivered or failed webhook messages last changed before the cut-off, with their
/// attempts.
async fn webhook_messages(
    conn: &mut SqliteConnection,
    cutoff: i64,
    limit: i64,
) -> StoreResult<u64> {
    let gone: Vec<(String, String, i64)> = sqlx::query_as(
        "DELETE FROM webhook_messages WHERE rowid IN ( \
           SELECT rowid FROM webhook_messages \
           WHERE state IN ('succeeded', 'failed') AND updated_at < ? \
           ORDER BY updated_at LIMIT ?) \
         RETURNING tenant_id, endpoint_id, event_seq",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    if gone.is_empty() {
        return Ok(0);
    }
    let n = gone.len() as u64;
    let rows = gone.into_iter().map(|(t, e, s)| json!([t, e, s])).collect();
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE (tenant_id, endpoint_id, event_seq) IN \
         (SELECT value->>0, value->>1, value->>2 FROM json_each(?))",
    )
    .bind(json_rows(rows))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(n)
}

/// Events committed before the cut-off that no enabled endpoint still has to queue and
/// no endpoint's message refers to.
async fn events(conn: &mut SqliteConnection, cutoff: i64, limit: i64) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM events WHERE seq IN ( \
           SELECT e.seq FROM events e WHERE e.at < ?1 \
             AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.tenant_id = e.tenant_id \
                               AND w.enabled = 1 AND w.cursor_seq < e.seq) \
             AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w JOIN webhook_messages m \
                               ON m.tenant_id = w.tenant_id AND m.endpoint_id = w.id \
                               AND m.event_seq = e.seq WHERE w.tenant_id = e.tenant_id) \
           ORDER BY e.seq LIMIT ?2)",
    )
    .bind(cutoff)
    .bind(limit)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected())
}
