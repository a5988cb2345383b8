//! Retention deletes (the rules are `ponte_store::Prunable`'s) and the database size.
//! Each batch is one statement; rows another instance's sweep holds are skipped.

use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_store::{MaintenanceStore, Prunable, StoreResult};

/// Finished deliveries; their timeline entries move to the timeline table.
const DELIVERIES: &str = "WITH gone AS ( \
       DELETE FROM deliveries d USING ( \
         SELECT tenant_id, id FROM deliveries WHERE state <> 'received' AND received_at < $1 \
         ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED) old \
       WHERE d.tenant_id = old.tenant_id AND d.id = old.id \
       RETURNING d.tenant_id, d.id, d.channel_id, d.resource_id, d.received_at, d.event, d.state), \
     kept AS ( \
       INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) \
       SELECT tenant_id, channel_id, resource_id, received_at, 'delivery_received', \
              jsonb_build_object('delivery_id', id, 'event', event, 'state', state) \
       FROM gone WHERE resource_id IS NOT NULL ORDER BY received_at, id) \
     SELECT COUNT(*) FROM gone";

/// Attempts of sends that succeeded before the cut-off.
const SEND_ATTEMPTS: &str = "WITH gone AS ( \
       DELETE FROM send_attempts a USING ( \
         SELECT x.tenant_id, x.send_id, x.n FROM send_attempts x JOIN status_sends s \
           ON s.tenant_id = x.tenant_id AND s.id = x.send_id \
         WHERE x.started_at < $1 AND s.state = 'succeeded' AND s.updated_at < $1 \
         ORDER BY x.started_at LIMIT $2 FOR UPDATE OF x SKIP LOCKED) old \
       WHERE a.tenant_id = old.tenant_id AND a.send_id = old.send_id AND a.n = old.n \
       RETURNING 1) \
     SELECT COUNT(*) FROM gone";

/// Finished runs but each task's latest; their poll gaps are added to their task.
const TASK_RUNS: &str = "WITH gone AS ( \
       DELETE FROM task_runs r USING ( \
         SELECT x.tenant_id, x.id FROM task_runs x \
         WHERE x.finished_at < $1 AND x.state IN ('succeeded', 'failed') \
           AND x.id <> (SELECT y.id FROM task_runs y \
                        WHERE y.tenant_id = x.tenant_id AND y.task_id = x.task_id \
                        ORDER BY y.id DESC LIMIT 1) \
         ORDER BY x.finished_at LIMIT $2 FOR UPDATE OF x SKIP LOCKED) old \
       WHERE r.tenant_id = old.tenant_id AND r.id = old.id \
       RETURNING r.tenant_id, r.task_id, COALESCE((r.counts->>'gaps')::bigint, 0) AS gaps), \
     folded AS ( \
       UPDATE scheduled_tasks t SET pruned_gaps = t.pruned_gaps + g.gaps \
       FROM (SELECT tenant_id, task_id, SUM(gaps)::bigint AS gaps FROM gone \
             GROUP BY tenant_id, task_id) g \
       WHERE t.tenant_id = g.tenant_id AND t.id = g.task_id AND g.gaps > 0) \
     SELECT COUNT(*) FROM gone";

/// Push calls made before the cut-off, with their SKU rows.
const STOCK_PUSHES: &str = "WITH gone AS ( \
       DELETE FROM stock_pushes p USING ( \
         SELECT tenant_id, seq FROM stock_pushes WHERE at < $1 \
         ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED) old \
       WHERE p.tenant_id = old.tenant_id AND p.seq = old.seq \
       RETURNING p.tenant_id, p.seq), \
     skus AS ( \
       DELETE FROM stock_push_skus k USING gone \
       WHERE k.tenant_id = gone.tenant_id AND k.push_seq = gone.seq) \
     SELECT COUNT(*) FROM gone";

