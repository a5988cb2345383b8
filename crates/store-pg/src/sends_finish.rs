//! Finishing status sends: how each attempt ended, applied to the attempt, its send and
//! its job under the job's lease, as `ponte_store::send_plan` decides. One transaction
//! per batch, one statement per kind of write.

use crate::codec::{col, order_lock_key};
use crate::db_err;
use crate::sends::{
    decode_send, delete_jobs, held_leases, lock_keys, to_db, write_sends, SEND_COLUMNS,
};
use crate::timeline::write_notes;
use chrono::{DateTime, Utc};
use ponte_core::JobId;
use ponte_store::send_plan::{plan_finish, FinishPlan, FinishSends, HeldJob};
use ponte_store::{SendFinish, StoreResult};
use sqlx::postgres::PgPool;
use sqlx::PgConnection;
use std::collections::HashMap;

pub(crate) async fn finish_sends(
    pool: &PgPool,
    batch: &[SendFinish],
    now: DateTime<Utc>,
) -> StoreResult<Vec<bool>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    // The orders' locks first (the imports' ones), then the leases (locked).
    let rows = sqlx::query(
        "SELECT s.tenant_id, s.channel_id, s.external_id \
         FROM UNNEST($1::uuid[], $2::uuid[]) AS u (t, id) \
         JOIN status_sends s ON s.tenant_id = u.t AND s.id = u.id",
    )
    .bind(batch.iter().map(|f| f.tenant_id.0).collect::<Vec<_>>())
    .bind(batch.iter().map(|f| f.send_id.0).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let keys = rows
        .iter()
        .map(|r| {
            let ext: String = col(r, "external_id")?;
            Ok(order_lock_key(
                col(r, "tenant_id")?,
                col(r, "channel_id")?,
                &ext,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    lock_keys(&mut tx, keys).await?;
    let held = held_leases(&mut tx, batch.iter().map(|f| &f.lease)).await?;
    let sends = load_sends(&mut tx, batch, &held).await?;
    let plan = plan_finish(batch, &held, sends, now);
    write_attempts(&mut tx, batch, &plan).await?;
    write_sends(&mut tx, &plan.sends).await?;
    delete_jobs(&mut tx, &plan.done).await?;
    requeue(&mut tx, &plan).await?;
    write_notes(&mut tx, &plan.notes).await?;
    // Near the end: the bucket rows stay held until the commit.
    for c in &plan.charges {
        let next = |t, e| c.next(t, e);
        crate::rate_limits::bucket_in(&mut tx, c.tenant, &c.key, c.budget.burst, now, &next)
            .await?;
    }
    crate::events::write_events(&mut tx, plan.events.as_slice()).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(plan.out)
}

/// The batch's sends (of jobs whose lease holds) and their orders' unsent sends.
async fn load_sends(
    tx: &mut PgConnection,
    batch: &[SendFinish],
    held: &HashMap<JobId, HeldJob>,
) -> StoreResult<FinishSends> {
    let targets: Vec<_> = batch
        .iter()
        .filter_map(|f| Some((held.get(&f.lease.job_id)?.tenant.0, f.send_id.0)))
        .collect();
    // Each send looked up by key, then its order's sends in sequence (`ORDER BY seq`
    // makes the order index the cheapest path, `OFFSET 0` keeps each a probe), whatever
    // the planner believes of the table's size.
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT {} FROM UNNEST($1::uuid[], $2::uuid[]) AS u (t, id) \
         CROSS JOIN LATERAL (SELECT t.tenant_id, t.order_id, t.id FROM status_sends t \
           WHERE t.tenant_id = u.t AND t.id = u.id OFFSET 0) t \
         CROSS JOIN LATERAL (SELECT * FROM status_sends s \
           WHERE s.tenant_id = t.tenant_id AND s.order_id = t.order_id \
           AND (s.id = t.id OR s.state <> 'succeeded') ORDER BY s.seq OFFSET 0) s",
        SEND_COLUMNS
            .split(',')
            .map(|c| format!("s.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(targets.iter().map(|t| t.0).collect::<Vec<_>>())
    .bind(targets.iter().map(|t| t.1).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut sends = FinishSends::with_capacity(rows.len());
    for r in &rows {
        let s = decode_send(r)?;
        sends.insert((s.tenant_id, s.id), s);
    }
    Ok(sends)
}

/// Records how the attempts ended.
async fn write_attempts(
    tx: &mut PgConnection,
    batch: &[SendFinish],
    plan: &FinishPlan,
) -> StoreResult<()> {
    if plan.attempts.is_empty() {
        return Ok(());
    }
    let f = |i: &usize| &batch[*i];
    let a = &plan.attempts;
    sqlx::query(
        "UPDATE send_attempts a SET outcome = u.outcome, request = u.request, http_status = u.http, \
           response = u.response, duration_ms = u.ms, error_code = u.code, error = u.msg \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::int[], $7::text[], \
                     $8::bigint[], $9::text[], $10::text[]) \
           AS u (t, s, n, outcome, request, http, response, ms, code, msg) \
         WHERE a.tenant_id = u.t AND a.send_id = u.s AND a.n = u.n",
    )
    .bind(a.iter().map(|(i, _)| f(i).tenant_id.0).collect::<Vec<_>>())
    .bind(a.iter().map(|(i, _)| f(i).send_id.0).collect::<Vec<_>>())
    .bind(a.iter().map(|(i, _)| to_db(f(i).n)).collect::<Vec<_>>())
    .bind(a.iter().map(|(_, o)| o.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|(i, _)| f(i).request.as_deref()).collect::<Vec<_>>())
    .bind(a.iter().map(|(i, _)| f(i).http_status.map(i32::from)).collect::<Vec<_>>())
    .bind(a.iter().map(|(i, _)| f(i).response.as_deref()).collect::<Vec<_>>())
    .bind(
        a.iter()
            .map(|(i, _)| i64::try_from(f(i).duration_ms).unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(
        a.iter()
            .map(|(i, _)| f(i).error.as_ref().map(|e| e.code.as_str()))
            .collect::<Vec<_>>(),
    )
    .bind(
        a.iter()
            .map(|(i, _)| f(i).error.as_ref().map(|e| e.message.as_str()))
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Puts jobs back to pending; a pending twin (enqueued by an action while this job
/// ran) would collide with it: it is the same work, so it goes first.
async fn requeue(tx: &mut PgConnection, plan: &FinishPlan) -> StoreResult<()> {
    if plan.requeue.is_empty() {
        return Ok(());
    }
    let twins: Vec<_> = plan
        .requeue
        .iter()
        .filter_map(|r| Some((r.tenant.0, r.key.as_deref()?)))
        .collect();
    sqlx::query(
        "DELETE FROM jobs p USING UNNEST($1::uuid[], $2::text[]) AS u (t, k) \
         WHERE p.tenant_id = u.t AND p.unique_key = u.k AND p.state = 'pending'",
    )
    .bind(twins.iter().map(|t| t.0).collect::<Vec<_>>())
    .bind(twins.iter().map(|t| t.1).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let r = &plan.requeue;
    sqlx::query(
        "UPDATE jobs j SET state = 'pending', run_at = u.run_at, \
           last_error = u.err, lease_owner = NULL, lease_until = NULL \
         FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::uuid[]) AS u (id, run_at, err, t) \
         WHERE j.tenant_id = u.t AND j.id = u.id AND j.state = 'running'",
    )
    .bind(r.iter().map(|r| r.job.0).collect::<Vec<_>>())
    .bind(r.iter().map(|r| r.run_at).collect::<Vec<_>>())
    .bind(r.iter().map(|r| r.error.as_deref()).collect::<Vec<_>>())
    .bind(r.iter().map(|r| r.tenant.0).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    crate::listen::notify_jobs(tx, Some(ponte_store::SEND_JOB_KIND)).await
}
