//! Beginning status sends: under each send job's lease, the order's first unsent send
//! gets a new attempt recorded as started (after settling one a crash left started).
//! One transaction per batch, one statement per kind of write.

use crate::codec::col;
use crate::db_err;
use crate::sends::{
    block_after, decode_send, delete_jobs, from_db, held_leases, lock_keys, order_keys, to_db,
    SEND_COLUMNS,
};
use crate::timeline::Timeline;
use chrono::{DateTime, Utc};
use ponte_store::{
    AttemptOutcome, JobLease, SendAttempt, SendBegin, SendError, SendJob, SendState, StatusSend,
    StoreResult,
};
use serde_json::json;
use sqlx::postgres::PgPool;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Error code of an attempt the process did not live to finish.
const INTERRUPTED: &str = "interrupted";
/// Its text.
const INTERRUPTED_TEXT: &str = "the process stopped during the call; its result is unknown";

/// Send rows `begin_sends` changes, as columns.
#[derive(Default)]
struct SendRows {
    tenants: Vec<Uuid>,
    ids: Vec<Uuid>,
    states: Vec<&'static str>,
    used: Vec<i32>,
    codes: Vec<Option<String>>,
    messages: Vec<Option<String>>,
}

impl SendRows {
    fn push(&mut self, s: &StatusSend, state: SendState) {
        self.tenants.push(s.tenant_id.0);
        self.ids.push(s.id.0);
        self.states.push(state.as_str());
        self.used.push(to_db(s.attempts_used));
        self.codes
            .push(s.last_error.as_ref().map(|e| e.code.clone()));
        self.messages
            .push(s.last_error.as_ref().map(|e| e.message.clone()));
    }
}

/// A job of the batch that holds its lease and has an order to work on.
struct Live {
    /// Position in the batch.
    i: usize,
    tenant: Uuid,
    order: Uuid,
}

