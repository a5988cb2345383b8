//! VTEX (facts: docs/platforms.md §2; spec `VX:VTEX - Orders API.json` from
//! vtex/openapi-schemas; status table from help.vtex.com "Order flow and status").
//!
//! - `settings.rs`: the channel's settings and credentials (`X-VTEX-API-AppKey`/`AppToken`).
//! - `hook.rs`: authenticating hook notifications (ponte's secret header plus
//!   `Origin.Account`, constant time; the configuration ping is acknowledged).
//! - `client.rs`, `dto.rs`, `map.rs`: reading (`GET /api/oms/pvt/orders/{orderId}`) and
//!   mapping an order.
//! - `feed.rs`: setting up the Feed v3 queue when the channel is created or enabled.
//! - `poll.rs`: the safety net. Scheduled runs read Feed v3 (configured on first use,
//!   committed only after the import is stored); a manual sync walks the OMS list by
//!   creation date.
//! - `send.rs`: status sends (start-handling, invoice with the NF-e XML, tracking,
//!   delivery, cancel).
//! - `stock.rs`: logistics inventory pushes into the channel's `warehouse_id`.
//! - `subscription.rs`: registering ponte's hook (`/api/orders/hook/config`).
//!
//! # Mapping
//!
//! - `external_id` = `orderId`; `number` = `sequence` (`orderId` when missing).
//! - Money is integer cents already (`value`, `totals[].value`, item `price`, payment
//!   `value`, `logisticsInfo[].price`): taken as is, never scaled.
//!   `totals`: `Items` → subtotal, `Discounts` → discount (VTEX sends it negative; ponte
//!   keeps it positive), `Shipping` → shipping, `value` → total. `Tax` has no place in
//!   ponte's totals and stays in `raw`.
//! - Items: `sku` = `refId` (the merchant's reference code), else `id` (VTEX SKU id);
//!   `variant_id` = `id`; `product_id` = `productId`; `barcode` = `ean`; unit price =
//!   `price` (before promotions, so Σ price × quantity = `totals[Items]`; the promotional
//!   `sellingPrice` is only a fallback and stays in `raw`).
//! - Customer from `clientProfileData`: a person is `firstName lastName` with `document`
//!   (`documentType` `cpf`); when `isCorporate`, `corporateName`, `corporateDocument`
//!   (CNPJ) and `corporatePhone` come first. The document is validated
//!   ([`ponte_core::document::TaxDocument`]); an invalid one is kept and flagged.
//! - Shipping address = `shippingData.address` (`country` is ISO alpha-3, e.g. `BRA`,
//!   kept verbatim). Billing address = the primary payment's `billingAddress`, when given.
//! - Shipping: first item's `logisticsInfo[].selectedSla` → `code`, that SLA's `name` →
//!   `option`, `deliveryCompany` → `carrier`; cost = `totals[Shipping]` (per-item
//!   `logisticsInfo[].price` summed only when the total is missing: the spec says an
//!   item's price "does not account for the whole order's shipping price").
//!   `shippingEstimate` (e.g. `4bd`), delivery channel and pickup point stay in `raw`.
//! - Payment: the largest payment of the active transactions:
//!   `paymentSystemName` → `gateway`, `group` (`creditCard`, `bankInvoice`,
//!   `instantPayment`, ...; verbatim) → `method`, `installments`. Payment `status` is
//!   `None`: a VTEX order has no payment status field; the order `status` carries it.
//! - Dates: `creationDate` → `placed_at`, `lastChange` → `platform_updated_at`,
//!   `authorizedDate` → `paid_at`; `cancelled_at` only when the order maps to
//!   `cancelled`: `cancellationData.CancellationDate`, else `lastChange`.
//! - Currency = `storePreferencesData.currencyCode`.
//! - Kept only in [`MappedOrder::raw`] (the whole payload, verbatim), readable with
//!   [`order_refs`]: `marketplaceOrderId`, `sellerOrderId`, `origin`, `salesChannel`,
//!   `affiliateId`, `orderGroup`. Also in `raw`: invoices (`packageAttachment`),
//!   `sellingPrice`, taxes, marketing data, every payment.
//!
//! # Status table (DE-PARA), first match wins
//!
//! `platform_status.status` is VTEX's `status` verbatim. `shipping_status` is derived
//! from the outgoing invoice packages (`type` ≠ `Input`), because VTEX stays `invoiced`
//! through shipping and delivery: `delivered` when every package has
//! `courierStatus.finished` or a `deliveredDate`; `shipped` when any has a
//! `trackingNumber`, tracking events (`courierStatus.data`) or a delivery; else unset.
//! A channel's `status_map` rules (same [`ponte_core::status_rules::StatusRule`] shape
//! as Nuvemshop's) are tried first.
//!
//! | VTEX `status` | ponte |
//! |---|---|
//! | `invoiced` + shipping `delivered` | `delivered` |
//! | `invoiced` + shipping `shipped` | `shipped` |
//! | `invoiced` | `invoiced` |
//! | `order-created`, `order-completed`, `on-order-completed`, `on-order-completed-ffm`, `waiting-for-seller-confirmation`, `waiting-for-authorization`, `order-accepted`, `window-to-change-seller`, `window-to-change-payment`, `payment-pending` | `awaiting_payment` |
//! | `order-create-error`, `order-creation-error` | `awaiting_payment` |
//! | `request-cancel`, `cancellation-requested`, `waiting-for-seller-decision` | `awaiting_payment` |
//! | `waiting-for-order-authorization`, `approve-payment`, `waiting-ffmt-authorization`, `waiting-for-manual-authorization`, `waiting-for-fulfillment`, `waiting-for-mkt-authorization` | `payment_in_review` |
//! | `payment-approved`, `authorize-fulfillment`, `window-to-cancel`, `ready-for-handling`, `waiting-seller-handling` | `approved` |
//! | `start-handling`, `handling`, `ready-for-invoicing`, `invoice`, `invoice-after-cancellation-deny` | `in_separation` |
//! | `payment-denied`, `cancel`, `canceled`, `replaced` | `cancelled` |
//! | anything else | `awaiting_payment` |
//!
//! Why:
//! - A pending cancellation (`request-cancel`, `cancellation-requested`,
//!   `waiting-for-seller-decision`) may still be denied, and ponte's `cancelled` is
//!   final; mapping it to the lowest status means it never moves a known order
//!   (ponte's status only moves forward) and a new order is not imported as paid.
//!   Creation errors and unknown statuses get the same treatment.
//! - Seller-flow waits (`waiting-ffmt-authorization`, ...) wait for the marketplace to
//!   confirm payment: `payment_in_review`. `window-to-cancel` comes after payment
//!   approval (the customer may still cancel): `approved`, as is `authorize-fulfillment`.
//! - `invoice` ("Verifying invoice") and partial invoices can fall back to
//!   `payment-approved`, so only `invoiced` is `invoiced`.
//! - `cancel` ("Canceling") always ends `canceled`; `payment-denied` leads to it.
//!   `replaced` (order replacement) is assumed superseded by a new order, so
//!   `cancelled` (assumption: not confirmed by a spec).
//!
//! `closed_at_platform` (not imported when first seen) is true when an invoice was
//! already sent to VTEX (`invoice`, `invoice-after-cancellation-deny`, `invoiced`):
//! the order was fulfilled outside ponte. Cancelled orders are left to the import rule
//! (`cancelled_before_import`), as with Nuvemshop.
//!
//! Listing rows (`GET /api/oms/pvt/orders` `list[]`) carry no items, document or
//! address; [`read_listed_order`] reads what they allow (id, status, dates, total) so a
//! poll can pick the orders to fetch; they are never mapped into a [`MappedOrder`].
//!
//! [`MappedOrder::raw`]: ponte_core::order::MappedOrder::raw
//! [`MappedOrder`]: ponte_core::order::MappedOrder

