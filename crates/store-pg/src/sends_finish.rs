//! Finishing status sends: how each attempt ended, applied to the attempt, its send and
//! its job under the job's lease. One transaction per batch, one statement per kind of
//! write.

use crate::codec::{col, order_lock_key};
use crate::db_err;
use crate::sends::{block_after, delete_jobs, held_leases, lock_keys, notify_workers, to_db};
use crate::timeline::Timeline;
use chrono::{DateTime, Utc};
use ponte_store::{AttemptOutcome, SendFinish, SendOutcome, SendState, StoreResult};
use serde_json::json;
use sqlx::postgres::PgPool;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// What one finished attempt does to its send and job.
struct Effect {
    /// The send's new state (`None`: unchanged).
    state: Option<SendState>,
    /// Whether the attempt counts.
    counts: bool,
    /// The job: due again at this time, or (`None`) done.
    requeue: Option<DateTime<Utc>>,
}

fn effect(o: &SendOutcome, now: DateTime<Utc>) -> (AttemptOutcome, Effect) {
    match o {
        // The job stays if the order has more to send (decided after the writes).
        SendOutcome::Succeeded => (
            AttemptOutcome::Succeeded,
            Effect {
                state: Some(SendState::Succeeded),
                counts: true,
                requeue: Some(now),
            },
        ),
        SendOutcome::Retry { run_at } => (
            AttemptOutcome::Retrying,
            Effect {
                state: None,
                counts: true,
                requeue: Some(*run_at),
            },
        ),
        SendOutcome::RateLimited { run_at } => (
            AttemptOutcome::RateLimited,
            Effect {
                state: None,
                counts: false,
                requeue: Some(*run_at),
            },
        ),
        SendOutcome::Held { run_at } => (
            AttemptOutcome::Held,
            Effect {
                state: None,
                counts: false,
                requeue: Some(*run_at),
            },
        ),
        SendOutcome::Failed => (
            AttemptOutcome::Failed,
            Effect {
                state: Some(SendState::Failed),
                counts: true,
                requeue: None,
            },
        ),
    }
}

/// The attempt and send rows `finish_sends` writes, as columns.
#[derive(Default)]
struct Finished<'a> {
    tenants: Vec<Uuid>,
    sends: Vec<Uuid>,
    n: Vec<i32>,
    outcomes: Vec<&'static str>,
    requests: Vec<Option<&'a str>>,
    http: Vec<Option<i32>>,
    responses: Vec<Option<&'a str>>,
    ms: Vec<i64>,
    codes: Vec<Option<&'a str>>,
    messages: Vec<Option<&'a str>>,
    /// The send's new state, if it changes.
    states: Vec<Option<&'static str>>,
    /// Attempts used by this one (0 or 1).
    inc: Vec<i32>,
    /// The send's last error from now on (a failure without one still says so).
    send_codes: Vec<Option<&'a str>>,
    send_messages: Vec<Option<&'a str>>,
}

impl<'a> Finished<'a> {
    fn push(&mut self, f: &'a SendFinish, outcome: AttemptOutcome, e: &Effect) {
        self.tenants.push(f.tenant_id.0);
        self.sends.push(f.send_id.0);
        self.n.push(to_db(f.n));
        self.outcomes.push(outcome.as_str());
        self.requests.push(f.request.as_deref());
        self.http.push(f.http_status.map(i32::from));
        self.responses.push(f.response.as_deref());
        self.ms
            .push(i64::try_from(f.duration_ms).unwrap_or(i64::MAX));
        self.codes.push(f.error.as_ref().map(|e| e.code.as_str()));
        self.messages
            .push(f.error.as_ref().map(|e| e.message.as_str()));
        self.states.push(e.state.map(SendState::as_str));
        self.inc.push(i32::from(e.counts));
        let failed = e.state == Some(SendState::Failed);
        self.send_codes.push(match &f.error {
            Some(e) => Some(e.code.as_str()),
            None => failed.then_some("failed"),
        });
        self.send_messages.push(match &f.error {
            Some(e) => Some(e.message.as_str()),
            None => failed.then_some(""),
        });
    }
}

/// A send job going back to the queue.
struct Requeue<'a> {
    /// Position in the batch.
    i: usize,
    job: Uuid,
    tenant: Uuid,
    key: Option<&'a str>,
    run_at: DateTime<Utc>,
}

/// A send as `finish_sends` needs it.
struct Target {
    channel: Uuid,
    order: Uuid,
    external_id: String,
    seq: i64,
    kind: String,
}

