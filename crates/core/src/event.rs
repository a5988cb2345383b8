//! Outbound event types: every change ponte records that an integrator (an ERP, a WMS)
//! can hear of, by webhook or from the event feed.

use serde::{Deserialize, Serialize};

/// What happened. The wire name (`order.created`, ...) is [`EventType::as_str`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum EventType {
    /// An order was imported.
    #[serde(rename = "order.created")]
    OrderCreated,
    /// An order's status or content changed.
    #[serde(rename = "order.updated")]
    OrderUpdated,
    /// An order became cancelled.
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// An order was not imported (import policy).
    #[serde(rename = "order.skipped")]
    OrderSkipped,
    /// A status send reached the platform.
    #[serde(rename = "status_send.succeeded")]
    StatusSendSucceeded,
    /// A status send is out of attempts (it is on the Errors list).
    #[serde(rename = "status_send.failed")]
    StatusSendFailed,
    /// Stock values reached a channel (one push call).
    #[serde(rename = "stock.pushed")]
    StockPushed,
    /// A stock push call failed for good (its values wait for the next change).
    #[serde(rename = "stock.push_failed")]
    StockPushFailed,
    /// Registering a channel's webhooks at its platform failed (polling still imports).
    #[serde(rename = "channel.subscription_failed")]
    ChannelSubscriptionFailed,
    /// The platform refused a channel's credentials: the seller must reconnect (sends
    /// and stock pushes wait until the credentials are replaced).
    #[serde(rename = "channel.credentials_held")]
    ChannelCredentialsHeld,
    /// A scheduled task's run (polling, sync, sweep) failed.
    #[serde(rename = "task_run.failed")]
    TaskRunFailed,
    /// A webhook endpoint was disabled (it answered 410, or failed for days).
    #[serde(rename = "webhook_endpoint.disabled")]
    EndpointDisabled,
}

impl EventType {
    /// Every type, in documentation order.
    pub const ALL: [EventType; 12] = [
        EventType::OrderCreated,
        EventType::OrderUpdated,
        EventType::OrderCancelled,
        EventType::OrderSkipped,
        EventType::StatusSendSucceeded,
        EventType::StatusSendFailed,
        EventType::StockPushed,
        EventType::StockPushFailed,
        EventType::ChannelSubscriptionFailed,
        EventType::ChannelCredentialsHeld,
        EventType::TaskRunFailed,
        EventType::EndpointDisabled,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderUpdated => "order.updated",
            EventType::OrderCancelled => "order.cancelled",
            EventType::OrderSkipped => "order.skipped",
            EventType::StatusSendSucceeded => "status_send.succeeded",
            EventType::StatusSendFailed => "status_send.failed",
            EventType::StockPushed => "stock.pushed",
            EventType::StockPushFailed => "stock.push_failed",
            EventType::ChannelSubscriptionFailed => "channel.subscription_failed",
            EventType::ChannelCredentialsHeld => "channel.credentials_held",
            EventType::TaskRunFailed => "task_run.failed",
            EventType::EndpointDisabled => "webhook_endpoint.disabled",
        }
    }

    /// The type of a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(EventType::parse("order.deleted"), None);
    }
}