mod catalog;
mod client;
mod dto;
mod feed;
pub mod hook;
mod map;
mod poll;
mod price;
mod send;
mod settings;
mod stock;
mod subscription;

pub use map::{
    default_status_table, order_refs, read_listed_order, read_order, ListedOrder, OrderRefs,
    STATUSES,
};
pub use settings::{VtexCredentials, VtexSettings, DEFAULT_ENVIRONMENT};

use crate::{ConfigError, Connector, Outbound, Platform};
use std::sync::Arc;

/// The VTEX platform.
pub struct Vtex;

impl Platform for Vtex {
    fn name(&self) -> &'static str {
        "vtex"
    }

    fn status_vocabulary(&self) -> ponte_core::status_vocab::StatusVocabulary {
        map::STATUS_VOCABULARY
    }

    fn default_status_table(&self) -> ponte_core::status_rules::StatusTable {
        map::default_status_table()
    }

    fn default_payment_table(&self) -> Vec<ponte_core::payment_map::PaymentRule> {
        crate::payment_defaults::vtex()
    }

    fn validate_settings(
        &self,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, ConfigError> {
        let s = VtexSettings::parse(settings)?;
        serde_json::to_value(&s).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    fn validate_credentials(&self, credentials: &serde_json::Value) -> Result<(), ConfigError> {
        VtexCredentials::parse(credentials).map(|_| ())
    }

    fn generated_secrets(&self) -> &'static [&'static str] {
        &["hook_secret"]
    }

    /// A promotion goes out as a fixed price with its `dateRange`: VTEX opens and
    /// closes the window itself.
    fn keeps_price_windows(&self) -> bool {
        true
    }

    fn exclusive_key(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
    ) -> Option<String> {
        let account = settings.get("account")?.as_str()?.to_ascii_lowercase();
        let app_key = credentials.get("app_key")?.as_str()?;
        Some(format!("{account} / {app_key}"))
    }

    fn base_url(&self, settings: &serde_json::Value) -> Result<String, ConfigError> {
        Ok(VtexSettings::parse(settings)?.base_url())
    }

    fn connect(
        &self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        Ok(Arc::new(client::VtexConnector::new(
            VtexSettings::parse(settings)?,
            VtexCredentials::parse(credentials)?,
            http,
        )))
    }
}