pub(crate) async fn begin_sends(
    pool: &PgPool,
    jobs: &[(JobLease, SendJob)],
    now: DateTime<Utc>,
) -> StoreResult<Vec<SendBegin>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    // The orders' lock keys (their tenant is the job's).
    let rows = sqlx::query(
        "SELECT j.tenant_id, o.channel_id, o.external_id \
         FROM UNNEST($1::uuid[], $2::text[], $3::uuid[]) AS u (job_id, owner, order_id) \
         JOIN jobs j ON j.id = u.job_id AND j.state = 'running' AND j.lease_owner = u.owner \
         JOIN orders o ON o.tenant_id = j.tenant_id AND o.id = u.order_id",
    )
    .bind(jobs.iter().map(|(l, _)| l.job_id.0).collect::<Vec<_>>())
    .bind(
        jobs.iter()
            .map(|(l, _)| l.owner.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(jobs.iter().map(|(_, j)| j.order_id.0).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let keys = order_keys(&rows)?;
    lock_keys(&mut tx, keys).await?;
    // Under the locks: which leases still hold, and which orders another job is running.
    let held = held_leases(&mut tx, jobs.iter().map(|(l, _)| l)).await?;
    let mut out = vec![SendBegin::LeaseLost; jobs.len()];
    let mut idle: Vec<Uuid> = Vec::new();
    let mut live: Vec<Live> = Vec::new();
    let mut used_jobs = HashSet::new();
    let mut orders_taken = HashSet::new();
    let mut keyed: Vec<(usize, Uuid, String)> = Vec::new();
    for (i, (lease, job)) in jobs.iter().enumerate() {
        let Some(h) = held.iter().find(|h| h.is(lease)) else {
            continue;
        };
        if !used_jobs.insert(lease.job_id) {
            continue;
        }
        // One job per order works on it; a second one in the batch has nothing to do.
        if !orders_taken.insert((h.tenant, job.order_id.0)) {
            idle.push(lease.job_id.0);
            out[i] = SendBegin::Idle;
            continue;
        }
        if let Some(k) = &h.key {
            keyed.push((i, h.tenant, k.clone()));
        }
        live.push(Live {
            i,
            tenant: h.tenant,
            order: job.order_id.0,
        });
    }
    // Another worker running a job of the same order (added by an action while that
    // job ran) sends the order's next sends itself when its attempt ends: this job
    // would only take its in-flight attempt for a crash.
    let batch_ids: Vec<Uuid> = jobs.iter().map(|(l, _)| l.job_id.0).collect();
    let busy: HashSet<(Uuid, String)> = if keyed.is_empty() {
        HashSet::new()
    } else {
        let rows = sqlx::query(
            "SELECT DISTINCT j.tenant_id, j.unique_key FROM jobs j \
             JOIN UNNEST($1::uuid[], $2::text[]) AS u (t, k) ON j.tenant_id = u.t AND j.unique_key = u.k \
             WHERE j.state = 'running' AND j.unique_key IS NOT NULL AND NOT (j.id = ANY($3))",
        )
        .bind(keyed.iter().map(|k| k.1).collect::<Vec<_>>())
        .bind(keyed.iter().map(|k| k.2.as_str()).collect::<Vec<_>>())
        .bind(&batch_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((col(r, "tenant_id")?, col(r, "unique_key")?)))
            .collect::<StoreResult<_>>()?
    };
    let busy_at: HashSet<usize> = keyed
        .into_iter()
        .filter(|(_, t, k)| busy.contains(&(*t, k.clone())))
        .map(|(i, _, _)| i)
        .collect();
    live.retain(|l| {
        if busy_at.contains(&l.i) {
            idle.push(jobs[l.i].0.job_id.0);
            out[l.i] = SendBegin::Idle;
            false
        } else {
            true
        }
    });
    // Each order's head: its first send that has not succeeded, with its attempts' state.
    let heads = if live.is_empty() {
        Vec::new()
    } else {
        sqlx::query(&format!(
            "SELECT u.i, h.*, \
               (SELECT MAX(a.n) FROM send_attempts a WHERE a.tenant_id = h.tenant_id AND a.send_id = h.id) AS max_n, \
               ARRAY(SELECT a.n FROM send_attempts a WHERE a.tenant_id = h.tenant_id AND a.send_id = h.id \
                     AND a.outcome = 'started' ORDER BY a.n) AS started \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[]) AS u (t, o, i) \
             CROSS JOIN LATERAL (SELECT {SEND_COLUMNS} FROM status_sends s \
               WHERE s.tenant_id = u.t AND s.order_id = u.o AND s.state <> 'succeeded' \
               ORDER BY s.seq LIMIT 1) h"
        ))
        .bind(live.iter().map(|l| l.tenant).collect::<Vec<_>>())
        .bind(live.iter().map(|l| l.order).collect::<Vec<_>>())
        .bind(live.iter().map(|l| l.i as i64).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
    };
    let mut by_i = HashMap::with_capacity(heads.len());
    for r in &heads {
        let i = usize::try_from(col::<i64>(r, "i")?).unwrap_or(usize::MAX);
        by_i.insert(i, r);
    }
    let mut notes = Timeline::default();
    // Sends whose started attempts become interrupted.
    let (mut int_t, mut int_s) = (Vec::new(), Vec::new());
    let mut upd = SendRows::default();
    // Failed heads: the sends after them are blocked.
    let (mut blk_t, mut blk_o, mut blk_seq) = (Vec::new(), Vec::new(), Vec::new());
    // New attempts.
    let (mut new_t, mut new_s, mut new_n) = (Vec::new(), Vec::new(), Vec::new());
    for l in &live {
        let job_id = jobs[l.i].0.job_id.0;
        let Some(r) = by_i.get(&l.i) else {
            // Everything sent.
            idle.push(job_id);
            out[l.i] = SendBegin::Idle;
            continue;
        };
        let mut send = decode_send(r)?;
        if send.state != SendState::Pending {
            idle.push(job_id);
            out[l.i] = SendBegin::Idle;
            continue;
        }
        let max_n = col::<Option<i32>>(r, "max_n")?.unwrap_or(0);
        let started: Vec<i32> = col(r, "started")?;
        let interrupted = u32::try_from(started.len()).unwrap_or(u32::MAX);
        let t = send.tenant_id.0;
        let (channel, ext) = (send.channel_id.0, send.external_id.clone());
        for n in &started {
            notes.add(
                t,
                channel,
                &ext,
                now,
                "status_send_attempt",
                json!({ "send_id": send.id, "kind": send.kind().as_str(), "n": n,
                        "outcome": AttemptOutcome::Interrupted.as_str() }),
            );
        }
        if interrupted > 0 {
            // A crash: the lost attempt counts, and is the send's last error.
            int_t.push(t);
            int_s.push(send.id.0);
            send.attempts_used = send.attempts_used.saturating_add(interrupted);
            send.updated_at = now;
            send.last_error = Some(SendError {
                code: INTERRUPTED.to_owned(),
                message: INTERRUPTED_TEXT.to_owned(),
            });
        }
        if interrupted > 0 && send.attempts_used >= send.max_attempts {
            // Out of attempts: failed, and the order's later sends wait for its resend.
            upd.push(&send, SendState::Failed);
            blk_t.push(t);
            blk_o.push(send.order_id.0);
            blk_seq.push(send.seq);
            idle.push(job_id);
            out[l.i] = SendBegin::Idle;
            continue;
        }
        if interrupted > 0 {
            upd.push(&send, SendState::Pending);
        }
        let n = max_n.saturating_add(1);
        new_t.push(t);
        new_s.push(send.id.0);
        new_n.push(n);
        send.attempts = vec![SendAttempt {
            n: from_db(n, "n")?,
            started_at: now,
            outcome: AttemptOutcome::Started,
            request: None,
            http_status: None,
            response: None,
            duration_ms: None,
            error_code: None,
            error: None,
        }];
        out[l.i] = SendBegin::Started(Box::new(send));
    }
    if !int_t.is_empty() {
        sqlx::query(
            "UPDATE send_attempts a SET outcome = 'interrupted', error_code = $3, error = $4 \
             FROM UNNEST($1::uuid[], $2::uuid[]) AS u (t, s) \
             WHERE a.tenant_id = u.t AND a.send_id = u.s AND a.outcome = 'started'",
        )
        .bind(int_t)
        .bind(int_s)
        .bind(INTERRUPTED)
        .bind(INTERRUPTED_TEXT)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    if !upd.tenants.is_empty() {
        sqlx::query(
            "UPDATE status_sends s SET state = u.state, attempts_used = u.used, error_code = u.code, \
               error_message = u.msg, updated_at = $7 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[]) \
               AS u (t, id, state, used, code, msg) \
             WHERE s.tenant_id = u.t AND s.id = u.id",
        )
        .bind(upd.tenants)
        .bind(upd.ids)
        .bind(upd.states)
        .bind(upd.used)
        .bind(upd.codes)
        .bind(upd.messages)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    block_after(&mut tx, blk_t, blk_o, blk_seq, now).await?;
    if !new_t.is_empty() {
        sqlx::query(
            "INSERT INTO send_attempts (tenant_id, send_id, n, started_at, outcome) \
             SELECT t, s, n, $4, 'started' FROM UNNEST($1::uuid[], $2::uuid[], $3::int[]) AS u (t, s, n)",
        )
        .bind(new_t)
        .bind(new_s)
        .bind(new_n)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    delete_jobs(&mut tx, idle).await?;
    notes.write(&mut tx).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}
