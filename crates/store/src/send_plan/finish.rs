//! Finishing a batch of attempts, in batch order: the outcome decides the attempt's
//! record, the send's state and count, and whether the job comes back (a retry, a 429,
//! a hold; after a success, while the order has another pending send) or is done.

use super::HeldJob;
use crate::claim::{channel_bucket, Budget};
use crate::{
    AttemptOutcome, EventNotes, SendError, SendFinish, SendOutcome, SendState, StatusSend,
    TimelineNote,
};
use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::{ChannelId, JobId, OrderId, SendId, TenantId};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Loaded sends by (tenant, id): the batch's and their orders' unsent ones.
pub type FinishSends = HashMap<(TenantId, SendId), StatusSend>;

/// A send job going back to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeue {
    /// Owner.
    pub tenant: TenantId,
    /// The job.
    pub job: JobId,
    /// Its coalescing key: a pending twin holding it is the same work, and goes.
    pub key: Option<String>,
    /// Due again.
    pub run_at: DateTime<Utc>,
    /// The error code it keeps.
    pub error: Option<String>,
}

/// What finishing a batch writes.
#[derive(Debug, Default)]
pub struct FinishPlan {
    /// Per finish: whether its lease held (and it was recorded).
    pub out: Vec<bool>,
    /// The attempts to record: (position in the batch, outcome).
    pub attempts: Vec<(usize, AttemptOutcome)>,
    /// Sends changed, as the batch leaves them.
    pub sends: Vec<StatusSend>,
    /// Jobs done (deleted).
    pub done: Vec<(TenantId, JobId)>,
    /// Jobs back to pending.
    pub requeue: Vec<Requeue>,
    /// Timeline entries, in order.
    pub notes: Vec<TimelineNote>,
    /// Events (a send succeeded, or failed for good), in order.
    pub events: EventNotes,
    /// The extra calls charged, one per channel, in (tenant, channel) order: the order
    /// a claim holds buckets in, so the two never wait on each other crosswise.
    pub charges: Vec<Charge>,
}

/// Calls beyond the first that a batch's attempts made on one channel (whether their
/// lease held or not: the calls were made), charged to its bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Owner.
    pub tenant: TenantId,
    /// The bucket (`claim::channel_bucket`).
    pub key: String,
    /// Tokens charged.
    pub n: u32,
    /// The channel's budget.
    pub budget: Budget,
}

impl Charge {
    /// The bucket's level after the charge, from its level and the seconds since its
    /// last update (see `rate::spend`).
    pub fn next(&self, tokens: f64, elapsed_secs: f64) -> f64 {
        let b = &self.budget;
        crate::rate::spend(tokens, elapsed_secs, self.n, b.burst, b.per_sec)
    }
}

/// The batch's extra calls, summed per channel.
fn charges(batch: &[SendFinish]) -> Vec<Charge> {
    let mut by: BTreeMap<(TenantId, ChannelId), (u32, Budget)> = BTreeMap::new();
    for f in batch {
        if let Some(x) = f.extra_calls.filter(|x| x.n > 0) {
            let e = by
                .entry((f.tenant_id, x.channel_id))
                .or_insert((0, x.budget));
            e.0 = e.0.saturating_add(x.n);
        }
    }
    by.into_iter()
        .map(|((tenant, channel), (n, budget))| Charge {
            tenant,
            key: channel_bucket(channel),
            n,
            budget,
        })
        .collect()
}

