//! Per-channel automations (seed 002): which ERP events are told to the platform at
//! once, and how many attempts a send gets. Stored among the channel's settings as
//! flat keys, validated here for every platform.

use crate::action::ActionKind;
use crate::ErrorCode;
use serde::{Deserialize, Serialize};

/// A channel's automations. Defaults: everything on, 3 attempts, not in fulfillment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Automations {
    /// Send separation, invoice (NF-e) and collection-order updates.
    #[serde(default = "yes")]
    pub send_status_updates: bool,
    /// Send cancellations.
    #[serde(default = "yes")]
    pub send_cancellations: bool,
    /// Send shipment (tracking), shipping exception and delivery information.
    #[serde(default = "yes")]
    pub send_delivery_info: bool,
    /// The platform (or its logistics) ships the order: delivery info is never sent.
    #[serde(default)]
    pub fulfillment_mode: bool,
    /// Automatic attempts per send before it is listed as failed (1 to 10).
    #[serde(default = "three")]
    pub max_attempts: u32,
    /// Webhooks import at once (polling is the safety net); off: deliveries are
    /// acknowledged and ignored, and polling does the work (seed 000 "Evento de vendas").
    #[serde(default = "yes")]
    pub instant_events: bool,
}

fn yes() -> bool {
    true
}

fn three() -> u32 {
    3
}

impl Default for Automations {
    fn default() -> Self {
        Self {
            send_status_updates: true,
            send_cancellations: true,
            send_delivery_info: true,
            fulfillment_mode: false,
            max_attempts: 3,
            instant_events: true,
        }
    }
}

/// The settings keys that belong to automations.
pub const KEYS: [&str; 6] = [
    "send_status_updates",
    "send_cancellations",
    "send_delivery_info",
    "fulfillment_mode",
    "max_attempts",
    "instant_events",
];

/// Why an ERP event is not sent to a channel. Each has a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotSent {
    /// The automation for this kind is off.
    #[error("the automation `{0}` is off for this channel")]
    AutomationOff(&'static str),
    /// Fulfillment mode: the platform ships, delivery info is never sent.
    #[error("the channel is in fulfillment mode: delivery information is never sent")]
    FulfillmentMode,
    /// The channel is disabled.
    #[error("the channel is disabled")]
    ChannelDisabled,
    /// The platform has nothing that takes this information.
    #[error("the platform has no way to receive this: {0}")]
    NotSupported(&'static str),
}

impl NotSent {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::AutomationOff(_) => ErrorCode::AutomationOff,
            Self::FulfillmentMode => ErrorCode::FulfillmentMode,
            Self::ChannelDisabled => ErrorCode::ChannelDisabled,
            Self::NotSupported(_) => ErrorCode::NotSupportedByPlatform,
        }
    }
}

/// Invalid automation settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AutomationError(pub String);

impl Automations {
    /// Splits a settings object into the automations and the platform's own keys.
    pub fn split(
        settings: &serde_json::Value,
    ) -> Result<(Automations, serde_json::Value), AutomationError> {
        let Some(obj) = settings.as_object() else {
            return Err(AutomationError("settings must be a JSON object".into()));
        };
        let (mine, rest): (serde_json::Map<_, _>, serde_json::Map<_, _>) = obj
            .clone()
            .into_iter()
            .partition(|(k, _)| KEYS.contains(&k.as_str()));
        let auto: Automations = serde_json::from_value(serde_json::Value::Object(mine))
            .map_err(|e| AutomationError(e.to_string()))?;
        if !(1..=10).contains(&auto.max_attempts) {
            return Err(AutomationError(
                "max_attempts must be between 1 and 10".into(),
            ));
        }
        Ok((auto, serde_json::Value::Object(rest)))
    }

    /// Adds the automation keys to a settings object.
    pub fn merge_into(&self, settings: &mut serde_json::Value) {
        if let (Some(obj), Ok(serde_json::Value::Object(mine))) =
            (settings.as_object_mut(), serde_json::to_value(self))
        {
            obj.extend(mine);
        }
    }

    /// Whether an ERP event of `kind` is sent to the channel.
    pub fn check(&self, kind: ActionKind) -> Result<(), NotSent> {
        let (on, name) = match kind {
            ActionKind::Separation | ActionKind::Invoice | ActionKind::CollectionOrder => {
                (self.send_status_updates, "send_status_updates")
            }
            ActionKind::Cancel => (self.send_cancellations, "send_cancellations"),
            ActionKind::Shipment | ActionKind::ShipmentException | ActionKind::Delivery => {
                if self.fulfillment_mode {
                    return Err(NotSent::FulfillmentMode);
                }
                (self.send_delivery_info, "send_delivery_info")
            }
        };
        if on {
            Ok(())
        } else {
            Err(NotSent::AutomationOff(name))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_and_check() {
        let (a, rest) =
            Automations::split(&json!({"store_id": "1", "fulfillment_mode": true})).unwrap();
        assert_eq!(rest, json!({"store_id": "1"}));
        assert!(a.fulfillment_mode && a.send_status_updates && a.max_attempts == 3);
        assert_eq!(a.check(ActionKind::Shipment), Err(NotSent::FulfillmentMode));
        assert_eq!(a.check(ActionKind::Invoice), Ok(()));
        let (a, _) = Automations::split(&json!({"send_cancellations": false})).unwrap();
        assert_eq!(
            a.check(ActionKind::Cancel).map_err(|e| e.code().as_str()),
            Err("automation_off")
        );
        assert!(Automations::split(&json!({"max_attempts": 0})).is_err());
        assert!(Automations::split(&json!({"send_cancellations": "no"})).is_err());
        let mut v = json!({"store_id": "1"});
        a.merge_into(&mut v);
        assert_eq!(v["send_cancellations"], false);
        assert_eq!(v["max_attempts"], 3);
    }
}
