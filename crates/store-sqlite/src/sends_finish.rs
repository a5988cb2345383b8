//! Finishing status sends (SQLite) with a constant number of statements per batch:
//! read the batch's jobs, sends and their orders' unsent sends once, apply the
//! outcomes in memory as if they were recorded one after another in batch order, then
//! write each table once.

use crate::codec::{col, ts};
use crate::db_err;
use crate::sends::{
    attempt_note, delete_jobs, json_rows, write_notes, write_sends, SendRow, SEND_COLUMNS,
};
use chrono::{DateTime, Utc};
use ponte_store::{
    send_job_key, AttemptOutcome, SendError, SendFinish, SendOutcome, SendState, StoreResult,
};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use std::collections::{HashMap, HashSet};

/// A finish whose lease held before the batch, with what its job row says.
struct Item {
    /// The job's tenant.
    tenant: String,
    /// The job's unique key.
    key: Option<String>,
    /// The send, as an index into the loaded rows.
    send: usize,
}

/// The send rows the batch reads: its sends, and the sends of their orders that have
/// not succeeded.
#[derive(Default)]
struct Sends {
    rows: Vec<SendRow>,
    at: HashMap<(String, String), usize>,
}

/// What happens to a finished job (in batch order).
struct Plan {
    job: String,
    tenant: String,
    /// The job's own unique key.
    key: Option<String>,
    /// The key of its send's order, whose pending twin a retry replaces.
    twin: String,
    /// Due again at this time, with this error (`None`: done).
    retry: Option<(DateTime<Utc>, String)>,
}

/// A pending job holding a unique key.
enum Pending {
    /// Stored before this batch.
    Stored(String),
    /// A job of the batch put back to pending.
    Batch(String),
}

/// Reads the items whose lease holds and whose send exists, and the send rows.
async fn load(
    conn: &mut SqliteConnection,
    batch: &[SendFinish],
) -> StoreResult<(HashMap<usize, Item>, Sends)> {
    let rows = batch
        .iter()
        .map(|f| {
            json!([
                f.lease.job_id.to_string(),
                f.lease.owner,
                f.send_id.to_string()
            ])
        })
        .collect();
    let columns: Vec<String> = SEND_COLUMNS
        .split(',')
        .map(|c| format!("s.{0} AS {0}", c.trim()))
        .collect();
    let rows = sqlx::query(&format!(
        "WITH v(i, job, owner, send) AS (SELECT key, value->>0, value->>1, value->>2 FROM json_each(?1)) \
         SELECT v.i AS i, j.tenant_id AS job_tenant, j.unique_key AS job_key, t.id AS target, {} \
         FROM v JOIN jobs j ON j.id = v.job AND j.state = 'running' AND j.lease_owner = v.owner \
         JOIN status_sends t ON t.tenant_id = j.tenant_id AND t.id = v.send \
         JOIN status_sends s ON s.tenant_id = t.tenant_id AND s.order_id = t.order_id \
           AND (s.id = t.id OR s.state != 'succeeded')",
        columns.join(", ")
    ))
    .bind(json_rows(rows))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut items = HashMap::new();
    let mut sends = Sends::default();
    for r in &rows {
        let at = (col::<String>(r, "tenant_id")?, col::<String>(r, "id")?);
        let n = match sends.at.get(&at) {
            Some(n) => *n,
            None => {
                sends.rows.push(SendRow::decode(r)?);
                sends.at.insert(at.clone(), sends.rows.len() - 1);
                sends.rows.len() - 1
            }
        };
        if col::<String>(r, "target")? == at.1 {
            let i = usize::try_from(col::<i64>(r, "i")?).unwrap_or(usize::MAX);
            let item = Item {
                tenant: col(r, "job_tenant")?,
                key: col(r, "job_key")?,
                send: n,
            };
            items.insert(i, item);
        }
    }
    Ok((items, sends))
}

