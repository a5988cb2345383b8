//! Nuvemshop wire shapes. Scalars are kept as JSON values because the platform
//! (and its public samples) mixes numbers, strings and nulls for the same field.

use serde::Deserialize;
use serde_json::Value;

/// Webhook notification: `{store_id, event, id}` (`TN:resources/webhook.md`). Ids are
/// numbers in order webhooks and strings in fulfillment-order webhooks: both accepted.
#[derive(Debug, Deserialize)]
pub struct Notification {
    pub store_id: Value,
    pub event: String,
    #[serde(default)]
    pub id: Value,
    #[serde(default)]
    pub order_id: Value,
}

/// An order (`TN:resources/order.md`; fixtures `nuvemshop/order.json`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Order {
    pub id: Value,
    pub number: Value,
    pub status: Value,
    pub payment_status: Value,
    pub shipping_status: Value,
    pub gateway: Value,
    pub gateway_name: Value,
    pub payment_details: Option<PaymentDetails>,
    pub products: Vec<Product>,
    pub customer: Option<Customer>,
    pub contact_identification: Value,
    pub contact_name: Value,
    pub contact_email: Value,
    pub contact_phone: Value,
    pub billing_name: Value,
    pub billing_address: Value,
    pub billing_number: Value,
    pub billing_floor: Value,
    pub billing_locality: Value,
    pub billing_city: Value,
    pub billing_province: Value,
    pub billing_zipcode: Value,
    pub billing_country: Value,
    pub billing_phone: Value,
    pub shipping_address: Option<Address>,
    pub shipping: Value,
    pub shipping_option: Value,
    pub shipping_option_code: Value,
    pub shipping_cost_customer: Value,
    pub subtotal: Value,
    pub discount: Value,
    pub total: Value,
    pub currency: Value,
    pub created_at: Value,
    pub updated_at: Value,
    pub paid_at: Value,
    pub cancelled_at: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaymentDetails {
    pub method: Value,
    pub credit_card_company: Value,
    pub installments: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Product {
    pub product_id: Value,
    pub variant_id: Value,
    pub sku: Value,
    pub name: Value,
    pub price: Value,
    pub quantity: Value,
    pub barcode: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub name: Value,
    pub email: Value,
    pub phone: Value,
    pub identification: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub name: Value,
    pub address: Value,
    pub number: Value,
    pub floor: Value,
    pub locality: Value,
    pub city: Value,
    pub province: Value,
    pub zipcode: Value,
    pub country: Value,
    pub phone: Value,
}
