//! In-memory store: orders (rendered like fixtures/skyhub/order.json), the order
//! queue, products and variations.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Value};

/// One line of a new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAmItem {
    /// The SKU sold (the item `id`).
    pub sku: String,
    /// Its parent product (`product_id`); the SKU itself when `None`.
    pub product_id: Option<String>,
    /// Name.
    pub name: String,
    /// Quantity.
    pub qty: i64,
    /// Unit price in centavos (`original_price`).
    pub price_cents: i64,
}

/// An order to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAmOrder {
    /// Lines.
    pub items: Vec<NewAmItem>,
    /// Starting `status.code` (`book_product` or `payment_received`).
    pub status: String,
    /// Customer name.
    pub customer_name: String,
    /// CPF or CNPJ (`vat_number`).
    pub vat_number: String,
    /// Shipping cost in centavos.
    pub shipping_cost_cents: i64,
    /// Use the 2025 code format (`Lojas Americanas-1517940500554-01`) instead of the
    /// old one (`Lojas Americanas-201036063223000`).
    pub new_code_format: bool,
}

impl Default for NewAmOrder {
    fn default() -> Self {
        Self {
            items: vec![NewAmItem {
                sku: "SKU-1".into(),
                product_id: None,
                name: "Produto 1".into(),
                qty: 1,
                price_cents: 5_522,
            }],
            status: "book_product".into(),
            customer_name: "Bruno Santos".into(),
            vat_number: "78732371683".into(),
            shipping_cost_cents: 0,
            new_code_format: true,
        }
    }
}

/// The `status.type` of a status code.
pub fn status_type(code: &str) -> &'static str {
    match code {
        "payment_received" | "confirm_stock" | "confirmed_stock" | "processing_store" => "APPROVED",
        "order_invoiced" => "INVOICED",
        "order_shipped" => "SHIPPED",
        "shipment_exception" => "SHIPMENT_EXCEPTION",
        "complete" => "DELIVERED",
        "order_canceled" | "returned" => "CANCELED",
        "payment_overdue" => "PAYMENT_OVERDUE",
        _ => "NEW",
    }
}

/// Every status code the platform knows (2025 list, OMNIK ones included).
pub const STATUS_CODES: [&str; 14] = [
    "book_product",
    "payment_received",
    "order_invoiced",
    "order_shipped",
    "complete",
    "order_canceled",
    "shipment_exception",
    "payment_overdue",
    "returned",
    "has_incident",
    "confirm_stock",
    "waiting_payment",
    "processing_store",
    "confirmed_stock",
];

pub(crate) struct OrderRec {
    pub code: String,
    pub new: NewAmOrder,
    pub status: String,
    pub placed: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// Bumped by every change.
    pub version: u64,
    pub invoices: Vec<Value>,
    pub shipments: Vec<Value>,
    pub delivered_date: Option<String>,
    pub exceptions: Vec<Value>,
}

/// One order in the queue.
pub(crate) struct QueueEntry {
    pub code: String,
    /// Handed out again from this instant.
    pub visible_at: Instant,
    /// The order version last handed out.
    pub handed: Option<u64>,
}

#[derive(Default)]
pub(crate) struct Store {
    pub seq: u64,
    pub orders: BTreeMap<String, OrderRec>,
    pub queue: Vec<QueueEntry>,
    pub products: BTreeMap<String, i64>,
    pub variations: BTreeMap<String, i64>,
    /// Prices by listing (`products/{sku}`, `variations/{sku}`): `{price, promotional_price}`.
    pub prices: BTreeMap<String, Value>,
    pub handed_out: u64,
    pub deleted: u64,
}

/// `2019-01-29T11:00:08-03:00`.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    match FixedOffset::west_opt(3 * 3600) {
        Some(o) => t
            .with_timezone(&o)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        None => t.to_rfc3339(),
    }
}

fn reais(cents: i64) -> Value {
    json!(cents as f64 / 100.0)
}

impl Store {
    /// Puts `code` in the queue, visible now (an order already there keeps its place
    /// and is handed out again at once).
    pub fn enqueue(&mut self, code: &str) {
        let now = Instant::now();
        match self.queue.iter_mut().find(|e| e.code == code) {
            Some(e) => e.visible_at = now,
            None => self.queue.push(QueueEntry {
                code: code.to_owned(),
                visible_at: now,
                handed: None,
            }),
        }
    }