/// The attempt outcome a send outcome records.
fn attempt_outcome(o: &SendOutcome) -> AttemptOutcome {
    match o {
        SendOutcome::Succeeded => AttemptOutcome::Succeeded,
        SendOutcome::Retry { .. } => AttemptOutcome::Retrying,
        SendOutcome::RateLimited { .. } => AttemptOutcome::RateLimited,
        SendOutcome::Held { .. } => AttemptOutcome::Held,
        SendOutcome::Failed => AttemptOutcome::Failed,
    }
}

/// Finishes the batch inside the caller's transaction (see `SendStore::finish_sends`).
pub(crate) async fn finish_sends(
    conn: &mut SqliteConnection,
    batch: &[SendFinish],
    now: DateTime<Utc>,
) -> StoreResult<Vec<bool>> {
    let (items, mut sends) = load(conn, batch).await?;
    let mut out = Vec::with_capacity(batch.len());
    let mut finished: HashSet<String> = HashSet::new();
    let mut attempts: HashMap<(String, String, u32), Value> = HashMap::new();
    let mut plans: Vec<Plan> = Vec::new();
    let mut notes: Vec<Value> = Vec::new();
    for (i, f) in batch.iter().enumerate() {
        let job = f.lease.job_id.to_string();
        let Some(item) = items.get(&i).filter(|_| !finished.contains(&job)) else {
            out.push(false);
            continue;
        };
        let send = sends.rows[item.send].send.clone();
        let outcome = attempt_outcome(&f.outcome);
        let (code, message) = match &f.error {
            Some(e) => (Some(e.code.as_str()), Some(e.message.as_str())),
            None => (None, None),
        };
        let attempt = json!([
            item.tenant,
            send.id.to_string(),
            f.n,
            outcome.as_str(),
            f.request,
            f.http_status,
            f.response,
            i64::try_from(f.duration_ms).unwrap_or(i64::MAX),
            code,
            message
        ]);
        attempts.insert((item.tenant.clone(), send.id.to_string(), f.n), attempt);
        let counted = i64::from(outcome.counts());
        let same_order =
            |r: &SendRow| r.send.tenant_id == send.tenant_id && r.send.order_id == send.order_id;
        let retry = match &f.outcome {
            SendOutcome::Failed => {
                let error = f.error.clone().unwrap_or(SendError {
                    code: "failed".into(),
                    message: String::new(),
                });
                sends.rows[item.send].set(SendState::Failed, counted, Some(&error), now);
                // The order's later pending sends wait for this one to be resent.
                for r in sends.rows.iter_mut().filter(|r| same_order(r)) {
                    if r.send.seq > send.seq && r.send.state == SendState::Pending {
                        r.block(now);
                    }
                }
                None
            }
            other => {
                let state = if *other == SendOutcome::Succeeded {
                    SendState::Succeeded
                } else {
                    SendState::Pending
                };
                sends.rows[item.send].set(state, counted, f.error.as_ref(), now);
                match other {
                    SendOutcome::Retry { run_at }
                    | SendOutcome::RateLimited { run_at }
                    | SendOutcome::Held { run_at } => Some(*run_at),
                    _ => sends
                        .rows
                        .iter()
                        .any(|r| same_order(r) && r.send.state == SendState::Pending)
                        .then_some(now),
                }
            }
        };
        plans.push(Plan {
            job: job.clone(),
            tenant: item.tenant.clone(),
            key: item.key.clone(),
            twin: send_job_key(send.channel_id, send.order_id),
            retry: retry.map(|at| (at, code.unwrap_or_default().to_owned())),
        });
        finished.insert(job);
        let detail = json!({
            "send_id": send.id, "kind": send.kind(), "n": f.n, "outcome": outcome,
            "http_status": f.http_status, "error_code": f.error.as_ref().map(|e| &e.code),
        });
        notes.push(attempt_note(&send, &detail));
        out.push(true);
    }
    write_attempts(conn, attempts.into_values().collect()).await?;
    write_sends(conn, sends.rows.iter(), now).await?;
    finish_jobs(conn, plans).await?;
    write_notes(conn, notes, now).await?;
    Ok(out)
}

