//! Applying a batch of ERP actions: each decided (`ponte_core::action::decide`) against
//! what the ones before it left; the sends they enqueue, in their order's sequence.

use super::send_job;
use crate::events::{order_data, update_type};
use crate::{
    ActionApplied, ActionCommit, EventNotes, NewJob, SendState, StatusSend, StoredOrder,
    TimelineNote,
};
use chrono::{DateTime, Utc};
use ponte_core::action::{decide, Decision, Fulfilment};
use ponte_core::order_view::OrderView;
use ponte_core::{OrderId, OrderStatus, SendId, TenantId};
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// An order a batch of actions works on, as loaded (under the backend's lock).
#[derive(Debug, Clone)]
pub struct ActionTarget {
    /// The order.
    pub order: StoredOrder,
    /// Its platform id.
    pub external_id: String,
    /// Its highest send `seq` (0: none).
    pub last_seq: i64,
    /// Whether one of its sends is failed or blocked: new sends wait behind it.
    pub held: bool,
}

/// Loaded orders by (tenant, id).
pub type ActionTargets = HashMap<(TenantId, OrderId), ActionTarget>;

/// What a batch of actions writes.
#[derive(Debug, Default)]
pub struct ActionPlan {
    /// One result per action, in order.
    pub applied: Vec<ActionApplied>,
    /// What the batch changed of each order it applied actions to.
    pub orders: Vec<OrderChange>,
    /// The NF-e XML to store per order (the last of its applied actions').
    pub documents: Vec<(TenantId, OrderId, String)>,
    /// New sends (no attempts).
    pub sends: Vec<StatusSend>,
    /// One job per order with a new pending send.
    pub jobs: Vec<(TenantId, NewJob)>,
    /// Timeline entries, in order.
    pub notes: Vec<TimelineNote>,
    /// One event per order changed (`order.updated`, or `order.cancelled` when the
    /// batch cancelled it), its `data` the order as the batch leaves it.
    pub events: EventNotes,
}

/// What applied actions change of an order, and all a backend writes of it: the status
/// (its column and `status` in the order's data), the fulfilment record and
/// `updated_at`. The rest of the order's data stays as stored (not written again).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderChange {
    /// Owner.
    pub tenant_id: TenantId,
    /// The order.
    pub id: OrderId,
    /// Its status now.
    pub status: OrderStatus,
    /// Its fulfilment record now.
    pub fulfilment: Fulfilment,
    /// When it changed.
    pub updated_at: DateTime<Utc>,
}

/// Decides a batch of actions against the loaded orders (missing ones: `NotFound`).
pub fn plan_actions(
    batch: &[ActionCommit],
    mut orders: ActionTargets,
    now: DateTime<Utc>,
) -> ActionPlan {
    let mut plan = ActionPlan::default();
    let mut changed: Vec<(TenantId, OrderId, OrderStatus)> = Vec::new();
    let mut docs: HashMap<(TenantId, OrderId), &str> = HashMap::new();
    let mut job_for: HashSet<(TenantId, OrderId)> = HashSet::new();
    for c in batch {
        let key = (c.tenant_id, c.order_id);
        let Some(cur) = orders.get_mut(&key) else {
            plan.applied.push(ActionApplied::NotFound);
            continue;
        };
        let from = cur.order.data.status;
        let to = match decide(from, &cur.order.fulfilment, &c.action) {
            Err(e) => {
                plan.applied.push(ActionApplied::Refused(e));
                continue;
            }
            Ok(Decision::AlreadyDone) => {
                let order = Box::new(cur.order.clone());
                plan.applied.push(ActionApplied::AlreadyDone(order));
                continue;
            }
            Ok(Decision::Apply { status }) => status,
        };
        cur.order.data.status = to;
        cur.order.fulfilment.record(c.action.clone());
        cur.order.updated_at = now;
        if !changed.iter().any(|(t, o, _)| (*t, *o) == key) {
            changed.push((key.0, key.1, from));
        }
        if let Some(xml) = &c.xml {
            docs.insert(key, xml);
        }
        let note = |kind, detail| TimelineNote {
            tenant_id: c.tenant_id,
            channel_id: cur.order.channel_id,
            external_id: cur.external_id.clone(),
            at: now,
            kind,
            detail,
        };
        let mut detail = json!({ "action": c.action, "from": from, "to": to });
        if let Some(why) = &c.not_sent {
            detail["not_sent"] = json!({ "code": why.code().as_str(), "reason": why.to_string() });
        }
        plan.notes.push(note("erp_action", detail));
        let mut queued = None;
        if let Some(max_attempts) = c.send_max_attempts {
            cur.last_seq += 1;
            // Behind a failed or blocked send of the order, it waits (without a job)
            // for that one's resend.
            let state = if cur.held {
                SendState::Blocked
            } else {
                SendState::Pending
            };
            let send = StatusSend {
                id: SendId::new(),
                tenant_id: c.tenant_id,
                channel_id: cur.order.channel_id,
                order_id: c.order_id,
                external_id: cur.external_id.clone(),
                seq: cur.last_seq,
                action: c.action.clone(),
                state,
                attempts_used: 0,
                max_attempts,
                last_error: None,
                created_at: now,
                updated_at: now,
                attempts: vec![],
            };
            let detail = json!({ "send_id": send.id, "kind": send.kind().as_str(), "state": state.as_str() });
            plan.notes.push(note("status_send_queued", detail));
            if state == SendState::Pending && job_for.insert(key) {
                let job = send_job(cur.order.channel_id, c.order_id, now);
                plan.jobs.push((c.tenant_id, job));
            }
            queued = Some(send.id);
            plan.sends.push(send);
        }
        plan.applied.push(ActionApplied::Applied {
            order: Box::new(cur.order.clone()),
            send: queued,
        });
    }
    plan.documents = docs
        .into_iter()
        .map(|((t, o), xml)| (t, o, xml.to_owned()))
        .collect();
    for (t, o, from) in changed {
        let Some(cur) = orders.remove(&(t, o)) else {
            continue;
        };
        let order = cur.order;
        let view = OrderView::new(
            order.id,
            order.channel_id,
            order.data.clone(),
            order.fulfilment.clone(),
            order.created_at,
            order.updated_at,
        );
        let kind = update_type(Some(from), &order.data);
        let (ch, data) = (Some(order.channel_id), order_data(&view));
        plan.events.add(t, kind, now, ch, Some(order.id), data);
        plan.orders.push(OrderChange {
            tenant_id: order.tenant_id,
            id: order.id,
            status: order.data.status,
            fulfilment: order.fulfilment,
            updated_at: order.updated_at,
        });
    }
    plan
}
