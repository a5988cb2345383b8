//! Beginning status sends: under each send job's lease, the order's first unsent send
//! gets a new attempt recorded as started (after settling one a crash left started), as
//! `ponte_store::send_plan` decides. One transaction per batch, one statement per kind
//! of write.

use crate::codec::col;
use crate::db_err;
use crate::sends::{
    block_after, decode_send, delete_jobs, held_leases, lock_keys, order_keys, try_lock_keys,
    write_sends, SEND_COLUMNS,
};
use crate::timeline::write_notes;
use chrono::{DateTime, Utc};
use ponte_core::{JobId, OrderId, TenantId};
use ponte_store::send_plan::{
    begin_live, plan_begin, BeginPlan, HeadSend, HeldJob, INTERRUPTED, INTERRUPTED_TEXT,
};
use ponte_store::{JobLease, SendBegin, SendJob, StoreResult};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Begins the batch inside the caller's transaction (see `SendStore::begin_sends`):
/// the orders' locks first, then the leases (locked), then the heads. With `wait`
/// false, a job whose order another transaction holds is left alone (`None`): the
/// caller holds job rows an action may be waiting for, so it must not wait in turn.
pub(crate) async fn begin_in(
    tx: &mut PgConnection,
    jobs: &[(JobLease, SendJob)],
    now: DateTime<Utc>,
    wait: bool,
) -> StoreResult<Vec<Option<SendBegin>>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    // The orders' lock keys (their tenant is the job's).
    let rows = sqlx::query(
        "SELECT u.i, j.tenant_id, o.channel_id, o.external_id \
         FROM UNNEST($1::uuid[], $2::text[], $3::uuid[]) WITH ORDINALITY AS u (job_id, owner, order_id, i) \
         JOIN jobs j ON j.id = u.job_id AND j.state = 'running' AND j.lease_owner = u.owner \
         JOIN orders o ON o.tenant_id = j.tenant_id AND o.id = u.order_id",
    )
    .bind(jobs.iter().map(|(l, _)| l.job_id.0).collect::<Vec<_>>())
    .bind(jobs.iter().map(|(l, _)| l.owner.as_str()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|(_, j)| j.order_id.0).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let keys = order_keys(&rows)?;
    let mut skipped = HashSet::new();
    if wait {
        lock_keys(tx, keys).await?;
    } else {
        let locked = try_lock_keys(tx, keys.clone()).await?;
        for (r, k) in rows.iter().zip(&keys) {
            if !locked.contains(k) {
                // WITH ORDINALITY counts from 1.
                skipped.insert(usize::try_from(col::<i64>(r, "i")? - 1).unwrap_or(usize::MAX));
            }
        }
    }
    let (mine, out_of): (Vec<_>, Vec<_>) = jobs
        .iter()
        .enumerate()
        .partition(|(i, _)| !skipped.contains(i));
    let mine: Vec<(JobLease, SendJob)> = mine.into_iter().map(|(_, j)| j.clone()).collect();
    // Under the locks: which leases still hold, and which keys other jobs are running.
    let held = held_leases(tx, mine.iter().map(|(l, _)| l)).await?;
    let busy = busy_keys(tx, &mine, &held).await?;
    let start = begin_live(&mine, &held, &busy);
    let heads = heads(tx, &start.live).await?;
    let plan = plan_begin(start, &mine, &heads, now);
    write(tx, &plan, now).await?;
    let mut begun = plan.out.into_iter();
    let skipped: HashSet<usize> = out_of.into_iter().map(|(i, _)| i).collect();
    Ok((0..jobs.len())
        .map(|i| {
            if skipped.contains(&i) {
                None
            } else {
                begun.next()
            }
        })
        .collect())
}

