//! Beginning a batch of send jobs: one job per order works on it; the order's first
//! send that has not succeeded gets a new attempt recorded as `started`, after the
//! attempts a crash left `started` are settled as `interrupted` (they count: out of
//! attempts, the send fails and the order's later sends are blocked).

use super::{INTERRUPTED, INTERRUPTED_TEXT};
use crate::{
    AttemptOutcome, JobLease, SendAttempt, SendBegin, SendError, SendJob, SendState, StatusSend,
    TimelineNote,
};
use chrono::{DateTime, Utc};
use ponte_core::{JobId, OrderId, SendId, TenantId};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// A job whose lease holds (its row as stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldJob {
    /// Owner.
    pub tenant: TenantId,
    /// Its coalescing key.
    pub key: Option<String>,
}

/// The jobs of a begin batch that may work, and what the others come to.
#[derive(Debug)]
pub struct BeginStart {
    /// One result per job; `Started` ones are decided by [`plan_begin`].
    pub out: Vec<SendBegin>,
    /// The jobs that work, as (position, tenant, order): load their orders' heads.
    pub live: Vec<(usize, TenantId, OrderId)>,
    /// Jobs with nothing to do (finished: deleted).
    pub done: Vec<(TenantId, JobId)>,
}

/// Picks the jobs that work: lease held (`held`), the first of the batch for its order,
/// and no running job outside the batch holds its key (`busy`: that one sends the
/// order's next sends itself when its attempt ends).
pub fn begin_live(
    jobs: &[(JobLease, SendJob)],
    held: &HashMap<JobId, HeldJob>,
    busy: &HashSet<(TenantId, String)>,
) -> BeginStart {
    let mut start = BeginStart {
        out: vec![SendBegin::LeaseLost; jobs.len()],
        live: Vec::new(),
        done: Vec::new(),
    };
    let mut seen_jobs = HashSet::new();
    let mut orders = HashSet::new();
    for (i, (lease, job)) in jobs.iter().enumerate() {
        let Some(h) = held.get(&lease.job_id) else {
            continue;
        };
        if !seen_jobs.insert(lease.job_id) {
            continue;
        }
        let twin_running = h
            .key
            .as_ref()
            .is_some_and(|k| busy.contains(&(h.tenant, k.clone())));
        if twin_running || !orders.insert((h.tenant, job.order_id)) {
            start.out[i] = SendBegin::Idle;
            start.done.push((h.tenant, lease.job_id));
            continue;
        }
        start.live.push((i, h.tenant, job.order_id));
    }
    start
}

/// An order's head: its first send that has not succeeded, as stored.
#[derive(Debug, Clone)]
pub struct HeadSend {
    /// The send (without attempts).
    pub send: StatusSend,
    /// Its highest attempt number (0: none).
    pub max_n: u32,
    /// The numbers of its attempts still `started`.
    pub started: Vec<u32>,
}

/// What beginning a batch writes.
#[derive(Debug, Default)]
pub struct BeginPlan {
    /// One result per job.
    pub out: Vec<SendBegin>,
    /// Sends whose `started` attempts become `interrupted` ([`INTERRUPTED`]).
    pub interrupted: Vec<(TenantId, SendId)>,
    /// Sends changed (state, attempts used, last error), as they are left.
    pub sends: Vec<StatusSend>,
    /// Failed sends as (tenant, order, seq): the order's later pending sends are blocked.
    pub block_after: Vec<(TenantId, OrderId, i64)>,
    /// New attempts, recorded `started`: (tenant, send, n).
    pub attempts: Vec<(TenantId, SendId, u32)>,
    /// Jobs with nothing to do (finished: deleted).
    pub done: Vec<(TenantId, JobId)>,
    /// Timeline entries, in order.
    pub notes: Vec<TimelineNote>,
}

/// Begins the live jobs of `start` given their orders' heads (an order without one has
/// everything sent).
pub fn plan_begin(
    start: BeginStart,
    jobs: &[(JobLease, SendJob)],
    heads: &HashMap<(TenantId, OrderId), HeadSend>,
    now: DateTime<Utc>,
) -> BeginPlan {
    let mut plan = BeginPlan {
        out: start.out,
        done: start.done,
        ..BeginPlan::default()
    };
    for (i, tenant, order) in start.live {
        let job_id = jobs[i].0.job_id;
        let Some(head) = heads
            .get(&(tenant, order))
            .filter(|h| h.send.state == SendState::Pending)
        else {
            plan.out[i] = SendBegin::Idle;
            plan.done.push((tenant, job_id));
            continue;
        };
        let mut send = head.send.clone();
        for n in &head.started {
            plan.notes.push(TimelineNote {
                tenant_id: tenant,
                channel_id: send.channel_id,
                external_id: send.external_id.clone(),
                at: now,
                kind: "status_send_attempt",
                detail: json!({ "send_id": send.id, "kind": send.kind().as_str(), "n": n,
                                "outcome": AttemptOutcome::Interrupted.as_str() }),
            });
        }
        if !head.started.is_empty() {
            // A crash: the lost attempts count, and are the send's last error.
            let lost = u32::try_from(head.started.len()).unwrap_or(u32::MAX);
            plan.interrupted.push((tenant, send.id));
            send.attempts_used = send.attempts_used.saturating_add(lost);
            send.updated_at = now;
            send.last_error = Some(SendError {
                code: INTERRUPTED.to_owned(),
                message: INTERRUPTED_TEXT.to_owned(),
            });
            if send.attempts_used >= send.max_attempts {
                // Out of attempts: failed; the order's later sends wait for its resend.
                send.state = SendState::Failed;
                plan.block_after.push((tenant, send.order_id, send.seq));
                plan.sends.push(send);
                plan.out[i] = SendBegin::Idle;
                plan.done.push((tenant, job_id));
                continue;
            }
            plan.sends.push(send.clone());
        }
        let n = head.max_n.saturating_add(1);
        plan.attempts.push((tenant, send.id, n));
        send.attempts = vec![SendAttempt {
            n,
            started_at: now,
            outcome: AttemptOutcome::Started,
            request: None,
            http_status: None,
            response: None,
            duration_ms: None,
            error_code: None,
            error: None,
        }];
        plan.out[i] = SendBegin::Started(Box::new(send));
    }
    plan
}
