//! Mercado Livre wire shapes (addendum "2. Mercado Livre"; fixtures/mercadolivre).
//! Scalars are kept as JSON values: the documented examples mix numbers, strings and
//! nulls for the same field (`user_id` is a number in `orders_v2` notifications and a
//! string in others; ids are numbers in orders and strings in SDK mockups).

use serde::Deserialize;
use serde_json::Value;

/// A notification: a resource pointer without signature
/// (`notification_orders_v2.json`; `missed_feeds` entries carry the same fields).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Notification {
    pub resource: Value,
    pub user_id: Value,
    pub topic: Value,
    pub application_id: Value,
}

/// `GET /missed_feeds?app_id=…` (`missed_feeds_response_doc_example.txt`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MissedFeeds {
    pub messages: Vec<Notification>,
}

/// An order (`GET /orders/{id}`, and each `results[]` row of `/orders/search`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Order {
    pub id: Value,
    pub status: Value,
    pub date_created: Value,
    pub date_closed: Value,
    pub date_last_updated: Value,
    pub last_updated: Value,
    pub pack_id: Value,
    pub order_items: Vec<OrderItem>,
    pub total_amount: Value,
    pub paid_amount: Value,
    pub coupon: Option<Coupon>,
    pub currency_id: Value,
    pub payments: Vec<Payment>,
    pub shipping: Option<OrderShipping>,
    pub buyer: Option<Buyer>,
    pub tags: Vec<Value>,
    pub cancel_detail: Option<CancelDetail>,
}

/// `order_items[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrderItem {
    pub item: Item,
    pub quantity: Value,
    pub unit_price: Value,
    pub currency_id: Value,
}

/// `order_items[].item`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Item {
    pub id: Value,
    pub title: Value,
    pub variation_id: Value,
    pub seller_sku: Value,
    pub seller_custom_field: Value,
}

/// `coupon`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Coupon {
    pub amount: Value,
}

/// `payments[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Payment {
    pub status: Value,
    pub payment_method_id: Value,
    pub payment_type: Value,
    pub installments: Value,
    pub transaction_amount: Value,
    pub shipping_cost: Value,
    pub date_approved: Value,
}

/// `shipping` of an order: only `id` in current orders; legacy mockups carry more.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OrderShipping {
    pub id: Value,
    pub receiver_address: Option<ReceiverAddress>,
}

/// `buyer`: `billing_info.id` points at the billing data (BILL).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Buyer {
    pub id: Value,
    pub nickname: Value,
    pub first_name: Value,
    pub last_name: Value,
    pub email: Value,
    pub billing_info: Option<BuyerBillingRef>,
}

/// `buyer.billing_info`: `{id}` now; `{doc_type, doc_number}` in legacy mockups.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BuyerBillingRef {
    pub id: Value,
    pub doc_type: Value,
    pub doc_number: Value,
}

/// `cancel_detail`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CancelDetail {
    pub date: Value,
}

/// `GET /orders/billing-info/{site}/{id}` (`billing_info_v2_MLB_p{f,j}_doc_example.txt`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BillingInfoResponse {
    pub site_id: Value,
    pub buyer: Option<BillingBuyer>,
}

/// `buyer` of the billing data.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BillingBuyer {
    pub cust_id: Value,
    pub billing_info: Option<BillingInfo>,
}

/// `buyer.billing_info`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BillingInfo {
    pub name: Value,
    pub last_name: Value,
    pub identification: Option<Identification>,
    pub taxes: Option<Taxes>,
    pub address: Option<BillingAddress>,
}

/// `identification`: `type` `CPF` | `CNPJ`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Identification {
    #[serde(rename = "type")]
    pub kind: Value,
    pub number: Value,
}

/// `taxes`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Taxes {
    pub inscriptions: Option<Inscriptions>,
}

/// `taxes.inscriptions`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Inscriptions {
    pub state_registration: Value,
}

/// `billing_info.address`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BillingAddress {
    pub street_name: Value,
    pub street_number: Value,
    pub city_name: Value,
    pub comment: Value,
    pub neighborhood: Value,
    pub state: Option<Named>,
    pub zip_code: Value,
    pub country_id: Value,
}

/// `{id, name}` objects (state, city, country).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Named {
    pub id: Value,
    pub name: Value,
}

/// A shipment (`GET /orders/{id}/shipments` with `X-New-Domain: true`, one entry of
/// `order_shipments_list_all_response.json`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Shipment {
    pub id: Value,
    pub status: Value,
    pub substatus: Value,
    #[serde(rename = "type")]
    pub kind: Value,
    pub mode: Value,
    pub logistic_type: Value,
    pub tracking_number: Value,
    pub tracking_method: Value,
    pub shipping_option: Option<ShippingOption>,
    pub receiver_address: Option<ReceiverAddress>,
}

/// `shipping_option`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShippingOption {
    pub name: Value,
    pub shipping_method_id: Value,
    pub cost: Value,
}

/// `receiver_address` (legacy order mockup; shipments with `X-Api-Version: 2`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReceiverAddress {
    pub receiver_name: Value,
    pub street_name: Value,
    pub street_number: Value,
    pub address_line: Value,
    pub comment: Value,
    pub zip_code: Value,
    pub city: Option<Named>,
    pub state: Option<Named>,
    pub country: Option<Named>,
    pub neighborhood: Option<Named>,
    pub receiver_phone: Value,
}

/// `/orders/search` (`orders_search_response_doc_example.json`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Search {
    pub results: Vec<Value>,
    pub paging: Paging,
}

/// `paging`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Paging {
    pub total: Value,
    pub offset: Value,
    pub limit: Value,
}

/// `POST /oauth/token` answer.
#[derive(Debug, Deserialize)]
pub struct Token {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
}
