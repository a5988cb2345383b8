//! SkyHub order JSON (fixtures `skyhub/order.json`, `queue_order.json`,
//! `list_orders.json`). Scalars stay `Value`: the captures mix numbers, strings and
//! nulls for the same fields.

use serde::Deserialize;
use serde_json::Value;

/// `GET /orders/{code}`, one `GET /queues/orders` answer, one row of `GET /orders`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Order {
    pub code: Value,
    pub channel: Value,
    pub status: Status,
    pub placed_at: Value,
    pub updated_at: Value,
    pub approved_date: Value,
    pub items: Vec<Item>,
    pub customer: Customer,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
    pub shipping_method: Value,
    pub shipping_carrier: Value,
    pub shipping_cost: Value,
    pub discount: Value,
    pub interest: Value,
    pub total_ordered: Value,
    pub payments: Vec<Payment>,
}

/// `status{type, code, label}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Status {
    #[serde(rename = "type")]
    pub kind: Value,
    pub code: Value,
    pub label: Value,
}

/// An order line: `id` is the SKU sold, `product_id` its parent product.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Item {
    pub id: Value,
    pub product_id: Value,
    pub name: Value,
    pub qty: Value,
    pub original_price: Value,
    pub special_price: Value,
}

/// The buyer; `vat_number` is the CPF or CNPJ.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Customer {
    pub name: Value,
    pub email: Value,
    pub vat_number: Value,
    pub phones: Vec<Value>,
}

/// A billing or shipping address.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Address {
    pub full_name: Value,
    pub street: Value,
    pub number: Value,
    pub complement: Value,
    pub neighborhood: Value,
    pub city: Value,
    pub region: Value,
    pub postcode: Value,
    pub country: Value,
    pub phone: Value,
}

/// A payment.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Payment {
    pub value: Value,
    pub status: Value,
    pub method: Value,
    pub description: Value,
    pub parcels: Value,
}

/// `GET /orders?page=&per_page=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Listing {
    pub total: Value,
    pub orders: Vec<Value>,
}