/// The keys of the batch's held jobs that running jobs outside the batch hold.
async fn busy_keys(
    tx: &mut PgConnection,
    jobs: &[(JobLease, SendJob)],
    held: &HashMap<JobId, HeldJob>,
) -> StoreResult<HashSet<(TenantId, String)>> {
    let keyed: Vec<(Uuid, &str)> = held
        .values()
        .filter_map(|h| Some((h.tenant.0, h.key.as_deref()?)))
        .collect();
    if keyed.is_empty() {
        return Ok(HashSet::new());
    }
    let batch_ids: Vec<Uuid> = jobs.iter().map(|(l, _)| l.job_id.0).collect();
    let rows = sqlx::query(
        "SELECT DISTINCT j.tenant_id, j.unique_key FROM jobs j \
         JOIN UNNEST($1::uuid[], $2::text[]) AS u (t, k) ON j.tenant_id = u.t AND j.unique_key = u.k \
         WHERE j.state = 'running' AND j.unique_key IS NOT NULL AND NOT (j.id = ANY($3))",
    )
    .bind(keyed.iter().map(|k| k.0).collect::<Vec<_>>())
    .bind(keyed.iter().map(|k| k.1).collect::<Vec<_>>())
    .bind(&batch_ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| Ok((TenantId(col(r, "tenant_id")?), col(r, "unique_key")?)))
        .collect()
}

/// Each order's head: its first send that has not succeeded, with its attempts' state.
async fn heads(
    tx: &mut PgConnection,
    live: &[(usize, TenantId, OrderId)],
) -> StoreResult<HashMap<(TenantId, OrderId), HeadSend>> {
    if live.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(&format!(
        "SELECT h.*, \
           (SELECT MAX(a.n) FROM send_attempts a WHERE a.tenant_id = h.tenant_id AND a.send_id = h.id) AS max_n, \
           ARRAY(SELECT a.n FROM send_attempts a WHERE a.tenant_id = h.tenant_id AND a.send_id = h.id \
                 AND a.outcome = 'started' ORDER BY a.n) AS started \
         FROM UNNEST($1::uuid[], $2::uuid[]) AS u (t, o) \
         CROSS JOIN LATERAL (SELECT {SEND_COLUMNS} FROM status_sends s \
           WHERE s.tenant_id = u.t AND s.order_id = u.o AND s.state <> 'succeeded' \
           ORDER BY s.seq LIMIT 1) h"
    ))
    .bind(live.iter().map(|l| l.1 .0).collect::<Vec<_>>())
    .bind(live.iter().map(|l| l.2 .0).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let send = decode_send(r)?;
        let max_n = col::<Option<i32>>(r, "max_n")?.unwrap_or(0);
        let started: Vec<i32> = col(r, "started")?;
        let head = HeadSend {
            max_n: u32::try_from(max_n).unwrap_or(0),
            started: started
                .into_iter()
                .filter_map(|n| u32::try_from(n).ok())
                .collect(),
            send,
        };
        out.insert((head.send.tenant_id, head.send.order_id), head);
    }
    Ok(out)
}

/// Writes what beginning the batch changed.
async fn write(tx: &mut PgConnection, plan: &BeginPlan, now: DateTime<Utc>) -> StoreResult<()> {
    if !plan.interrupted.is_empty() {
        sqlx::query(
            "UPDATE send_attempts a SET outcome = 'interrupted', error_code = $3, error = $4 \
             FROM UNNEST($1::uuid[], $2::uuid[]) AS u (t, s) \
             WHERE a.tenant_id = u.t AND a.send_id = u.s AND a.outcome = 'started'",
        )
        .bind(plan.interrupted.iter().map(|i| i.0 .0).collect::<Vec<_>>())
        .bind(plan.interrupted.iter().map(|i| i.1 .0).collect::<Vec<_>>())
        .bind(INTERRUPTED)
        .bind(INTERRUPTED_TEXT)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    write_sends(tx, &plan.sends).await?;
    block_after(tx, &plan.block_after, now).await?;
    if !plan.attempts.is_empty() {
        sqlx::query(
            "INSERT INTO send_attempts (tenant_id, send_id, n, started_at, outcome) \
             SELECT t, s, n, $4, 'started' FROM UNNEST($1::uuid[], $2::uuid[], $3::int[]) AS u (t, s, n)",
        )
        .bind(plan.attempts.iter().map(|a| a.0 .0).collect::<Vec<_>>())
        .bind(plan.attempts.iter().map(|a| a.1 .0).collect::<Vec<_>>())
        .bind(plan.attempts.iter().map(|a| crate::sends::to_db(a.2)).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    delete_jobs(tx, &plan.done).await?;
    write_notes(tx, &plan.notes).await
}