    /// Hands out the first visible order, hidden for `hide` unless deleted.
    pub fn next_in_queue(&mut self, hide: Duration) -> Option<String> {
        let now = Instant::now();
        let e = self.queue.iter_mut().find(|e| e.visible_at <= now)?;
        e.visible_at = now + hide;
        e.handed = self.orders.get(&e.code).map(|o| o.version);
        self.handed_out += 1;
        Some(e.code.clone())
    }

    /// Deletes `code` from the queue; an order changed since it was handed out stays
    /// (visible at once), so its change is not lost. `false`: not in the queue.
    pub fn delete_from_queue(&mut self, code: &str) -> bool {
        let Some(i) = self.queue.iter().position(|e| e.code == code) else {
            return false;
        };
        let current = self.orders.get(code).map(|o| o.version);
        if self.queue[i].handed.is_some() && self.queue[i].handed < current {
            self.queue[i].visible_at = Instant::now();
        } else {
            self.queue.remove(i);
            self.deleted += 1;
        }
        true
    }

    /// A fresh order code.
    pub fn next_code(&mut self, new_format: bool) -> String {
        self.seq += 1;
        if new_format {
            format!("Lojas Americanas-{}-01", 1_517_940_500_000 + self.seq)
        } else {
            format!("Lojas Americanas-{}", 201_036_063_000_000 + self.seq)
        }
    }

    /// Sets an order's status (a change: version bumped).
    pub fn set_status(&mut self, code: &str, status: &str) -> bool {
        match self.orders.get_mut(code) {
            Some(o) => {
                o.status = status.to_owned();
                o.updated = Utc::now();
                o.version += 1;
                true
            }
            None => false,
        }
    }

    /// `GET /orders/{code}` as served.
    pub fn render(&self, o: &OrderRec) -> Value {
        let n = &o.new;
        let items: Vec<Value> = n
            .items
            .iter()
            .map(|i| {
                json!({
                    "id": i.sku, "product_id": i.product_id.clone().unwrap_or_else(|| i.sku.clone()),
                    "name": i.name, "qty": i.qty, "original_price": reais(i.price_cents),
                    "special_price": 0, "shipping_cost": null,
                })
            })
            .collect();
        let total: i64 = n
            .items
            .iter()
            .map(|i| i.price_cents.saturating_mul(i.qty))
            .sum::<i64>()
            .saturating_add(n.shipping_cost_cents);
        let address = json!({
            "street": "Rua Sacadura Cabral", "number": "130", "complement": null,
            "neighborhood": "Centro", "city": "Rio de Janeiro", "region": "RJ",
            "postcode": "20081262", "country": "BR", "full_name": n.customer_name,
            "phone": "21 3722-3902", "secondary_phone": null, "reference": null, "detail": null,
        });
        let channel = o.code.split('-').next().unwrap_or("Lojas Americanas");
        json!({
            "code": o.code,
            "channel": channel,
            "status": {"type": status_type(&o.status), "code": o.status, "label": o.status},
            "sync_status": "NOT_SYNCED",
            "placed_at": ts(o.placed),
            "updated_at": ts(o.updated),
            "approved_date": "",
            "items": items,
            "customer": {
                "name": n.customer_name, "email": "cliente@example.com.br",
                "vat_number": n.vat_number, "phones": ["21 3722-3902"], "gender": null,
                "date_of_birth": null,
            },
            "billing_address": address.clone(),
            "shipping_address": address,
            "shipping_method": "Correios PAC",
            "shipping_carrier": "",
            "shipping_cost": reais(n.shipping_cost_cents),
            "interest": 0,
            "discount": 0,
            "total_ordered": reais(total),
            "payments": [{"value": reais(total), "method": "skyhub_payment", "description": "Skyhub", "parcels": 1, "status": null}],
            "invoices": o.invoices,
            "shipments": o.shipments,
            "shipped_date": "",
            "delivered_date": o.delivered_date,
            "import_info": {"ss_name": channel, "remote_id": null, "remote_code": o.code.split('-').nth(1)},
            "tags": [],
        })
    }
}
