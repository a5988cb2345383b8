//! Mercado Livre (facts: platforms.md §3 and the newer addendum "2. Mercado Livre";
//! fixtures in fixtures/mercadolivre).
//!
//! - `settings.rs`: the channel's settings (`seller_id`, `site_id`, …) and credentials
//!   (`client_id`, `client_secret`, `refresh_token`, optional `access_token`).
//! - `token.rs`: the seller's OAuth tokens, renewed before expiry and after a 401,
//!   stored back by compare-and-set (one renewal across instances).
//! - `notify.rs`: accepting `orders_v2` and `shipments` notifications for the
//!   channel's seller and application (no signature exists); a shipment's import
//!   reads the shipment's order.
//! - `client.rs`, `dto.rs`, `map.rs`: reading an order with its billing data and
//!   forward shipment, and mapping it.
//! - `poll.rs`: the safety net (`/orders/search`, then `/missed_feeds`).
//! - `send.rs`: NF-e upload (ME2) or pack attachment, ME1 shipping status.
//! - `sac.rs`: SAC tickets (questions, post-sale messages per pack, claims): read
//!   after their notifications, answered by the seller.
//! - `stock.rs`: `PUT /items/{id}` or user-products stock with `x-version`.
//!
//! # Mapping
//!
//! - `external_id` and `number` = order `id`; the `pack_id` of a `pack_order` stays in
//!   the raw payload ([`order_refs`]).
//! - Raw payload = `{"order", "billing_info", "shipment"}` ([`compose`]).
//! - Money: decimals in reais (`unit_price`, `total_amount`, `paid_amount`), turned
//!   into centavos. Subtotal = `total_amount`; discount = `coupon.amount`; shipping =
//!   the shipment's `shipping_option.cost` (what the buyer paid), else the payments'
//!   `shipping_cost`; total = `paid_amount`.
//! - Items: `sku` = `seller_sku`, else `seller_custom_field`; `product_id` = `item.id`;
//!   `variant_id` = `variation_id`, else `item.id` (an item without variations).
//! - Customer: billing data (`GET /orders/billing-info/{site}/{buyer.billing_info.id}`):
//!   `name last_name`, CPF/CNPJ of `identification` (validated, kept and flagged when
//!   invalid); billing address from it. The state registration stays in raw
//!   ([`state_registration`]). Shipping address: the shipment's `receiver_address`
//!   when ML gives it (it needs `X-Api-Version: 2`, not asked: PII).
//! - Fraud: tag `fraud_risk_detected` flags the order `fraud_risk` and sets
//!   `payment_status` to it, which maps to `payment_in_review`; sends refuse shipping
//!   statuses for it.
//! - Status: see [`default_status_table`]. `closed_at_platform` when the shipment is
//!   already `shipped`, `delivered` or `not_delivered`.

mod client;
mod dto;
mod map;
mod notify;
mod poll;
mod sac;
mod send;
mod settings;
mod stock;
mod token;

pub use client::MlConnector;
pub use map::{
    compose, default_status_table, forward_shipment, order_refs, read_order, state_registration,
    OrderRefs, FRAUD_TAG, PACK_TAG, STATUSES,
};
pub use settings::{MlCredentials, MlSettings, DEFAULT_BASE_URL, DEFAULT_SITE, SERVICE_IDS};
pub use token::REFRESH_MARGIN;

use crate::{ConfigError, Connector, Outbound, Platform, Shared};
use std::sync::Arc;

/// The Mercado Livre platform.
pub struct MercadoLivre;

impl Platform for MercadoLivre {
    fn name(&self) -> &'static str {
        "mercadolivre"
    }

    fn status_vocabulary(&self) -> ponte_core::status_vocab::StatusVocabulary {
        map::STATUS_VOCABULARY
    }

    fn default_status_table(&self) -> ponte_core::status_rules::StatusTable {
        map::default_status_table()
    }

    fn default_payment_table(&self) -> Vec<ponte_core::payment_map::PaymentRule> {
        crate::payment_defaults::mercadolivre()
    }

    fn validate_settings(
        &self,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, ConfigError> {
        let s = MlSettings::parse(settings)?;
        serde_json::to_value(&s).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    fn validate_credentials(&self, credentials: &serde_json::Value) -> Result<(), ConfigError> {
        MlCredentials::parse(credentials).map(|_| ())
    }

    fn exclusive_key(
        &self,
        settings: &serde_json::Value,
        _credentials: &serde_json::Value,
    ) -> Option<String> {
        // One seller's notifications reach one callback per application: two channels
        // of the same seller would import each other's orders.
        Some(format!("seller {}", settings.get("seller_id")?.as_str()?))
    }

    fn base_url(&self, settings: &serde_json::Value) -> Result<String, ConfigError> {
        Ok(MlSettings::parse(settings)?.base_url())
    }

    fn connect(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(client::MlConnector::new(
            MlSettings::parse(settings)?,
            MlCredentials::parse(credentials)?,
            http,
            None,
        )))
    }

    fn connect_shared(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
        shared: Shared,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(client::MlConnector::new(
            MlSettings::parse(settings)?,
            MlCredentials::parse(credentials)?,
            http,
            Some(shared.vault),
        )))
    }
}
