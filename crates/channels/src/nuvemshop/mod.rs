//! Nuvemshop / Tiendanube (facts: docs/platforms.md §1).
//!
//! Inbound: webhooks `{store_id, event, id}` signed with `X-Linkedstore-HMAC-SHA256`
//! (hex HMAC-SHA256 of the raw body, app secret); the order is then fetched with
//! `GET /{store_id}/orders/{id}`, `Authentication: bearer <token>` and a `User-Agent`.
//! Polling walks `GET /{store_id}/orders` by `updated_at` (`poll.rs`).
//!
//! Outbound: status sends (`send.rs`), through the Fulfillment Order API
//! (`send_fo.rs`) or the legacy pack/fulfill endpoints (setting `shipping_api`); the
//! NF-e as `nfe` metafields (`send_nfe.rs`).

mod catalog;
mod client;
mod dto;
mod map;
mod poll;
mod price;
mod send;
mod send_fo;
mod send_nfe;
mod settings;
mod stock;
mod subscription;
mod webhook;

pub use map::default_status_table;
pub use settings::{NuvemshopCredentials, NuvemshopSettings, ShippingApi, DEFAULT_API_BASE_URL};

use crate::{ConfigError, Connector, Outbound, Platform};
use std::sync::Arc;

/// The Nuvemshop platform.
pub struct Nuvemshop;

impl Platform for Nuvemshop {
    fn name(&self) -> &'static str {
        "nuvemshop"
    }

    fn status_vocabulary(&self) -> ponte_core::status_vocab::StatusVocabulary {
        map::STATUS_VOCABULARY
    }

    fn default_status_table(&self) -> ponte_core::status_rules::StatusTable {
        map::default_status_table()
    }

    fn default_payment_table(&self) -> Vec<ponte_core::payment_map::PaymentRule> {
        crate::payment_defaults::nuvemshop()
    }

    fn validate_settings(
        &self,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, ConfigError> {
        let s = NuvemshopSettings::parse(settings)?;
        serde_json::to_value(&s).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    fn validate_credentials(&self, credentials: &serde_json::Value) -> Result<(), ConfigError> {
        NuvemshopCredentials::parse(credentials).map(|_| ())
    }

    fn base_url(&self, settings: &serde_json::Value) -> Result<String, ConfigError> {
        Ok(NuvemshopSettings::parse(settings)?.api_base_url)
    }

    fn connect(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(client::NuvemshopConnector::new(
            NuvemshopSettings::parse(settings)?,
            NuvemshopCredentials::parse(credentials)?,
            http,
        )))
    }
}
