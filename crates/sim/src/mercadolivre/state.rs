//! The simulated seller's data: tokens, orders with billing data and shipments,
//! items, user products, NF-e uploads, seller notifications, missed notifications.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// A line of a new order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMlItem {
    /// The listing (`MLB…`).
    pub item_id: String,
    /// The variation, when the listing has them.
    pub variation_id: Option<u64>,
    /// `seller_sku`.
    pub seller_sku: Option<String>,
    /// Title.
    pub title: String,
    /// Units.
    pub quantity: i64,
    /// Unit price in centavos.
    pub unit_price_cents: i64,
}

/// The buyer's billing data.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMlBuyer {
    /// First name, or the company name.
    pub name: String,
    /// Last name (`None` for companies).
    pub last_name: Option<String>,
    /// `CPF` or `CNPJ`.
    pub doc_type: String,
    /// The document number.
    pub doc_number: String,
    /// State registration (companies).
    pub state_registration: Option<String>,
}

/// A new order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMlOrder {
    /// Lines.
    pub items: Vec<NewMlItem>,
    /// Buyer.
    pub buyer: NewMlBuyer,
    /// Order `status` (`paid`, `payment_required`, …).
    pub status: String,
    /// Shipment `mode`: `me1`, `me2`, `custom`.
    pub mode: String,
    /// Shipment `logistic_type` (`drop_off`, `cross_docking`, `fulfillment`, …).
    pub logistic_type: String,
    /// What the buyer pays for shipping, centavos.
    pub shipping_cost_cents: i64,
    /// `pack_id` (adds the `pack_order` tag).
    pub pack_id: Option<u64>,
    /// Extra tags (`fraud_risk_detected`, …).
    pub tags: Vec<String>,
}

impl Default for NewMlOrder {
    fn default() -> Self {
        Self {
            items: vec![NewMlItem {
                item_id: "MLB1000000001".into(),
                variation_id: None,
                seller_sku: Some("SKU-1".into()),
                title: "Produto simulado".into(),
                quantity: 1,
                unit_price_cents: 10_000,
            }],
            buyer: NewMlBuyer {
                name: "Ana".into(),
                last_name: Some("Lima".into()),
                doc_type: "CPF".into(),
                doc_number: "52998224725".into(),
                state_registration: None,
            },
            status: "paid".into(),
            mode: "me2".into(),
            logistic_type: "drop_off".into(),
            shipping_cost_cents: 0,
            pack_id: None,
            tags: vec![],
        }
    }
}

/// A stored order.
#[derive(Debug, Clone)]
pub(crate) struct OrderRec {
    pub id: u64,
    pub new: NewMlOrder,
    pub status: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub billing_id: u64,
    pub shipment_id: u64,
}

/// A stored shipment.
#[derive(Debug, Clone)]
pub(crate) struct ShipmentRec {
    pub id: u64,
    pub order_id: u64,
    pub status: String,
    pub substatus: Option<String>,
    pub tracking_number: Option<String>,
}

/// A listing's stock.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemRec {
    pub available_quantity: i64,
    pub user_product_id: Option<String>,
    /// variation id -> (quantity, user product)
    pub variations: BTreeMap<u64, (i64, Option<String>)>,
}

/// A user product's stock at seller warehouses.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserProductRec {
    /// store_id -> quantity
    pub locations: BTreeMap<String, i64>,
    pub version: u64,
}

/// A notification to deliver.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pending {
    pub topic: String,
    pub resource: String,
}

/// Everything the simulator holds.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub seq: u64,
    pub orders: BTreeMap<u64, OrderRec>,
    pub shipments: BTreeMap<u64, ShipmentRec>,
    pub items: BTreeMap<String, ItemRec>,
    pub user_products: BTreeMap<String, UserProductRec>,
    /// shipment id -> uploaded XML
    pub invoices: BTreeMap<u64, String>,
    /// pack (or order) id -> attached documents
    pub fiscal_documents: BTreeMap<String, Vec<Vec<u8>>>,
    /// (shipment id, body) of every accepted seller notification
    pub seller_notifications: Vec<(u64, Value)>,
    /// notifications ML failed to deliver
    pub missed: Vec<Value>,
    /// access token -> expiry
    pub access: HashMap<String, Instant>,
    pub refresh: String,
    pub refreshes: u32,
    pub grant_revoked: bool,
    /// an error code the next NF-e upload answers with
    pub invoice_errors: Vec<String>,
    /// questions, conversations and claims
    pub sac: super::sac::SacStore,
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn money(cents: i64) -> Value {
    // Two decimals as ML writes them (`129.95`).
    serde_json::from_str(&format!("{}.{:02}", cents / 100, (cents % 100).abs()))
        .unwrap_or(Value::Null)
}

impl Store {
    pub fn next_id(&mut self, base: u64) -> u64 {
        self.seq += 1;
        base + self.seq
    }

