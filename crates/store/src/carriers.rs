//! Carrier accounts and shipment tracking: the records backends exchange, and the
//! rules both apply (which stored shipments are tracked, which timeline entries a poll
//! adds).

use crate::TimelineNotes;
use chrono::{DateTime, Utc};
use ponte_core::action::Fulfilment;
use ponte_core::{CarrierAccountId, ChannelId, OrderId, TenantId};

/// The timeline kind of a carrier's tracking event.
pub const TRACKING_EVENT: &str = "tracking_event";

/// A tenant's account at a carrier.
#[derive(Debug, Clone, PartialEq)]
pub struct CarrierAccount {
    /// Owner.
    pub tenant_id: TenantId,
    /// Id.
    pub id: CarrierAccountId,
    /// Which carrier (`correios`, `melhor_envio`).
    pub carrier: String,
    /// The tenant's name for it (unique within the tenant).
    pub name: String,
    /// Tracks shipments whose carrier name matches no account of the tenant.
    pub is_default: bool,
    /// Settings with defaults filled in.
    pub settings: serde_json::Value,
    /// Sealed credentials (never shown).
    pub credentials: Vec<u8>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A shipped order with a tracking code, as the tracking task reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentToTrack {
    /// The order.
    pub order_id: OrderId,
    /// Its channel.
    pub channel_id: ChannelId,
    /// The platform's order id.
    pub external_id: String,
    /// The shipment's tracking code.
    pub tracking_code: String,
    /// The shipment's carrier name (the ERP's words), when given.
    pub carrier: Option<String>,
    /// Whether a shipping exception is already recorded.
    pub has_exception: bool,
    /// When its carrier was last asked (never: `None`).
    pub polled_at: Option<DateTime<Utc>>,
}

impl ShipmentToTrack {
    /// The shipment to track of a shipped order, when the ERP gave a tracking code.
    pub fn of(
        order_id: OrderId,
        channel_id: ChannelId,
        external_id: String,
        fulfilment: &Fulfilment,
        polled_at: Option<DateTime<Utc>>,
    ) -> Option<Self> {
        let shipment = fulfilment.shipment.as_ref()?;
        let code = shipment.tracking_code.as_deref()?.trim();
        if code.is_empty() || fulfilment.delivery.is_some() {
            return None;
        }
        Some(Self {
            order_id,
            channel_id,
            external_id,
            tracking_code: code.to_owned(),
            carrier: shipment.carrier.clone(),
            has_exception: fulfilment.shipment_exception.is_some(),
            polled_at,
        })
    }
}

/// One event a carrier reported for an order's shipment.
#[derive(Debug, Clone, PartialEq)]
pub struct PolledEvent {
    /// What makes it the same event when read again (code and instant).
    pub key: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The timeline entry's details.
    pub detail: serde_json::Value,
}

/// What one poll of its carrier said about one order's shipment.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingPoll {
    /// The order.
    pub order_id: OrderId,
    /// Its channel.
    pub channel_id: ChannelId,
    /// The platform's order id.
    pub external_id: String,
    /// Every event the carrier reported (those already recorded are skipped).
    pub events: Vec<PolledEvent>,
}

/// The timeline entries of a poll's new events: each event whose key `recorded` did
/// not know before this transaction, once (a key repeated in one poll counts once).
pub fn tracking_notes(
    tenant: TenantId,
    polls: &[TrackingPoll],
    mut is_new: impl FnMut(OrderId, &str) -> bool,
) -> TimelineNotes {
    let mut notes = TimelineNotes::default();
    for p in polls {
        for e in &p.events {
            if is_new(p.order_id, &e.key) {
                notes.add(
                    tenant,
                    p.channel_id,
                    &p.external_id,
                    e.at,
                    TRACKING_EVENT,
                    e.detail.clone(),
                );
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::action::{Delivery, Shipment};

    #[test]
    fn only_undelivered_shipments_with_a_code_are_tracked() {
        let mut f = Fulfilment::default();
        let at = Utc::now();
        let of = |f: &Fulfilment| {
            ShipmentToTrack::of(OrderId::new(), ChannelId::new(), "1".into(), f, None)
        };
        assert!(of(&f).is_none(), "no shipment");
        f.shipment = Some(Shipment {
            tracking_code: Some("  ".into()),
            tracking_url: None,
            carrier: None,
            shipped_at: at,
        });
        assert!(of(&f).is_none(), "a blank code");
        f.shipment = Some(Shipment {
            tracking_code: Some(" AA123456789BR ".into()),
            tracking_url: None,
            carrier: Some("Correios".into()),
            shipped_at: at,
        });
        let s = of(&f).map(|s| (s.tracking_code, s.carrier));
        assert_eq!(s, Some(("AA123456789BR".into(), Some("Correios".into()))));
        f.delivery = Some(Delivery { delivered_at: at });
        assert!(of(&f).is_none(), "delivered");
    }

    #[test]
    fn a_known_event_adds_no_entry() {
        let t = TenantId::new();
        let e = |k: &str| PolledEvent {
            key: k.into(),
            at: Utc::now(),
            detail: serde_json::json!({"code": k}),
        };
        let poll = TrackingPoll {
            order_id: OrderId::new(),
            channel_id: ChannelId::new(),
            external_id: "1".into(),
            events: vec![e("PO/01@1"), e("BDE/01@2")],
        };
        let notes = tracking_notes(t, &[poll], |_, k| k != "PO/01@1");
        assert_eq!(notes.as_slice().len(), 1);
        assert_eq!(notes.as_slice()[0].detail["code"], "BDE/01@2");
    }
}