/// Applies the finishes whose lease holds (`held`) to the loaded sends, in batch order.
pub fn plan_finish(
    batch: &[SendFinish],
    held: &HashMap<JobId, HeldJob>,
    mut sends: FinishSends,
    now: DateTime<Utc>,
) -> FinishPlan {
    let mut plan = FinishPlan {
        charges: charges(batch),
        ..FinishPlan::default()
    };
    let mut seen = HashSet::new();
    let mut changed: Vec<(TenantId, SendId)> = Vec::new();
    for (i, f) in batch.iter().enumerate() {
        let job = f.lease.job_id;
        let Some(h) = held.get(&job).filter(|_| !seen.contains(&job)) else {
            plan.out.push(false);
            continue;
        };
        let key = (h.tenant, f.send_id);
        let Some(send) = sends.get_mut(&key) else {
            plan.out.push(false);
            continue;
        };
        seen.insert(job);
        plan.out.push(true);
        let outcome = AttemptOutcome::from(&f.outcome);
        plan.attempts.push((i, outcome));
        if outcome.counts() {
            send.attempts_used = send.attempts_used.saturating_add(1);
        }
        send.updated_at = now;
        send.last_error = f.error.clone();
        let (order, seq) = (send.order_id, send.seq);
        let note = TimelineNote {
            tenant_id: h.tenant,
            channel_id: send.channel_id,
            external_id: send.external_id.clone(),
            at: now,
            kind: "status_send_attempt",
            detail: json!({
                "send_id": send.id, "kind": send.kind().as_str(), "n": f.n,
                "outcome": outcome.as_str(), "http_status": f.http_status,
                "error_code": f.error.as_ref().map(|e| &e.code),
            }),
        };
        plan.notes.push(note);
        changed.push(key);
        let kind = match f.outcome {
            SendOutcome::Succeeded => Some(EventType::StatusSendSucceeded),
            SendOutcome::Failed => Some(EventType::StatusSendFailed),
            _ => None,
        };
        if let Some(kind) = kind {
            let data = json!({
                "id": send.id, "order_id": order, "channel_id": send.channel_id,
                "external_id": send.external_id, "kind": send.kind().as_str(),
                "attempts": send.attempts_used, "http_status": f.http_status,
                "error": f.error.as_ref().map(|e| json!({"code": e.code, "message": e.message})),
            });
            let ch = Some(send.channel_id);
            plan.events.add(h.tenant, kind, now, ch, Some(order), data);
        }
        let run_at = match &f.outcome {
            SendOutcome::Failed => {
                send.state = SendState::Failed;
                send.last_error.get_or_insert_with(|| SendError {
                    code: "failed".into(),
                    message: String::new(),
                });
                // The order's later pending sends wait for this one to be resent.
                for s in sends.values_mut() {
                    if same_order(s, h.tenant, order)
                        && s.seq > seq
                        && s.state == SendState::Pending
                    {
                        s.state = SendState::Blocked;
                        s.updated_at = now;
                        changed.push((s.tenant_id, s.id));
                    }
                }
                None
            }
            SendOutcome::Succeeded => {
                send.state = SendState::Succeeded;
                // The job goes on while the order has another pending send.
                let more = sends
                    .values()
                    .any(|s| same_order(s, h.tenant, order) && s.state == SendState::Pending);
                more.then_some(now)
            }
            SendOutcome::Retry { run_at }
            | SendOutcome::RateLimited { run_at }
            | SendOutcome::Held { run_at } => Some(*run_at),
        };
        match run_at {
            None => plan.done.push((h.tenant, job)),
            Some(run_at) => {
                // A job of the batch already back for the same key is the same work.
                if let Some(k) = &h.key {
                    if let Some(p) = plan
                        .requeue
                        .iter()
                        .position(|r| r.tenant == h.tenant && r.key.as_ref() == Some(k))
                    {
                        let earlier = plan.requeue.remove(p);
                        plan.done.push((earlier.tenant, earlier.job));
                    }
                }
                plan.requeue.push(Requeue {
                    tenant: h.tenant,
                    job,
                    key: h.key.clone(),
                    run_at,
                    error: f.error.as_ref().map(|e| e.code.clone()),
                });
            }
        }
    }
    let mut written = HashSet::new();
    plan.sends = changed
        .into_iter()
        .filter(|k| written.insert(*k))
        .filter_map(|k| sends.remove(&k))
        .collect();
    plan
}

fn same_order(s: &StatusSend, tenant: TenantId, order: OrderId) -> bool {
    s.tenant_id == tenant && s.order_id == order
}
