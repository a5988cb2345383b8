//! Americanas marketplace, SkyHub API (facts: platforms.md §8 and the newer addendum
//! "4. SkyHub / Americanas", which wins where they differ; fixtures in
//! fixtures/skyhub).
//!
//! - `settings.rs`: the channel's settings and its three keys (`X-User-Email`,
//!   `X-Api-Key`, `X-Accountmanager-Key` on every request).
//! - `client.rs`: the connector; `GET /orders*` within the documented 1/s.
//! - `dto.rs`, `map.rs`: the order JSON and its mapping.
//! - `poll.rs`: the order queue (`GET`/`DELETE /queues/orders`) and the listing.
//! - `send.rs`: invoice, shipment, delivery and cancel writes.
//! - `stock.rs`: `PUT /products/{sku}` (variations by their own SKU).
//!
//! No webhooks exist: [`Connector::verify_webhook`](crate::Connector::verify_webhook)
//! refuses everything, the push subscription reports polling only, and
//! [`Connector::pushes_events`](crate::Connector::pushes_events) is `false` (an order
//! polling finds is never a gap).
//!
//! # Mapping
//!
//! - `external_id` and `number` = `code` (old `Lojas Americanas-201036063223000` and
//!   2025 `Lojas Americanas-1517940500554-01` formats both accepted).
//! - Status: see [`default_status_table`]; `closed_at_platform` once shipped.
//! - Items: `sku` and `variant_id` = item `id` (the SKU sold), `product_id` = item
//!   `product_id`; unit price = `special_price` when set, else `original_price`.
//! - Money: reais turned into centavos; total = `total_ordered`, else items −
//!   `discount` + `shipping_cost` + `interest`.
//! - Customer: `vat_number` as CPF/CNPJ (validated, kept and flagged when invalid).
//!
//! # Rate limits
//!
//! The channel's budget (default 9/s, burst 3) is shared by every instance and covers
//! the queue, order writes and products, all documented at 9/s per endpoint and
//! method. `GET /orders` and `GET /orders/{code}` (1/s) also take a slot of their own
//! budget (the endpoint class `orders_get`), counted across every instance by the
//! engine's store, so two instances reading orders at once stay within 1/s. A 429
//! still waits for the next second without burning an attempt.

mod client;
mod dto;
mod map;
mod poll;
mod price;
mod send;
mod settings;
mod stock;

pub use client::AmericanasConnector;
pub use map::{default_status_table, order_code_ok, read_order, STATUSES, TYPES};
pub use poll::{PER_PAGE, QUEUE_LOT};
pub use settings::{AmericanasCredentials, AmericanasSettings, DEFAULT_BASE_URL};

use crate::{ConfigError, Connector, LocalBudget, Outbound, Platform, Shared};
use std::sync::Arc;

/// The Americanas platform (SkyHub API).
pub struct Americanas;

impl Platform for Americanas {
    fn name(&self) -> &'static str {
        "americanas"
    }

    fn status_vocabulary(&self) -> ponte_core::status_vocab::StatusVocabulary {
        map::STATUS_VOCABULARY
    }

    fn default_status_table(&self) -> ponte_core::status_rules::StatusTable {
        map::default_status_table()
    }

    // No default payment table: SkyHub's `payments[].method` values are not
    // documented in the material (the sample says `skyhub_payment`); the channel's
    // unmapped payment methods list what arrives.

    fn validate_settings(
        &self,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, ConfigError> {
        let s = AmericanasSettings::parse(settings)?;
        serde_json::to_value(&s).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    fn validate_credentials(&self, credentials: &serde_json::Value) -> Result<(), ConfigError> {
        AmericanasCredentials::parse(credentials).map(|_| ())
    }

    fn exclusive_key(
        &self,
        _settings: &serde_json::Value,
        credentials: &serde_json::Value,
    ) -> Option<String> {
        // One store has one order queue: two channels on the same account would take
        // (and delete) each other's orders.
        Some(format!(
            "account {}",
            credentials.get("user_email")?.as_str()?
        ))
    }

    fn base_url(&self, settings: &serde_json::Value) -> Result<String, ConfigError> {
        Ok(AmericanasSettings::parse(settings)?.base_url())
    }

    fn connect(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(client::AmericanasConnector::new(
            AmericanasSettings::parse(settings)?,
            AmericanasCredentials::parse(credentials)?,
            http,
            Arc::new(LocalBudget::default()),
        )))
    }

    fn connect_shared(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
        shared: Shared,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(client::AmericanasConnector::new(
            AmericanasSettings::parse(settings)?,
            AmericanasCredentials::parse(credentials)?,
            http,
            shared.budget,
        )))
    }
}
