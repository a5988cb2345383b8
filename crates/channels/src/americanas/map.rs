//! Pure mapping of SkyHub orders to ponte orders, and the default status table.

use super::dto;
use chrono::{DateTime, Utc};
use ponte_core::document::TaxDocument;
use ponte_core::money::value_cents;
use ponte_core::order::*;
use ponte_core::status_rules::{rule, StatusRule, StatusTable};
use ponte_core::status_vocab::StatusVocabulary;
use ponte_core::OrderStatus;
use ponte_core::OrderStatus::*;
use serde::Deserialize;
use serde_json::Value;

/// Every documented `status.code` (2025 list, OMNIK ones included) with its default
/// ponte status. `payment_overdue` (the boleto expired) and `returned` (the sale came
/// back) end the sale: cancelled. OMNIK: `has_incident` is held in review;
/// `confirm_stock`/`confirmed_stock` are paid orders around the store's stock check;
/// `processing_store` is being prepared.
pub const STATUSES: &[(&str, OrderStatus)] = &[
    ("book_product", AwaitingPayment),
    ("waiting_payment", AwaitingPayment),
    ("payment_received", Approved),
    ("confirm_stock", Approved),
    ("confirmed_stock", Approved),
    ("processing_store", InSeparation),
    ("has_incident", PaymentInReview),
    ("order_invoiced", Invoiced),
    ("order_shipped", Shipped),
    ("shipment_exception", Shipped),
    ("complete", Delivered),
    ("order_canceled", Cancelled),
    ("payment_overdue", Cancelled),
    ("returned", Cancelled),
];

/// Every documented `status.type` with its ponte status: the fallback for a status
/// code ponte does not know (a store's custom code keeps its type).
pub const TYPES: &[(&str, OrderStatus)] = &[
    ("NEW", AwaitingPayment),
    ("APPROVED", Approved),
    ("INVOICED", Invoiced),
    ("SHIPPED", Shipped),
    ("SHIPMENT_EXCEPTION", Shipped),
    ("DELIVERED", Delivered),
    ("CANCELED", Cancelled),
    ("PAYMENT_OVERDUE", Cancelled),
];

/// Status types at which the order already left the seller.
const LEFT_TYPES: [&str; 3] = ["SHIPPED", "SHIPMENT_EXCEPTION", "DELIVERED"];

/// The default DE-PARA for Americanas, first match wins. Fields: `status` is
/// `status.code`; `shipping_status` is `status.type`; `payment_status` is unused. A
/// channel's `status_map` setting is tried before it.
pub fn default_status_table() -> StatusTable {
    let mut rules: Vec<StatusRule> = STATUSES
        .iter()
        .map(|(code, to)| rule(Some(code), None, None, *to))
        .collect();
    rules.extend(
        TYPES
            .iter()
            .map(|(kind, to)| rule(None, None, Some(kind), *to)),
    );
    StatusTable { rules }
}

const CODE_NAMES: [&str; STATUSES.len()] = ponte_core::status_vocab::names(STATUSES);
const TYPE_NAMES: [&str; TYPES.len()] = ponte_core::status_vocab::names(TYPES);

/// SkyHub's status fields as ponte reads them (what a DE-PARA row may name):
/// `status` is `status.code`, `shipping_status` is `status.type`.
pub const STATUS_VOCABULARY: StatusVocabulary = StatusVocabulary {
    status: &CODE_NAMES,
    payment_status: &[],
    shipping_status: &TYPE_NAMES,
};

/// Whether `code` looks like a SkyHub order code: the sales channel's name, `-`, and
/// the number, in the old (`Lojas Americanas-201036063223000`) or the 2025 format
/// (`Lojas Americanas-1517940500554-01`). Letters, digits, spaces, `-`, `_`, `.`.
pub fn order_code_ok(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 120
        && code.trim() == code
        && code.contains('-')
        && code
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
}

/// The order's `status.code` and `status.type`.
pub fn status_of(raw: &Value) -> (Option<String>, Option<String>) {
    (text(&raw["status"]["code"]), text(&raw["status"]["type"]))
}

