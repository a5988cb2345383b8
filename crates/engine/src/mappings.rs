//! A channel's status table (DE-PARA): the rows the merchant saved, else the
//! connector's documented defaults (with the channel's `status_map` setting first);
//! checked when saved, applied to every imported order, and the platform statuses it
//! leaves unmapped.

use crate::{Engine, EngineError};
use ponte_core::order::{MappedOrder, PlatformStatus};
use ponte_core::status_rules::{StatusRule, StatusTable};
use ponte_core::status_vocab::{check_status_rows, StatusVocabulary};
use ponte_core::{ChannelId, ErrorCode, OrderId, OrderStatus, TenantId};
use ponte_store::{Channel, MappingKind, OrderGroup, StoreError};

/// A channel's status table as it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusMap {
    /// True when the merchant saved it; false: the connector's documented table.
    pub saved: bool,
    /// Rows, first match wins; a status no row matches is `awaiting_payment`.
    pub rows: Vec<StatusRule>,
    /// The values each platform field takes (what a row may name).
    pub vocabulary: StatusVocabulary,
}

/// Platform status fields that no row of the channel's table maps.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmappedStatus {
    /// The platform's fields.
    pub status: PlatformStatus,
    /// Orders of the channel with them.
    pub count: u64,
    /// One of those orders.
    pub example_order: OrderId,
}

/// Reads a saved status table (checked when it was saved).
pub(crate) fn saved_rows(rows: serde_json::Value) -> Result<Vec<StatusRule>, EngineError> {
    serde_json::from_value(rows)
        .map_err(|e| StoreError::Corrupt(format!("channel_mappings: {e}")).into())
}

/// The status of an order under a saved table: the first matching row, else
/// `awaiting_payment` (what a connector does with a status it does not know).
pub(crate) fn remapped_status(rows: &[StatusRule], p: &PlatformStatus) -> OrderStatus {
    StatusTable::default()
        .resolve(rows, p)
        .unwrap_or(OrderStatus::AwaitingPayment)
}

/// Applies a channel's saved tables to an order its connector mapped.
pub(crate) fn apply_saved(rows: Option<&[StatusRule]>, order: &mut MappedOrder) {
    if let Some(rows) = rows {
        order.data.status = remapped_status(rows, &order.data.platform_status);
    }
}

impl Engine {
    /// A channel's status table: saved rows, else the connector's documented table
    /// with the channel's `status_map` setting first.
    pub async fn status_map(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<StatusMap, EngineError> {
        let ch = self.channel(tenant, channel).await?;
        self.status_map_of(&ch).await
    }

    async fn status_map_of(&self, ch: &Channel) -> Result<StatusMap, EngineError> {
        let platform = self.platform(&ch.platform)?;
        let vocabulary = platform.status_vocabulary();
        if let Some(rows) = self
            .store
            .mapping(ch.tenant_id, ch.id, MappingKind::Status)
            .await?
        {
            return Ok(StatusMap {
                saved: true,
                rows: saved_rows(rows)?,
                vocabulary,
            });
        }
        let mut rows: Vec<StatusRule> = ch
            .settings
            .get("status_map")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        rows.extend(platform.default_status_table().rules);
        Ok(StatusMap {
            saved: false,
            rows,
            vocabulary,
        })
    }

    /// Replaces a channel's status table. Every row is checked against the platform's
    /// values and ponte's statuses; the first bad one is refused by position
    /// (`invalid_mapping`) and nothing is saved. Orders already imported keep their
    /// status until remapped.
    pub async fn set_status_map(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        rows: &serde_json::Value,
    ) -> Result<StatusMap, EngineError> {
        let ch = self.channel(tenant, channel).await?;
        let platform = self.platform(&ch.platform)?;
        let vocabulary = platform.status_vocabulary();
        let checked = check_status_rows(rows, &vocabulary)
            .map_err(|e| EngineError::Refused(ErrorCode::InvalidMapping, e.to_string()))?;
        let stored =
            serde_json::to_value(&checked).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store
            .set_mapping(
                tenant,
                channel,
                MappingKind::Status,
                &stored,
                self.clock.now(),
            )
            .await?;
        self.forget_channel(channel);
        Ok(StatusMap {
            saved: true,
            rows: checked,
            vocabulary,
        })
    }

    /// The platform statuses of a channel's orders that no row of its table maps,
    /// most orders first.
    pub async fn unmapped_statuses(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<Vec<UnmappedStatus>, EngineError> {
        let ch = self.channel(tenant, channel).await?;
        let map = self.status_map_of(&ch).await?;
        let table = StatusTable { rules: map.rows };
        let groups = self
            .store
            .order_groups(tenant, channel, OrderGroup::PlatformStatus)
            .await?;
        Ok(groups
            .into_iter()
            .filter_map(|g| {
                let mut v = g.values.into_iter();
                let status = PlatformStatus {
                    status: v.next().flatten(),
                    payment_status: v.next().flatten(),
                    shipping_status: v.next().flatten(),
                };
                table
                    .resolve(&[], &status)
                    .is_none()
                    .then_some(UnmappedStatus {
                        status,
                        count: g.count,
                        example_order: g.example,
                    })
            })
            .collect())
    }
}