pub(crate) async fn finish_sends(
    pool: &PgPool,
    batch: &[SendFinish],
    now: DateTime<Utc>,
) -> StoreResult<Vec<bool>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    let rows = sqlx::query(
        "SELECT u.i, s.channel_id, s.order_id, s.external_id, s.seq, s.kind \
         FROM UNNEST($1::uuid[], $2::uuid[]) WITH ORDINALITY AS u (t, id, i) \
         JOIN status_sends s ON s.tenant_id = u.t AND s.id = u.id",
    )
    .bind(batch.iter().map(|f| f.tenant_id.0).collect::<Vec<_>>())
    .bind(batch.iter().map(|f| f.send_id.0).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut targets: HashMap<usize, Target> = HashMap::with_capacity(rows.len());
    for r in &rows {
        // WITH ORDINALITY counts from 1.
        let i = usize::try_from(col::<i64>(r, "i")? - 1).unwrap_or(usize::MAX);
        targets.insert(
            i,
            Target {
                channel: col(r, "channel_id")?,
                order: col(r, "order_id")?,
                external_id: col(r, "external_id")?,
                seq: col(r, "seq")?,
                kind: col(r, "kind")?,
            },
        );
    }
    let keys = targets
        .iter()
        .map(|(i, s)| order_lock_key(batch[*i].tenant_id.0, s.channel, &s.external_id))
        .collect();
    lock_keys(&mut tx, keys).await?;
    let held = held_leases(&mut tx, batch.iter().map(|f| &f.lease)).await?;
    let mut out = vec![false; batch.len()];
    let mut used_jobs = HashSet::new();
    let mut notes = Timeline::default();
    let mut rows = Finished::default();
    let (mut blk_t, mut blk_o, mut blk_seq) = (Vec::new(), Vec::new(), Vec::new());
    let mut requeue: Vec<Requeue<'_>> = Vec::new();
    let mut done: Vec<Uuid> = Vec::new();
    for (i, f) in batch.iter().enumerate() {
        let Some(s) = targets.get(&i) else { continue };
        let Some(h) = held.iter().find(|h| h.is(&f.lease)) else {
            continue;
        };
        if !used_jobs.insert(f.lease.job_id) {
            continue;
        }
        out[i] = true;
        let t = f.tenant_id.0;
        let (outcome, e) = effect(&f.outcome, now);
        let code = f.error.as_ref().map(|e| e.code.as_str());
        rows.push(f, outcome, &e);
        if e.state == Some(SendState::Failed) {
            blk_t.push(t);
            blk_o.push(s.order);
            blk_seq.push(s.seq);
        }
        match e.requeue {
            Some(run_at) => requeue.push(Requeue {
                i,
                job: h.job,
                tenant: h.tenant,
                key: h.key.as_deref(),
                run_at,
            }),
            None => done.push(h.job),
        }
        notes.add(
            t,
            s.channel,
            &s.external_id,
            now,
            "status_send_attempt",
            json!({ "send_id": f.send_id, "kind": s.kind, "n": f.n, "outcome": outcome.as_str(),
                    "http_status": f.http_status, "error_code": code }),
        );
    }
    if !rows.tenants.is_empty() {
        sqlx::query(
            "UPDATE send_attempts a SET outcome = u.outcome, request = u.request, http_status = u.http, \
               response = u.response, duration_ms = u.ms, error_code = u.code, error = u.msg \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::int[], $7::text[], \
                         $8::bigint[], $9::text[], $10::text[]) \
               AS u (t, s, n, outcome, request, http, response, ms, code, msg) \
             WHERE a.tenant_id = u.t AND a.send_id = u.s AND a.n = u.n",
        )
        .bind(&rows.tenants)
        .bind(&rows.sends)
        .bind(rows.n)
        .bind(rows.outcomes)
        .bind(rows.requests)
        .bind(rows.http)
        .bind(rows.responses)
        .bind(rows.ms)
        .bind(rows.codes)
        .bind(rows.messages)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // The attempt's error becomes the send's last error (none after a success).
        sqlx::query(
            "UPDATE status_sends s SET state = COALESCE(u.state, s.state), \
               attempts_used = s.attempts_used + u.inc, error_code = u.code, error_message = u.msg, \
               updated_at = $7 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::text[]) \
               AS u (t, id, state, inc, code, msg) \
             WHERE s.tenant_id = u.t AND s.id = u.id",
        )
        .bind(rows.tenants)
        .bind(rows.sends)
        .bind(rows.states)
        .bind(rows.inc)
        .bind(rows.send_codes)
        .bind(rows.send_messages)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    block_after(&mut tx, blk_t, blk_o, blk_seq, now).await?;
    // After a success the job goes on only if the order has another pending send.
    let succeeded: Vec<usize> = requeue
        .iter()
        .filter(|r| matches!(batch[r.i].outcome, SendOutcome::Succeeded))
        .map(|r| r.i)
        .collect();
    if !succeeded.is_empty() {
        let more: HashSet<i64> = sqlx::query_scalar(
            "SELECT u.i FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[]) AS u (t, o, i) \
             WHERE EXISTS (SELECT 1 FROM status_sends s WHERE s.tenant_id = u.t AND s.order_id = u.o \
                           AND s.state = 'pending')",
        )
        .bind(succeeded.iter().map(|i| batch[*i].tenant_id.0).collect::<Vec<_>>())
        .bind(
            succeeded
                .iter()
                .map(|i| targets.get(i).map_or(Uuid::nil(), |s| s.order))
                .collect::<Vec<_>>(),
        )
        .bind(succeeded.iter().map(|i| *i as i64).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .into_iter()
        .collect();
        requeue.retain(|r| {
            let finished = matches!(batch[r.i].outcome, SendOutcome::Succeeded)
                && !more.contains(&(r.i as i64));
            if finished {
                done.push(r.job);
            }
            !finished
        });
    }
    delete_jobs(&mut tx, done).await?;
    if !requeue.is_empty() {
        // A pending twin (enqueued by an action while this job ran) would collide with
        // this job going back to pending: it is the same work, so it goes.
        let twins: Vec<(Uuid, &str)> = requeue
            .iter()
            .filter_map(|r| r.key.map(|k| (r.tenant, k)))
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
        sqlx::query(
            "UPDATE jobs j SET state = 'pending', run_at = u.run_at, \
               last_error = u.err, lease_owner = NULL, lease_until = NULL \
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[]) AS u (id, run_at, err) \
             WHERE j.id = u.id AND j.state = 'running'",
        )
        .bind(requeue.iter().map(|r| r.job).collect::<Vec<_>>())
        .bind(requeue.iter().map(|r| r.run_at).collect::<Vec<_>>())
        .bind(
            requeue
                .iter()
                .map(|r| batch[r.i].error.as_ref().map(|e| e.code.as_str()))
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        notify_workers(&mut tx).await?;
    }
    notes.write(&mut tx).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}
