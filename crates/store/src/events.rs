//! Outbound events: one per recorded change, collected while a transaction decides
//! and written by the backend in one statement as its last write before it commits
//! (so the event commits with the change, or neither does).
//!
//! Each tenant's events carry a `seq` in commit order: a reader that keeps the last
//! `seq` it saw and asks for the ones after it never misses an event committed late.
//! SQLite has one writer, so its rowid order is commit order. PostgreSQL takes the
//! numbers from a per-tenant counter row (`event_seqs`) updated by that same last
//! statement: the row stays locked until the transaction commits, so the numbers of
//! one tenant are handed out, and become visible, in commit order.

use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::order::OrderData;
use ponte_core::order_view::OrderView;
use ponte_core::{ChannelId, EventId, OrderId, TenantId};
use serde_json::{json, Value};

/// An event to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Owner.
    pub tenant_id: TenantId,
    /// Stable id (the `webhook-id` of every delivery of it).
    pub id: EventId,
    /// What happened.
    pub kind: EventType,
    /// When.
    pub at: DateTime<Utc>,
    /// The channel it is about, when one.
    pub channel_id: Option<ChannelId>,
    /// The order it is about, when one (deliveries of one order keep their order).
    pub order_id: Option<OrderId>,
    /// The payload's `data`.
    pub data: Value,
}

/// A written event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Position in the tenant's commit order (the feed's cursor).
    pub seq: i64,
    /// The event.
    pub event: NewEvent,
}

impl Event {
    /// The payload as delivered and listed: `{"type", "timestamp", "data"}`.
    pub fn payload(&self) -> Value {
        json!({
            "type": self.event.kind.as_str(),
            "timestamp": self.event.at,
            "data": self.event.data,
        })
    }
}

/// Which events of a tenant to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// After this `seq` (0: from the first).
    pub after: i64,
    /// Only these types (empty: all).
    pub types: Vec<EventType>,
    /// At most this many.
    pub limit: u32,
}

/// Events collected during a transaction, in the order they happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventNotes(Vec<NewEvent>);

impl EventNotes {
    /// Adds an event.
    pub fn add(
        &mut self,
        tenant: TenantId,
        kind: EventType,
        at: DateTime<Utc>,
        channel: Option<ChannelId>,
        order: Option<OrderId>,
        data: Value,
    ) {
        self.0.push(NewEvent {
            tenant_id: tenant,
            id: EventId::new(),
            kind,
            at,
            channel_id: channel,
            order_id: order,
            data,
        });
    }

    /// The events, in order.
    pub fn as_slice(&self) -> &[NewEvent] {
        &self.0
    }
}

/// An order event's `data`: the order as `GET /api/v1/orders/{id}` shows it.
pub fn order_data(view: &OrderView) -> Value {
    serde_json::to_value(view).unwrap_or_else(|_| json!({}))
}

/// The type of the event for an order update: `order.cancelled` when this update
/// cancelled it, else `order.updated`.
pub fn update_type(status_from: Option<ponte_core::OrderStatus>, data: &OrderData) -> EventType {
    let cancelled = ponte_core::OrderStatus::Cancelled;
    match status_from {
        Some(from) if from != cancelled && data.status == cancelled => EventType::OrderCancelled,
        _ => EventType::OrderUpdated,
    }
}

/// The event of a channel's webhook registration becoming `failed`
/// (`channel.subscription_failed`); none while it stays failed or for other states.
pub fn subscription_events(
    tenant: TenantId,
    channel: ChannelId,
    old: Option<&crate::Subscription>,
    new: &crate::Subscription,
) -> EventNotes {
    let mut events = EventNotes::default();
    let failed = crate::SubscriptionState::Failed;
    if new.state == failed && old.map(|o| o.state) != Some(failed) {
        let data = json!({"channel_id": channel, "reason": new.reason, "url": new.url});
        let kind = EventType::ChannelSubscriptionFailed;
        events.add(tenant, kind, new.checked_at, Some(channel), None, data);
    }
    events
}

/// The event of a channel's credentials being refused (`channel.credentials_held`),
/// written when the refusal is first recorded; none while one is already recorded.
pub fn credentials_events(
    tenant: TenantId,
    channel: ChannelId,
    problem: &crate::CredentialsProblem,
    recorded: bool,
) -> EventNotes {
    let mut events = EventNotes::default();
    if recorded {
        let data =
            json!({"channel_id": channel, "action": "reconnect", "message": problem.message});
        let kind = EventType::ChannelCredentialsHeld;
        events.add(tenant, kind, problem.since, Some(channel), None, data);
    }
    events
}
