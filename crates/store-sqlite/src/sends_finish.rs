//! Finishing status sends (SQLite) with a constant number of statements per batch:
//! read the batch's jobs, sends and their orders' unsent sends once, decide with
//! `ponte_store::send_plan`, then write each table once.

use crate::codec::{col, id, qualified, ts};
use crate::db_err;
use crate::sends::{decode_send, delete_jobs, json_rows, write_sends, SEND_COLUMNS};
use crate::timeline::write_notes;
use chrono::{DateTime, Utc};
use ponte_core::JobId;
use ponte_store::send_plan::{plan_finish, FinishPlan, FinishSends, HeldJob};
use ponte_store::{SendFinish, StoreResult};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use std::collections::HashMap;

/// Reads the batch's jobs whose lease holds, their sends and their orders' unsent sends.
async fn load(
    conn: &mut SqliteConnection,
    batch: &[SendFinish],
) -> StoreResult<(HashMap<JobId, HeldJob>, FinishSends)> {
    let rows = batch
        .iter()
        .map(|f| json!([f.lease.job_id, f.lease.owner]))
        .collect();
    let rows = sqlx::query(
        "SELECT j.id, j.tenant_id, j.unique_key FROM json_each(?1) v \
         JOIN jobs j ON j.id = v.value->>0 AND j.state = 'running' AND j.lease_owner = v.value->>1",
    )
    .bind(json_rows(rows))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut held = HashMap::with_capacity(rows.len());
    for r in &rows {
        let job = HeldJob {
            tenant: id(col(r, "tenant_id")?)?,
            key: col(r, "unique_key")?,
        };
        held.insert(id::<JobId>(col(r, "id")?)?, job);
    }
    let targets: Vec<Value> = batch
        .iter()
        .filter_map(|f| Some(json!([held.get(&f.lease.job_id)?.tenant, f.send_id])))
        .collect();
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT {} FROM json_each(?1) v \
         JOIN status_sends t ON t.tenant_id = v.value->>0 AND t.id = v.value->>1 \
         JOIN status_sends s ON s.tenant_id = t.tenant_id AND s.order_id = t.order_id \
           AND (s.id = t.id OR s.state != 'succeeded')",
        qualified(SEND_COLUMNS, "s")
    ))
    .bind(json_rows(targets))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut sends = FinishSends::with_capacity(rows.len());
    for r in &rows {
        let s = decode_send(r)?;
        sends.insert((s.tenant_id, s.id), s);
    }
    Ok((held, sends))
}

/// Finishes the batch inside the caller's transaction (see `SendStore::finish_sends`).
pub(crate) async fn finish_sends(
    conn: &mut SqliteConnection,
    batch: &[SendFinish],
    now: DateTime<Utc>,
) -> StoreResult<Vec<bool>> {
    let (held, sends) = load(conn, batch).await?;
    let plan = plan_finish(batch, &held, sends, now);
    write_attempts(conn, batch, &plan).await?;
    write_sends(conn, &plan.sends).await?;
    delete_jobs(conn, &plan.done).await?;
    requeue(conn, &plan).await?;
    write_notes(conn, &plan.notes).await?;
    for c in &plan.charges {
        let next = |t, e| c.next(t, e);
        crate::rate_limits::bucket_in(conn, c.tenant, &c.key, c.budget.burst, now, &next).await?;
    }
    crate::events::write_events(conn, plan.events.as_slice()).await?;
    Ok(plan.out)
}

/// Records how the attempts ended.
async fn write_attempts(
    conn: &mut SqliteConnection,
    batch: &[SendFinish],
    plan: &FinishPlan,
) -> StoreResult<()> {
    if plan.attempts.is_empty() {
        return Ok(());
    }
    let rows = plan
        .attempts
        .iter()
        .map(|(i, outcome)| {
            let f = &batch[*i];
            json!([
                f.tenant_id,
                f.send_id,
                f.n,
                outcome.as_str(),
                f.request,
                f.http_status,
                f.response,
                i64::try_from(f.duration_ms).unwrap_or(i64::MAX),
                f.error.as_ref().map(|e| &e.code),
                f.error.as_ref().map(|e| &e.message),
            ])
        })
        .collect();
    sqlx::query(
        "WITH v(t, s, n, o, rq, h, rs, ms, c, e) AS (SELECT value->>0, value->>1, value->>2, value->>3, \
         value->>4, value->>5, value->>6, value->>7, value->>8, value->>9 FROM json_each(?1)) \
         UPDATE send_attempts SET outcome = v.o, request = v.rq, http_status = v.h, response = v.rs, \
         duration_ms = v.ms, error_code = v.c, error = v.e FROM v \
         WHERE send_attempts.tenant_id = v.t AND send_attempts.send_id = v.s AND send_attempts.n = v.n",
    )
    .bind(json_rows(rows))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Puts jobs back to pending; a pending twin holding the same key is the same work,
/// and goes first (it must not cut a wait such as a 429's Retry-After short).
async fn requeue(conn: &mut SqliteConnection, plan: &FinishPlan) -> StoreResult<()> {
    if plan.requeue.is_empty() {
        return Ok(());
    }
    let twins = plan
        .requeue
        .iter()
        .filter_map(|r| Some(json!([r.tenant, r.key.as_ref()?])))
        .collect();
    sqlx::query(
        "DELETE FROM jobs WHERE state = 'pending' AND (tenant_id, unique_key) IN \
         (SELECT value->>0, value->>1 FROM json_each(?1))",
    )
    .bind(json_rows(twins))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let rows = plan
        .requeue
        .iter()
        .map(|r| json!([r.tenant, r.job, ts(r.run_at), r.error]))
        .collect();
    sqlx::query(
        "WITH v(t, i, r, e) AS (SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?1)) \
         UPDATE jobs SET state = 'pending', run_at = v.r, last_error = v.e, lease_owner = NULL, \
         lease_until = NULL FROM v WHERE jobs.tenant_id = v.t AND jobs.id = v.i",
    )
    .bind(json_rows(rows))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::sends_begin::tests::{seed, strings};
    use ponte_store::*;

    /// Two finishes of one batch on one order act one after the other.
    #[tokio::test]
    async fn a_batch_finishes_in_order() {
        let (_dir, s, now, [s1, s2], jobs) = seed(2).await;
        let failed = SendFinish {
            lease: jobs[0].0.clone(),
            tenant_id: jobs[0].1 .0,
            send_id: s1,
            n: 1,
            request: None,
            http_status: None,
            response: None,
            duration_ms: 1,
            error: None,
            outcome: SendOutcome::Failed,
            extra_calls: None,
        };
        let (lease, send_id) = (jobs[1].0.clone(), s2);
        let outcome = SendOutcome::Retry { run_at: now };
        let retry = SendFinish {
            lease,
            send_id,
            outcome,
            ..failed.clone()
        };
        // The head fails and blocks the next send, which the retry leaves blocked.
        assert_eq!(
            s.finish_sends(&[failed, retry], now).await.unwrap(),
            [true, true]
        );
        let states = strings(&s, "SELECT state FROM status_sends ORDER BY seq").await;
        assert_eq!(states, ["failed", "blocked"]);
        let left = strings(&s, "SELECT id FROM jobs WHERE state = 'pending'").await;
        assert_eq!(left, [jobs[1].0.job_id.to_string()]);
    }
}