    pub fn render_order(&self, o: &OrderRec, seller_id: &str) -> Value {
        let items: Vec<Value> = o
            .new
            .items
            .iter()
            .map(|i| {
                json!({
                    "item": {
                        "id": i.item_id, "title": i.title, "variation_id": i.variation_id,
                        "seller_sku": i.seller_sku, "seller_custom_field": null,
                        "category_id": "MLB1234", "variation_attributes": [],
                    },
                    "quantity": i.quantity,
                    "unit_price": money(i.unit_price_cents),
                    "full_unit_price": money(i.unit_price_cents),
                    "currency_id": "BRL",
                    "sale_fee": money(i.unit_price_cents / 10),
                    "listing_type_id": "gold_special",
                })
            })
            .collect();
        let total: i64 = o
            .new
            .items
            .iter()
            .map(|i| i.unit_price_cents * i.quantity)
            .sum();
        let paid = matches!(o.status.as_str(), "paid" | "partially_refunded");
        let mut tags: Vec<String> = vec![];
        if paid {
            tags.push("paid".into());
        }
        if o.new.pack_id.is_some() {
            tags.push("pack_order".into());
        }
        let ship = self.shipments.get(&o.shipment_id);
        tags.push(
            if ship.is_some_and(|s| s.status == "delivered") {
                "delivered"
            } else {
                "not_delivered"
            }
            .into(),
        );
        tags.extend(o.new.tags.iter().cloned());
        let payment_status = match o.status.as_str() {
            "paid" | "partially_refunded" => "approved",
            "payment_in_process" => "in_process",
            "cancelled" | "invalid" => "cancelled",
            _ => "pending",
        };
        json!({
            "id": o.id,
            "status": o.status,
            "status_detail": null,
            "date_created": ts(o.created),
            "date_closed": ts(o.created),
            "last_updated": ts(o.updated),
            "date_last_updated": ts(o.updated),
            "pack_id": o.new.pack_id,
            "pickup_id": null,
            "fulfilled": null,
            "order_items": items,
            "total_amount": money(total),
            "paid_amount": if paid { money(total + o.new.shipping_cost_cents) } else { json!(0) },
            "currency_id": "BRL",
            "payments": [{
                "id": o.id + 7, "order_id": o.id, "status": payment_status,
                "payment_method_id": "pix", "payment_type": "bank_transfer", "installments": 1,
                "transaction_amount": money(total), "total_paid_amount": money(total + o.new.shipping_cost_cents),
                "shipping_cost": money(o.new.shipping_cost_cents),
                "date_approved": if paid { json!(ts(o.created)) } else { Value::Null },
                "currency_id": "BRL",
            }],
            "shipping": {"id": o.shipment_id},
            "buyer": {"id": 90_000 + o.id % 1000, "nickname": "COMPRADOR", "billing_info": {"id": o.billing_id.to_string()}},
            "seller": {"id": seller_id.parse::<u64>().unwrap_or(0)},
            "tags": tags,
            "context": {"channel": "marketplace", "site": "MLB", "flows": []},
            "cancel_detail": if o.status == "cancelled" { json!({"date": ts(o.updated), "group": "seller", "code": "sim"}) } else { Value::Null },
        })
    }

    pub fn render_billing(&self, o: &OrderRec, seller_id: &str) -> Value {
        let b = &o.new.buyer;
        let mut info = json!({
            "name": b.name,
            "identification": {"type": b.doc_type, "number": b.doc_number},
            "address": {
                "street_name": "Rua das Flores", "street_number": "100", "city_name": "São Paulo",
                "comment": "apto 3", "neighborhood": "Centro", "state": {"name": "São Paulo"},
                "zip_code": "01001000", "country_id": "BR",
            },
            "attributes": {"is_normalized": true, "cust_type": if b.doc_type == "CNPJ" { "BU" } else { "CO" }},
        });
        if let Some(l) = &b.last_name {
            info["last_name"] = json!(l);
        }
        if let Some(ie) = &b.state_registration {
            info["taxes"] = json!({"inscriptions": {"state_registration": ie}, "taxpayer_type": {"description": "Contribuinte"}});
        }
        json!({
            "site_id": "MLB",
            "buyer": {"cust_id": 90_000 + o.id % 1000, "billing_info": info},
            "seller": {"cust_id": seller_id.parse::<u64>().unwrap_or(0)},
        })
    }

    pub fn render_shipment(&self, s: &ShipmentRec, seller_id: &str) -> Value {
        let o = self.orders.get(&s.order_id);
        let (mode, logistic, cost, pack) =
            o.map_or(("me2".into(), "drop_off".into(), 0, None), |o| {
                (
                    o.new.mode.clone(),
                    o.new.logistic_type.clone(),
                    o.new.shipping_cost_cents,
                    o.new.pack_id,
                )
            });
        json!({
            "id": s.id, "order_id": s.order_id, "pack_id": pack,
            "status": s.status, "substatus": s.substatus, "type": "forward",
            "mode": mode, "logistic_type": logistic,
            "tracking_number": s.tracking_number, "tracking_method": if mode == "me2" { json!("MEL Distribution") } else { Value::Null },
            "service_id": 11, "sender_id": seller_id.parse::<u64>().unwrap_or(0), "site_id": "MLB",
            "shipping_option": {"id": 1, "name": "Normal", "shipping_method_id": 100_009, "cost": money(cost), "list_cost": money(cost), "currency_id": "BRL", "delivery_type": "estimated"},
        })
    }
}