/// Maps an order JSON (`GET /orders/{code}` or one queue answer).
pub fn read_order(raw: Value, overrides: &[StatusRule]) -> Result<MappedOrder, String> {
    if !raw.is_object() {
        return Err("order is not a JSON object".into());
    }
    let o = dto::Order::deserialize(&raw).map_err(|e| e.to_string())?;
    let external_id = text(&o.code).ok_or("order has no code")?;
    let platform_status = PlatformStatus {
        status: text(&o.status.code),
        payment_status: None,
        shipping_status: text(&o.status.kind),
    };
    let status = default_status_table()
        .resolve(overrides, &platform_status)
        .unwrap_or(AwaitingPayment);
    let closed_at_platform = platform_status
        .shipping_status
        .as_deref()
        .is_some_and(|t| LEFT_TYPES.contains(&t))
        || matches!(
            platform_status.status.as_deref(),
            Some("order_shipped" | "shipment_exception" | "complete")
        );
    let items: Vec<OrderItem> = o
        .items
        .iter()
        .map(|i| OrderItem {
            sku: text(&i.id),
            name: text(&i.name),
            quantity: int(&i.qty).unwrap_or(0),
            unit_price_cents: unit_price(i),
            product_id: text(&i.product_id).or_else(|| text(&i.id)),
            variant_id: text(&i.id),
            barcode: None,
        })
        .collect();
    let subtotal = items.iter().try_fold(0i64, |acc, i| {
        acc.checked_add(i.unit_price_cents?.checked_mul(i.quantity)?)
    });
    let discount = value_cents(&o.discount).filter(|d| *d != 0);
    let shipping_cost = value_cents(&o.shipping_cost);
    let interest = value_cents(&o.interest).unwrap_or(0);
    let total = value_cents(&o.total_ordered)
        .filter(|t| *t > 0)
        .or_else(|| {
            subtotal.map(|s| {
                s.saturating_sub(discount.unwrap_or(0))
                    .saturating_add(shipping_cost.unwrap_or(0))
                    .saturating_add(interest)
            })
        });
    let placed_at = time(&o.placed_at);
    let platform_updated_at = time(&o.updated_at).or(placed_at);
    let paid_at = time(&o.approved_date).or_else(|| {
        matches!(
            status,
            Approved | InSeparation | Invoiced | Shipped | Delivered
        )
        .then_some(platform_updated_at)
        .flatten()
    });
    let primary = o
        .payments
        .iter()
        .max_by_key(|p| value_cents(&p.value).unwrap_or(0));
    let c = &o.customer;
    let data = OrderData {
        external_id: external_id.clone(),
        number: Some(external_id),
        status,
        payment: Payment {
            status: primary.and_then(|p| text(&p.status)),
            method: primary.and_then(|p| text(&p.method)),
            gateway: primary.and_then(|p| text(&p.description)),
            installments: primary
                .and_then(|p| int(&p.parcels))
                .and_then(|n| u32::try_from(n).ok()),
            erp: None,
        },
        items,
        customer: Customer {
            name: text(&c.name),
            email: text(&c.email),
            phone: c.phones.iter().find_map(text),
            document: text(&c.vat_number).map(|d| TaxDocument::parse(&d)),
            ..Customer::default()
        },
        billing_address: o.billing_address.as_ref().map(address),
        shipping_address: o.shipping_address.as_ref().map(address),
        shipping: Shipping {
            option: text(&o.shipping_method),
            code: None,
            carrier: text(&o.shipping_carrier),
            cost_cents: shipping_cost,
        },
        totals: Totals {
            subtotal_cents: subtotal,
            discount_cents: discount,
            shipping_cents: shipping_cost,
            total_cents: total,
        },
        currency: Some("BRL".into()),
        placed_at,
        platform_updated_at,
        paid_at,
        cancelled_at: (status == Cancelled)
            .then_some(platform_updated_at)
            .flatten(),
        platform_status,
        platform_flags: vec![],
    };
    Ok(MappedOrder {
        data,
        closed_at_platform,
        raw,
    })
}

/// `special_price` when set (the price paid), else `original_price`.
fn unit_price(i: &dto::Item) -> Option<i64> {
    value_cents(&i.special_price)
        .filter(|p| *p > 0)
        .or_else(|| value_cents(&i.original_price))
}

fn address(a: &dto::Address) -> Address {
    Address {
        name: text(&a.full_name),
        street: text(&a.street),
        number: text(&a.number),
        complement: text(&a.complement),
        district: text(&a.neighborhood),
        city: text(&a.city),
        state: text(&a.region),
        zipcode: text(&a.postcode),
        country: text(&a.country),
        phone: text(&a.phone),
    }
}

