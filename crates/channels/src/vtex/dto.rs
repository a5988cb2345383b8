//! VTEX wire shapes (`VX:VTEX - Orders API.json`, `GET /api/oms/pvt/orders/{orderId}`
//! and `GET /api/oms/pvt/orders`; fixtures `vtex/order.json`, `vtex/list_orders_response.json`).
//!
//! Lenient on purpose: unknown fields are ignored, every field may be missing or `null`,
//! and scalars are kept as JSON values (the spec marks many of them nullable, and ids
//! that are strings in the order are sometimes numbers elsewhere, e.g. `bundleItems[].id`).
//! Money fields are integer cents in the spec ("Order total value in cents", "Payment
//! value in cents", "Shipping price for the item in cents").

use serde::Deserialize;
use serde_json::Value;

/// An order, as `GET /api/oms/pvt/orders/{orderId}` returns it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Order {
    pub order_id: Value,
    pub sequence: Value,
    pub status: Value,
    /// Order total, integer cents.
    pub value: Value,
    pub creation_date: Value,
    pub last_change: Value,
    pub authorized_date: Value,
    pub totals: Option<Vec<Total>>,
    pub items: Option<Vec<Item>>,
    pub client_profile_data: Option<ClientProfile>,
    pub shipping_data: Option<ShippingData>,
    pub payment_data: Option<PaymentData>,
    pub package_attachment: Option<PackageAttachment>,
    pub cancellation_data: Option<CancellationData>,
    pub store_preferences_data: Option<StorePreferences>,
}

/// `totals[]`: `{id: Items|Discounts|Shipping|Tax, name, value}`, value in cents
/// (`Discounts` is negative in real payloads, e.g. `-459`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Total {
    pub id: Value,
    pub value: Value,
}

/// `items[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Item {
    /// VTEX SKU id.
    pub id: Value,
    pub product_id: Value,
    /// The SKU's reference code (the merchant's own SKU code).
    pub ref_id: Value,
    pub ean: Value,
    pub name: Value,
    pub quantity: Value,
    /// Unit price in cents, before promotions (`totals[Items]` is Σ price × quantity).
    pub price: Value,
    /// Unit price in cents after promotions.
    pub selling_price: Value,
}

/// `clientProfileData`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClientProfile {
    pub email: Value,
    pub first_name: Value,
    pub last_name: Value,
    pub document_type: Value,
    pub document: Value,
    pub phone: Value,
    pub is_corporate: Value,
    pub corporate_name: Value,
    pub corporate_document: Value,
    pub corporate_phone: Value,
    pub state_inscription: Value,
}

/// `shippingData`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ShippingData {
    pub address: Option<Address>,
    pub logistics_info: Option<Vec<LogisticsInfo>>,
}

/// A postal address (`shippingData.address`, `payments[].billingAddress`). `country`
/// is ISO 3166 alpha-3 (`BRA`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Address {
    pub receiver_name: Value,
    pub postal_code: Value,
    pub city: Value,
    pub state: Value,
    pub country: Value,
    pub street: Value,
    pub number: Value,
    pub neighborhood: Value,
    pub complement: Value,
}

/// `shippingData.logisticsInfo[]`: one per item.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LogisticsInfo {
    /// The chosen SLA's id.
    pub selected_sla: Value,
    pub delivery_company: Value,
    /// This item's shipping price in cents ("does not account for the whole order's
    /// shipping price").
    pub price: Value,
    pub slas: Option<Vec<Sla>>,
}

/// `logisticsInfo[].slas[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Sla {
    pub id: Value,
    pub name: Value,
}

/// `paymentData`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaymentData {
    pub transactions: Option<Vec<Transaction>>,
}

/// `paymentData.transactions[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Transaction {
    pub is_active: Value,
    pub payments: Option<Vec<PaymentItem>>,
}

/// `paymentData.transactions[].payments[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PaymentItem {
    pub payment_system_name: Value,
    /// `creditCard|debitCard|bankInvoice|promissory|giftCard|instantPayment` (Pix).
    pub group: Value,
    /// Cents.
    pub value: Value,
    pub installments: Value,
    pub billing_address: Option<Address>,
}

/// `packageAttachment`: packages are created by invoices.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PackageAttachment {
    pub packages: Option<Vec<Package>>,
}

/// `packageAttachment.packages[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Package {
    /// `Output` (sale) or `Input` (return).
    #[serde(rename = "type")]
    pub kind: Value,
    pub tracking_number: Value,
    pub courier_status: Option<CourierStatus>,
}

/// `packages[].courierStatus`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CourierStatus {
    /// "Defines if the carrier has already delivered the package".
    pub finished: Value,
    pub delivered_date: Value,
    pub data: Option<Vec<Value>>,
}

/// `cancellationData` (PascalCase keys in the spec).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancellationData {
    #[serde(rename = "CancellationDate")]
    pub cancellation_date: Value,
}

/// `storePreferencesData`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StorePreferences {
    pub currency_code: Value,
}

/// One row of `GET /api/oms/pvt/orders` (`list[]`): a summary without items, customer
/// document or addresses. Note the list spells `marketPlaceOrderId` (capital P).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OrderSummary {
    pub order_id: Value,
    pub sequence: Value,
    pub status: Value,
    pub creation_date: Value,
    pub authorized_date: Value,
    /// Cents.
    pub total_value: Value,
    pub currency_code: Value,
    #[serde(rename = "marketPlaceOrderId")]
    pub marketplace_order_id: Value,
}
