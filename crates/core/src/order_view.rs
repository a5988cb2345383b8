//! An order as the API shows it (`GET /api/v1/orders/{id}`) and as order events carry
//! it in their `data`: built once here, so the two never differ.

use crate::action::Fulfilment;
use crate::order::OrderData;
use crate::{ChannelId, OrderId};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

/// An order.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    /// Id.
    pub id: OrderId,
    /// The channel it came from.
    pub channel_id: ChannelId,
    /// The order's fields.
    #[serde(flatten)]
    pub data: OrderData,
    /// Data-quality flags (`invalid_document`), what the platform says to heed
    /// (`fraud_risk`: do not ship) and what the carrier said (`shipment_exception`: a
    /// shipping exception is recorded and no delivery yet: undeliverable or returned).
    pub flags: Vec<String>,
    /// What the ERP recorded: separation, invoice (NF-e), collection order, shipment,
    /// delivery, cancellation.
    pub fulfilment: Fulfilment,
    /// First imported.
    pub created_at: DateTime<Utc>,
    /// Last changed in ponte.
    pub updated_at: DateTime<Utc>,
}

impl OrderView {
    /// The view of a stored order: the platform's flags move into `flags` after the
    /// data-quality ones; times as stored (microseconds).
    pub fn new(
        id: OrderId,
        channel_id: ChannelId,
        mut data: OrderData,
        fulfilment: Fulfilment,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        let mut flags = vec![];
        if data.customer.document.as_ref().is_some_and(|d| !d.valid) {
            flags.push("invalid_document".to_owned());
        }
        let platform = std::mem::take(&mut data.platform_flags);
        flags.extend(platform.into_iter().map(|f| f.as_str().to_owned()));
        if fulfilment.shipment_exception.is_some() && fulfilment.delivery.is_none() {
            flags.push("shipment_exception".to_owned());
        }
        OrderView {
            id,
            channel_id,
            data,
            flags,
            fulfilment,
            created_at: created_at.trunc_subsecs(6),
            updated_at: updated_at.trunc_subsecs(6),
        }
    }
}
