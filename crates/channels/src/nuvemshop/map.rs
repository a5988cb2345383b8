//! Pure mapping of Nuvemshop orders to ponte orders, and the default status table.

use super::dto;
use chrono::{DateTime, Utc};
use ponte_core::document::TaxDocument;
use ponte_core::money::value_cents;
use ponte_core::order::*;
use ponte_core::status_rules::{rule, StatusRule, StatusTable};
use ponte_core::status_vocab::StatusVocabulary;
use ponte_core::OrderStatus::*;
use serde_json::Value;

/// The default DE-PARA for Nuvemshop, first match wins. Fields: order `status`
/// (`open|closed|cancelled`), `payment_status` (`pending|authorized|paid|abandoned|
/// refunded|voided`), `shipping_status` (legacy `unpacked|unshipped|shipped|fulfilled`,
/// 2025-03 adds `delivered`, `partially_packed`, `partially_fulfilled`). A channel's
/// `status_map` setting is tried before it; a status no row matches is `awaiting_payment`.
pub fn default_status_table() -> StatusTable {
    StatusTable {
        rules: vec![
            rule(Some("cancelled"), None, None, Cancelled),
            rule(None, Some("voided"), None, Cancelled),
            rule(None, Some("refunded"), None, Cancelled),
            rule(None, Some("abandoned"), None, Cancelled),
            rule(None, Some("paid"), Some("delivered"), Delivered),
            rule(None, Some("paid"), Some("fulfilled"), Shipped),
            rule(None, Some("paid"), Some("shipped"), Shipped),
            rule(
                None,
                Some("paid"),
                Some("partially_fulfilled"),
                InSeparation,
            ),
            rule(None, Some("paid"), Some("packed"), InSeparation),
            rule(None, Some("paid"), Some("partially_packed"), InSeparation),
            rule(None, Some("paid"), None, Approved),
            rule(None, Some("authorized"), None, PaymentInReview),
            rule(None, Some("pending"), None, AwaitingPayment),
        ],
    }
}

/// Nuvemshop's status fields and their documented values (`TN:resources/order.md`, the
/// 2025-03 Order page for the newer payment and shipping states, which the default
/// table leaves unmapped): what a DE-PARA row may name.
pub const STATUS_VOCABULARY: StatusVocabulary = StatusVocabulary {
    status: &["open", "closed", "cancelled"],
    payment_status: &[
        "pending",
        "authorized",
        "paid",
        "abandoned",
        "refunded",
        "voided",
        "partially_paid",
        "partially_refunded",
    ],
    shipping_status: &[
        "unpacked",
        "unshipped",
        "unfulfilled",
        "packed",
        "partially_packed",
        "shipped",
        "partially_fulfilled",
        "fulfilled",
        "delivered",
    ],
};

/// Shipping states that mean the order already left the store.
const SHIPPED_STATES: [&str; 3] = ["shipped", "fulfilled", "delivered"];

