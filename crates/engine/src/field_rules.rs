//! A channel's default customer field rules: checked when saved, applied to every
//! imported order's customer (`customer.extra_fields`, each naming its rule).

use crate::{Engine, EngineError};
use ponte_core::customer_fields::{check_field_rules, FieldRule};
use ponte_core::document::DocumentKind;
use ponte_core::order::Customer;
use ponte_core::{ChannelId, ErrorCode, TenantId};
use ponte_store::{MappingKind, StoreError};

/// A customer is a company when the platform says so or the document is a CNPJ.
pub(crate) fn settle_company(c: &mut Customer) {
    let cnpj = c
        .document
        .as_ref()
        .is_some_and(|d| d.kind == Some(DocumentKind::Cnpj));
    c.is_company |= cnpj;
}

impl Engine {
    /// The rules saved for channel `channel` (none until saved).
    pub(crate) async fn saved_field_rules(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<Vec<FieldRule>, EngineError> {
        match self
            .store
            .mapping(tenant, channel, MappingKind::CustomerFields)
            .await?
        {
            Some(rows) => serde_json::from_value(rows).map_err(|e| {
                EngineError::from(StoreError::Corrupt(format!("channel_mappings: {e}")))
            }),
            None => Ok(vec![]),
        }
    }

    /// A channel's default customer field rules.
    pub async fn customer_fields(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<Vec<FieldRule>, EngineError> {
        self.channel(tenant, channel).await?;
        self.saved_field_rules(tenant, channel).await
    }

    /// Replaces a channel's default customer field rules; the first bad rule (unknown
    /// value type, unknown or malformed condition) is refused by position
    /// (`invalid_mapping`) and nothing is saved. Orders already imported keep their
    /// fields until remapped.
    pub async fn set_customer_fields(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        rules: &serde_json::Value,
    ) -> Result<Vec<FieldRule>, EngineError> {
        self.channel(tenant, channel).await?;
        let checked = check_field_rules(rules)
            .map_err(|e| EngineError::Refused(ErrorCode::InvalidMapping, e.to_string()))?;
        let stored =
            serde_json::to_value(&checked).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store
            .set_mapping(
                tenant,
                channel,
                MappingKind::CustomerFields,
                &stored,
                self.clock.now(),
            )
            .await?;
        self.forget_channel(channel);
        Ok(checked)
    }
}