/// Delivered or failed webhook messages last changed before the cut-off, with their
/// attempts.
const WEBHOOK_MESSAGES: &str = "WITH old AS ( \
       SELECT tenant_id, endpoint_id, event_seq FROM webhook_messages \
       WHERE state IN ('succeeded', 'failed') AND updated_at < $1 \
       ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
     gone AS ( \
       DELETE FROM webhook_messages m USING old \
       WHERE m.tenant_id = old.tenant_id AND m.endpoint_id = old.endpoint_id \
         AND m.event_seq = old.event_seq \
       RETURNING m.tenant_id, m.endpoint_id, m.event_seq), \
     attempts AS ( \
       DELETE FROM webhook_attempts a USING gone \
       WHERE a.tenant_id = gone.tenant_id AND a.endpoint_id = gone.endpoint_id \
         AND a.event_seq = gone.event_seq) \
     SELECT COUNT(*) FROM gone";

/// Events committed before the cut-off that no enabled endpoint still has to queue and
/// no endpoint's message refers to.
const EVENTS: &str = "WITH old AS ( \
       SELECT e.tenant_id, e.seq FROM events e WHERE e.at < $1 \
         AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.tenant_id = e.tenant_id \
                           AND w.enabled AND w.cursor_seq < e.seq) \
         AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w JOIN webhook_messages m \
                           ON m.tenant_id = w.tenant_id AND m.endpoint_id = w.id \
                           AND m.event_seq = e.seq WHERE w.tenant_id = e.tenant_id) \
       ORDER BY e.at LIMIT $2 FOR UPDATE OF e SKIP LOCKED), \
     gone AS ( \
       DELETE FROM events x USING old WHERE x.tenant_id = old.tenant_id AND x.seq = old.seq \
       RETURNING 1) \
     SELECT COUNT(*) FROM gone";

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn prune(&self, what: Prunable, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let sql = match what {
            Prunable::Deliveries => DELIVERIES,
            Prunable::SendAttempts => SEND_ATTEMPTS,
            Prunable::TaskRuns => TASK_RUNS,
            Prunable::StockPushes => STOCK_PUSHES,
            Prunable::WebhookMessages => WEBHOOK_MESSAGES,
            Prunable::Events => EVENTS,
        };
        let n: i64 = sqlx::query_scalar(sql)
            .bind(cutoff)
            .bind(i64::from(limit))
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn database_size(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn refresh_statistics(&self) -> StoreResult<Vec<String>> {
        // Autovacuum analyzes a table after 50 + 10% of its rows changed, but looks only
        // once a minute: a burst on a fresh database runs that minute on no statistics.
        // Documents (jsonb, bytea) are left to autovacuum: sampling them is the costly
        // part, and no hot query filters on them.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.relname::text, \
               string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             JOIN pg_attribute a ON a.attrelid = s.relid AND a.attnum > 0 AND NOT a.attisdropped \
               AND a.atttypid NOT IN ('jsonb'::regtype, 'json'::regtype, 'bytea'::regtype) \
             WHERE s.schemaname = current_schema() \
               AND s.n_mod_since_analyze > $1 + GREATEST(c.reltuples, 0) * $2 \
               AND COALESCE(GREATEST(s.last_analyze, s.last_autoanalyze), '-infinity') \
                 < now() - make_interval(secs => $3) \
             GROUP BY s.relname, s.n_mod_since_analyze ORDER BY s.n_mod_since_analyze DESC",
        )
        .bind(STATS_MIN_CHANGES)
        .bind(STATS_CHANGED_SHARE)
        .bind(STATS_SPACING_SECS)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut tables = Vec::with_capacity(rows.len());
        for (table, columns) in rows {
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            sqlx::query(&format!("ANALYZE {quoted} ({columns})"))
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
            tables.push(table);
        }
        Ok(tables)
    }
}

/// Rows changed, beyond [`STATS_CHANGED_SHARE`] of the table, before its statistics
/// are refreshed.
const STATS_MIN_CHANGES: f64 = 1000.0;
/// Share of a table's rows changed (beyond [`STATS_MIN_CHANGES`]) before its
/// statistics are refreshed.
const STATS_CHANGED_SHARE: f64 = 0.1;
/// Least time between two refreshes of one table's statistics, seconds.
const STATS_SPACING_SECS: f64 = 30.0;
