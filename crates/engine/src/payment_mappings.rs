//! A channel's payment table (DE-PARA of payment types): the rows the merchant saved,
//! else the connector's documented defaults; checked when saved, applied to every
//! imported order (`payment.erp`), and the payment methods it leaves unmapped.

use crate::{Engine, EngineError};
use ponte_core::payment_map::{check_payment_rows, PaymentRule};
use ponte_core::{ChannelId, ErrorCode, OrderId, TenantId};
use ponte_store::{Channel, MappingKind, OrderGroup, StoreError};

/// A channel's payment table as it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentMap {
    /// True when the merchant saved it; false: the connector's documented defaults.
    pub saved: bool,
    /// Rows, first match wins.
    pub rows: Vec<PaymentRule>,
}

/// A platform payment method (and gateway) that no row maps.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmappedPayment {
    /// The platform's method.
    pub method: Option<String>,
    /// The platform's gateway.
    pub gateway: Option<String>,
    /// Orders of the channel with them.
    pub count: u64,
    /// One of those orders.
    pub example_order: OrderId,
}

impl Engine {
    /// The payment table that applies to channel `ch`.
    pub(crate) async fn payment_rows(&self, ch: &Channel) -> Result<PaymentMap, EngineError> {
        match self
            .store
            .mapping(ch.tenant_id, ch.id, MappingKind::Payment)
            .await?
        {
            Some(rows) => Ok(PaymentMap {
                saved: true,
                rows: serde_json::from_value(rows).map_err(|e| {
                    EngineError::from(StoreError::Corrupt(format!("channel_mappings: {e}")))
                })?,
            }),
            None => Ok(PaymentMap {
                saved: false,
                rows: self.platform(&ch.platform)?.default_payment_table(),
            }),
        }
    }

    /// A channel's payment table: saved rows, else the connector's defaults.
    pub async fn payment_map(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<PaymentMap, EngineError> {
        let ch = self.channel(tenant, channel).await?;
        self.payment_rows(&ch).await
    }

    /// Replaces a channel's payment table; the first bad row is refused by position
    /// (`invalid_mapping`) and nothing is saved. Orders already imported keep their
    /// ERP payment type until remapped.
    pub async fn set_payment_map(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        rows: &serde_json::Value,
    ) -> Result<PaymentMap, EngineError> {
        self.channel(tenant, channel).await?;
        let checked = check_payment_rows(rows)
            .map_err(|e| EngineError::Refused(ErrorCode::InvalidMapping, e.to_string()))?;
        let stored =
            serde_json::to_value(&checked).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store
            .set_mapping(
                tenant,
                channel,
                MappingKind::Payment,
                &stored,
                self.clock.now(),
            )
            .await?;
        self.forget_channel(channel);
        Ok(PaymentMap {
            saved: true,
            rows: checked,
        })
    }

    /// The payment methods of a channel's orders that no row of its table maps (by
    /// method and gateway; installments aside), most orders first.
    pub async fn unmapped_payments(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<Vec<UnmappedPayment>, EngineError> {
        let ch = self.channel(tenant, channel).await?;
        let map = self.payment_rows(&ch).await?;
        let groups = self
            .store
            .order_groups(tenant, channel, OrderGroup::PaymentMethod)
            .await?;
        Ok(groups
            .into_iter()
            .filter_map(|g| {
                let mut v = g.values.into_iter();
                let method = v.next().flatten();
                let gateway = v.next().flatten();
                let mapped = map
                    .rows
                    .iter()
                    .any(|r| r.matches_method(method.as_deref(), gateway.as_deref()));
                (!mapped).then_some(UnmappedPayment {
                    method,
                    gateway,
                    count: g.count,
                    example_order: g.example,
                })
            })
            .collect())
    }
}