/// A scalar as text; `None` for null, empty strings, objects and arrays.
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| text(v).and_then(|s| s.parse().ok()))
}

/// SkyHub timestamps: RFC 3339 with an offset (`2019-01-29T11:00:08-02:00`).
pub(super) fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text(v)?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::document::DocumentKind;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/../../fixtures/skyhub/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_fixture_parses() {
        let list = fixture("list_orders.json");
        let mut orders = vec![fixture("order.json"), fixture("queue_order.json")];
        orders.extend(list["orders"].as_array().cloned().unwrap_or_default());
        assert_eq!(orders.len(), 3);
        for raw in orders {
            let m = read_order(raw, &[]).unwrap_or_else(|e| panic!("{e}"));
            let d = &m.data;
            assert_eq!(d.external_id, "Teste-1548766808293");
            assert_eq!(d.status, AwaitingPayment);
            assert_eq!(d.platform_status.status.as_deref(), Some("book_product"));
            assert_eq!(d.platform_status.shipping_status.as_deref(), Some("NEW"));
            assert_eq!(d.items.len(), 1);
            assert_eq!(d.items[0].sku.as_deref(), Some("foo"));
            assert_eq!(d.items[0].unit_price_cents, Some(5522));
            assert_eq!(d.totals.subtotal_cents, Some(5522));
            assert_eq!(d.totals.total_cents, Some(5522));
            let doc = d
                .customer
                .document
                .as_ref()
                .unwrap_or_else(|| panic!("doc"));
            assert_eq!(doc.kind, Some(DocumentKind::Cpf));
            assert_eq!(
                d.shipping_address
                    .as_ref()
                    .and_then(|a| a.zipcode.as_deref()),
                Some("20081262")
            );
            assert!(d.placed_at.is_some());
            assert!(!m.closed_at_platform);
        }
        assert!(fixture("list_orders.json")["total"].is_number());
    }

    #[test]
    fn statuses_map_by_code_then_type() {
        let mut raw = fixture("order.json");
        for (code, kind, want, closed) in [
            ("payment_received", "APPROVED", Approved, false),
            ("order_invoiced", "INVOICED", Invoiced, false),
            ("order_shipped", "SHIPPED", Shipped, true),
            ("shipment_exception", "SHIPMENT_EXCEPTION", Shipped, true),
            ("complete", "DELIVERED", Delivered, true),
            ("order_canceled", "CANCELED", Cancelled, false),
            ("payment_overdue", "PAYMENT_OVERDUE", Cancelled, false),
            ("returned", "CANCELED", Cancelled, false),
            ("processing_store", "APPROVED", InSeparation, false),
            ("store_custom_code", "INVOICED", Invoiced, false),
        ] {
            raw["status"] = serde_json::json!({"code": code, "type": kind, "label": "x"});
            let m = read_order(raw.clone(), &[]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.data.status, want, "{code}");
            assert_eq!(m.closed_at_platform, closed, "{code}");
        }
        let over = [rule(Some("payment_received"), None, None, InSeparation)];
        raw["status"] = serde_json::json!({"code": "payment_received", "type": "APPROVED"});
        let m = read_order(raw, &over).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.data.status, InSeparation);
    }

    #[test]
    fn money_and_codes() {
        let mut raw = fixture("order.json");
        raw["items"][0]["special_price"] = serde_json::json!(49.9);
        raw["items"][0]["qty"] = serde_json::json!(2);
        raw["shipping_cost"] = serde_json::json!("15.5");
        raw["total_ordered"] = serde_json::json!(0);
        let d = read_order(raw, &[]).unwrap_or_else(|e| panic!("{e}")).data;
        assert_eq!(d.items[0].unit_price_cents, Some(4990));
        assert_eq!(d.totals.total_cents, Some(9980 + 1550));
        assert!(order_code_ok("Lojas Americanas-1517940500554-01"));
        assert!(order_code_ok("Lojas Americanas-201036063223000"));
        assert!(order_code_ok("Teste-1548766808293"));
        assert!(!order_code_ok("../etc-1"));
        assert!(!order_code_ok("no dash"));
        assert!(!order_code_ok(""));
        assert!(read_order(Value::Null, &[]).is_err());
        assert!(read_order(serde_json::json!({"items": []}), &[]).is_err());
    }
}
