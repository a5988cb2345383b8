//! Outbound webhooks: the endpoints integrators register, the events queued for each
//! (a message per endpoint and event), and every delivery attempt. The rules both
//! backends apply are here: which events an endpoint wants ([`WebhookEndpoint::wants`]),
//! and what a finished attempt does to its message and endpoint ([`plan_finish`]).

use crate::{Event, EventNotes, NewEvent};
use chrono::{DateTime, Duration, Utc};
use ponte_core::event::EventType;
use ponte_core::{AttemptId, ChannelId, EndpointId, EventId, TenantId};
use serde_json::json;
use std::collections::{HashMap, HashSet};

mod slots;
pub use slots::DeliverySlots;

/// An endpoint failing this long without a success is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// Where an integrator wants events.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    /// Owner.
    pub tenant_id: TenantId,
    /// Id.
    pub id: EndpointId,
    /// Where events are POSTed.
    pub url: String,
    /// What it is for.
    pub description: String,
    /// Only these types (`None`: all).
    pub event_types: Option<Vec<EventType>>,
    /// Only events of this channel (`None`: all).
    pub channel_id: Option<ChannelId>,
    /// Most deliveries a second (`None`: no limit).
    pub rate_limit_per_sec: Option<u32>,
    /// The signing secret, sealed by the vault.
    pub secret: Vec<u8>,
    /// The secret before the last rotation, sealed; it still signs until
    /// `old_secret_until`.
    pub old_secret: Option<Vec<u8>>,
    /// Until when the old secret still signs.
    pub old_secret_until: Option<DateTime<Utc>>,
    /// Deliveries go out only while enabled.
    pub enabled: bool,
    /// Why it was disabled (`gone`: it answered 410; `failing`: days without success).
    pub disabled_reason: Option<String>,
    /// Failing since (the first failed attempt after the last success).
    pub failing_since: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Whether the endpoint wants the event (its type and channel filters).
    pub fn wants(&self, e: &NewEvent) -> bool {
        let typed = self
            .event_types
            .as_ref()
            .is_none_or(|t| t.contains(&e.kind));
        let channel = self.channel_id.is_none_or(|c| e.channel_id == Some(c));
        e.tenant_id == self.tenant_id && typed && channel
    }
}

/// The key that keeps an event in sequence with the others of its order, per
/// endpoint: the order's id, or the event's own id when it is about no order.
pub fn order_key(e: &NewEvent) -> String {
    match e.order_id {
        Some(o) => o.to_string(),
        None => e.id.to_string(),
    }
}

/// A message claimed for delivery, with its attempt recorded as started.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// Where it goes.
    pub endpoint: WebhookEndpoint,
    /// What goes.
    pub event: Event,
    /// The attempt (recorded `started`).
    pub attempt: AttemptId,
    /// Attempts already used by the message (this one not counted).
    pub attempts_used: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// A 2xx in time: delivered.
    Succeeded,
    /// Failed; tried again at the time given.
    Retry(DateTime<Utc>),
    /// Failed and out of attempts: the message is failed (visible, resendable).
    Failed,
    /// 410 Gone: the message is failed and the endpoint disabled at once.
    Gone,
}

/// An attempt's result, recorded under the claiming worker's lease.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFinish {
    /// Owner.
    pub tenant_id: TenantId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The event.
    pub event_seq: i64,
    /// The attempt.
    pub attempt: AttemptId,
    /// The worker that claimed it.
    pub owner: String,
    /// The HTTP status answered, if any.
    pub http_status: Option<u16>,
    /// The start of the answer's body.
    pub response: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// Why it failed (timeout, connection refused, forbidden address, HTTP status).
    pub error: Option<String>,
    /// What follows.
    pub outcome: DeliveryOutcome,
}

/// One delivery attempt as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    /// Id.
    pub id: AttemptId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The event's position in the feed.
    pub event_seq: i64,
    /// The event's id (the `webhook-id`).
    pub event_id: EventId,
    /// The event's type.
    pub event_type: EventType,
    /// The message's attempt number since it was (re)queued.
    pub n: u32,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// `started`, `succeeded`, `failed` or `interrupted` (its worker stopped).
    pub outcome: String,
    /// HTTP status answered.
    pub http_status: Option<u16>,
    /// The start of the answer's body.
    pub response: Option<String>,
    /// Duration.
    pub duration_ms: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// An endpoint's deliveries at a glance (the console's list of endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointDeliveries {
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// Messages still to deliver (queued or waiting for a retry).
    pub pending: u64,
    /// Messages out of attempts (resendable).
    pub failed: u64,
    /// When the last attempt that succeeded started.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the last attempt that failed started.
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// A message's state after a finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageUpdate {
    /// Owner.
    pub tenant_id: TenantId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The event.
    pub event_seq: i64,
    /// `pending`, `succeeded` or `failed`.
    pub state: &'static str,
    /// Attempts used.
    pub attempts_used: u32,
    /// Due again (pending).
    pub next_at: DateTime<Utc>,
}