/// Maps a fetched order. `raw` is the payload as received.
pub fn map_order(
    o: dto::Order,
    raw: Value,
    overrides: &[StatusRule],
) -> Result<MappedOrder, String> {
    let external_id = text(&o.id).ok_or("order has no id")?;
    let platform_status = PlatformStatus {
        status: text(&o.status),
        payment_status: text(&o.payment_status),
        shipping_status: text(&o.shipping_status),
    };
    let status = default_status_table()
        .resolve(overrides, &platform_status)
        .unwrap_or(AwaitingPayment);
    let closed_at_platform = platform_status.status.as_deref() == Some("closed")
        || platform_status
            .shipping_status
            .as_deref()
            .is_some_and(|s| SHIPPED_STATES.contains(&s));
    let customer = o.customer.unwrap_or_default();
    let document = text(&customer.identification)
        .or_else(|| text(&o.contact_identification))
        .map(|d| TaxDocument::parse(&d));
    let payment = o.payment_details.unwrap_or_default();
    let items = o
        .products
        .iter()
        .map(|p| OrderItem {
            sku: text(&p.sku),
            name: text(&p.name),
            quantity: p
                .quantity
                .as_i64()
                .or_else(|| text(&p.quantity).and_then(|q| q.parse().ok()))
                .unwrap_or(0),
            unit_price_cents: value_cents(&p.price),
            product_id: text(&p.product_id),
            variant_id: text(&p.variant_id),
            barcode: text(&p.barcode),
        })
        .collect();
    let billing = Address {
        name: text(&o.billing_name),
        street: text(&o.billing_address),
        number: text(&o.billing_number),
        complement: text(&o.billing_floor),
        district: text(&o.billing_locality),
        city: text(&o.billing_city),
        state: text(&o.billing_province),
        zipcode: text(&o.billing_zipcode),
        country: text(&o.billing_country),
        phone: text(&o.billing_phone),
    };
    let data = OrderData {
        external_id,
        number: text(&o.number),
        status,
        payment: Payment {
            status: platform_status.payment_status.clone(),
            method: text(&payment.method),
            gateway: text(&o.gateway_name).or_else(|| text(&o.gateway)),
            // A number or, as the store sends it, a string ("3").
            installments: payment
                .installments
                .as_u64()
                .or_else(|| text(&payment.installments).and_then(|n| n.parse().ok()))
                .and_then(|n| u32::try_from(n).ok()),
            erp: None,
        },
        items,
        customer: Customer {
            name: text(&customer.name).or_else(|| text(&o.contact_name)),
            email: text(&customer.email).or_else(|| text(&o.contact_email)),
            phone: text(&customer.phone).or_else(|| text(&o.contact_phone)),
            document,
            ..Customer::default()
        },
        billing_address: (billing != Address::default()).then_some(billing),
        shipping_address: o.shipping_address.map(|a| Address {
            name: text(&a.name),
            street: text(&a.address),
            number: text(&a.number),
            complement: text(&a.floor),
            district: text(&a.locality),
            city: text(&a.city),
            state: text(&a.province),
            zipcode: text(&a.zipcode),
            country: text(&a.country),
            phone: text(&a.phone),
        }),
        shipping: Shipping {
            option: text(&o.shipping_option),
            code: text(&o.shipping_option_code),
            carrier: text(&o.shipping),
            cost_cents: value_cents(&o.shipping_cost_customer),
        },
        totals: Totals {
            subtotal_cents: value_cents(&o.subtotal),
            discount_cents: value_cents(&o.discount),
            shipping_cents: value_cents(&o.shipping_cost_customer),
            total_cents: value_cents(&o.total),
        },
        currency: text(&o.currency),
        placed_at: time(&o.created_at),
        platform_updated_at: time(&o.updated_at),
        paid_at: time(&o.paid_at),
        cancelled_at: time(&o.cancelled_at),
        platform_status,
        platform_flags: vec![],
    };
    Ok(MappedOrder {
        data,
        closed_at_platform,
        raw,
    })
}

/// A scalar as text; `None` for null, empty strings, objects and arrays.
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// ISO-8601 timestamps as Nuvemshop writes them (`2013-06-03T17:20:12+0000` or
/// `2008-01-10T11:00:00-05:00`).
fn time(v: &Value) -> Option<DateTime<Utc>> {
    let s = text(v)?;
    DateTime::parse_from_rfc3339(&s)
        .or_else(|_| DateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%z"))
        .or_else(|_| DateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::OrderStatus;

    fn status_of(status: &str, pay: &str, ship: &str) -> OrderStatus {
        default_status_table()
            .resolve(
                &[],
                &PlatformStatus {
                    status: Some(status.into()),
                    payment_status: Some(pay.into()),
                    shipping_status: Some(ship.into()),
                },
            )
            .unwrap_or(AwaitingPayment)
    }

    #[test]
    fn default_table() {
        assert_eq!(status_of("open", "pending", "unpacked"), AwaitingPayment);
        assert_eq!(status_of("open", "authorized", "unpacked"), PaymentInReview);
        assert_eq!(status_of("open", "paid", "unpacked"), Approved);
        assert_eq!(status_of("open", "paid", "unshipped"), Approved);
        assert_eq!(status_of("open", "paid", "packed"), InSeparation);
        assert_eq!(status_of("open", "paid", "fulfilled"), Shipped);
        assert_eq!(status_of("closed", "paid", "shipped"), Shipped);
        assert_eq!(status_of("open", "paid", "delivered"), Delivered);
        assert_eq!(status_of("cancelled", "paid", "unpacked"), Cancelled);
        assert_eq!(status_of("open", "voided", "unpacked"), Cancelled);
        assert_eq!(status_of("open", "something-new", "x"), AwaitingPayment);
    }

    #[test]
    fn timestamps() {
        assert!(time(&Value::String("2013-06-03T17:20:12+0000".into())).is_some());
        assert!(time(&Value::String("2008-01-10T11:00:00-05:00".into())).is_some());
        assert!(time(&Value::String("yesterday".into())).is_none());
    }
}