/// Records how the attempts ended.
async fn write_attempts(conn: &mut SqliteConnection, rows: Vec<Value>) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
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

/// The pending jobs holding the given (tenant, unique key)s.
async fn pending_jobs(
    conn: &mut SqliteConnection,
    keys: Vec<Value>,
) -> StoreResult<HashMap<(String, String), Pending>> {
    let rows = sqlx::query(
        "SELECT p.tenant_id, p.unique_key, p.id FROM json_each(?1) v \
         JOIN jobs p ON p.tenant_id = v.value->>0 AND p.unique_key = v.value->>1 AND p.state = 'pending'",
    )
    .bind(json_rows(keys))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let key = (col(r, "tenant_id")?, col(r, "unique_key")?);
            Ok((key, Pending::Stored(col(r, "id")?)))
        })
        .collect()
}

/// Finishes the jobs as `finish_in` would one after another: done jobs are deleted; a
/// retried one first removes the pending twin of its order (a twin enqueued meanwhile
/// must not cut a wait such as a 429's Retry-After short), then goes back to pending,
/// or folds into a pending job that holds its own key.
async fn finish_jobs(conn: &mut SqliteConnection, plans: Vec<Plan>) -> StoreResult<()> {
    let keys: Vec<Value> = plans
        .iter()
        .filter(|p| p.retry.is_some())
        .flat_map(|p| {
            let own = p.key.as_ref().map(|k| json!([p.tenant, k]));
            std::iter::once(json!([p.tenant, p.twin])).chain(own)
        })
        .collect();
    let mut pending = if keys.is_empty() {
        HashMap::new()
    } else {
        pending_jobs(conn, keys).await?
    };
    let mut deleted: Vec<(String, String)> = Vec::new();
    let mut requeued: HashMap<String, (String, DateTime<Utc>, String)> = HashMap::new();
    for p in plans {
        let Some((run_at, error)) = p.retry else {
            deleted.push((p.tenant, p.job));
            continue;
        };
        match pending.remove(&(p.tenant.clone(), p.twin)) {
            Some(Pending::Stored(id)) => deleted.push((p.tenant.clone(), id)),
            Some(Pending::Batch(job)) => {
                requeued.remove(&job);
                deleted.push((p.tenant.clone(), job));
            }
            None => {}
        }
        let own = p.key.map(|k| (p.tenant.clone(), k));
        if own.as_ref().is_some_and(|k| pending.contains_key(k)) {
            deleted.push((p.tenant, p.job));
            continue;
        }
        if let Some(k) = own {
            pending.insert(k, Pending::Batch(p.job.clone()));
        }
        requeued.insert(p.job, (p.tenant, run_at, error));
    }
    delete_jobs(conn, deleted).await?;
    if requeued.is_empty() {
        return Ok(());
    }
    let rows = requeued
        .into_iter()
        .map(|(job, (tenant, run_at, error))| json!([tenant, job, ts(run_at), error]))
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
        };
        let (lease, send_id) = (jobs[1].0.clone(), s2);
        let outcome = SendOutcome::Retry { run_at: now };
        let retry = SendFinish {
            lease,
            send_id,
            outcome,
            ..failed.clone()
        };
        // The head fails and blocks the next send, which the retry then makes pending.
        assert_eq!(
            s.finish_sends(&[failed, retry], now).await.unwrap(),
            [true, true]
        );
        let states = strings(&s, "SELECT state FROM status_sends ORDER BY seq").await;
        assert_eq!(states, ["failed", "pending"]);
        let left = strings(&s, "SELECT id FROM jobs WHERE state = 'pending'").await;
        assert_eq!(left, [jobs[1].0.job_id.to_string()]);
    }
}