/// What a batch of finishes writes.
#[derive(Debug, Default)]
pub struct FinishPlan {
    /// Per finish: whether its lease held (and it was recorded).
    pub out: Vec<bool>,
    /// Attempts to record: (position in the batch, `succeeded` or `failed`).
    pub attempts: Vec<(usize, &'static str)>,
    /// Messages to write.
    pub messages: Vec<MessageUpdate>,
    /// Endpoints changed (failing since, disabled).
    pub endpoints: Vec<WebhookEndpoint>,
    /// Events (an endpoint disabled).
    pub events: EventNotes,
}

/// A held message: its attempts used, by (tenant, endpoint, seq).
pub type HeldMessages = HashMap<(TenantId, EndpointId, i64), u32>;

/// Applies the finishes whose lease holds (`held`, with their messages' attempts used)
/// to the messages and their endpoints, in batch order: a success clears the
/// endpoint's failing time; a failure sets it if unset, and disables the endpoint after
/// [`DISABLE_AFTER`]; a 410 disables it at once. Disabling writes an event.
pub fn plan_finish(
    batch: &[DeliveryFinish],
    held: &HeldMessages,
    mut endpoints: HashMap<(TenantId, EndpointId), WebhookEndpoint>,
    now: DateTime<Utc>,
) -> FinishPlan {
    let mut plan = FinishPlan::default();
    let mut seen = HashSet::new();
    let mut changed = Vec::new();
    for (i, f) in batch.iter().enumerate() {
        let key = (f.tenant_id, f.endpoint_id, f.event_seq);
        let (Some(used), Some(ep)) = (
            held.get(&key).filter(|_| !seen.contains(&key)),
            endpoints.get_mut(&(f.tenant_id, f.endpoint_id)),
        ) else {
            plan.out.push(false);
            continue;
        };
        seen.insert(key);
        plan.out.push(true);
        let ok = f.outcome == DeliveryOutcome::Succeeded;
        plan.attempts
            .push((i, if ok { "succeeded" } else { "failed" }));
        let (state, next_at) = match f.outcome {
            DeliveryOutcome::Succeeded => ("succeeded", now),
            DeliveryOutcome::Retry(at) => ("pending", at),
            DeliveryOutcome::Failed | DeliveryOutcome::Gone => ("failed", now),
        };
        plan.messages.push(MessageUpdate {
            tenant_id: f.tenant_id,
            endpoint_id: f.endpoint_id,
            event_seq: f.event_seq,
            state,
            attempts_used: used.saturating_add(1),
            next_at,
        });
        let before = (ep.failing_since, ep.enabled);
        if ok {
            ep.failing_since = None;
        } else {
            let since = *ep.failing_since.get_or_insert(now);
            let reason = if f.outcome == DeliveryOutcome::Gone {
                Some("gone")
            } else if now - since >= DISABLE_AFTER {
                Some("failing")
            } else {
                None
            };
            if let Some(reason) = reason.filter(|_| ep.enabled) {
                ep.enabled = false;
                ep.disabled_reason = Some(reason.to_owned());
                let data = json!({
                    "id": ep.id, "url": ep.url, "reason": reason,
                    "failing_since": ep.failing_since, "http_status": f.http_status,
                });
                let kind = EventType::EndpointDisabled;
                plan.events.add(ep.tenant_id, kind, now, None, None, data);
            }
        }
        if (ep.failing_since, ep.enabled) != before {
            ep.updated_at = now;
            changed.push((f.tenant_id, f.endpoint_id));
        }
    }
    let mut written = HashSet::new();
    plan.endpoints = changed
        .into_iter()
        .filter(|k| written.insert(*k))
        .filter_map(|k| endpoints.remove(&k))
        .collect();
    plan
}

#[cfg(test)]
mod tests;
