//! Pure mapping of Mercado Livre orders to ponte orders, and the default status table.
//!
//! An ML order is read from three resources (see the module docs of
//! [`crate::mercadolivre`]); [`compose`] keeps them together as the order's raw
//! payload `{"order": …, "billing_info": …, "shipment": …}` and [`read_order`] maps it.

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
use serde_json::{json, Value};

/// Every ML order `status` (ORD "Status da order") with its default ponte status.
pub const STATUSES: &[(&str, OrderStatus)] = &[
    ("confirmed", AwaitingPayment),
    ("payment_required", AwaitingPayment),
    ("payment_in_process", PaymentInReview),
    ("partially_paid", PaymentInReview),
    ("paid", Approved),
    ("partially_refunded", Approved),
    ("pending_cancel", AwaitingPayment),
    ("cancelled", Cancelled),
    ("invalid", Cancelled),
];

/// The order tag ML sets on orders it suspects (ORD: "do not ship; cancel").
pub const FRAUD_TAG: &str = "fraud_risk_detected";

/// The order tag of orders bought together in one cart (ORD: group by `pack_id`).
pub const PACK_TAG: &str = "pack_order";

/// Shipment statuses at which the order already left the seller.
const SHIPPED_STATES: [&str; 3] = ["shipped", "delivered", "not_delivered"];

/// The default DE-PARA for Mercado Livre, first match wins. Fields: `status` is the
/// order `status`; `payment_status` is `fraud_risk_detected` when the order carries
/// that tag, else the last payment's `status` (`approved`, `rejected`, …);
/// `shipping_status` is the forward shipment's `status` (`pending`, `handling`,
/// `ready_to_ship`, `shipped`, `delivered`, `not_delivered`, `cancelled`). A channel's
/// `status_map` setting is tried before it.
pub fn default_status_table() -> StatusTable {
    let mut rules = vec![
        rule(Some("cancelled"), None, None, Cancelled),
        rule(Some("invalid"), None, None, Cancelled),
        // Suspected fraud: held in review, never shipped (sends refuse it too).
        rule(None, Some(FRAUD_TAG), None, PaymentInReview),
    ];
    for paid in ["paid", "partially_refunded"] {
        rules.push(rule(Some(paid), None, Some("delivered"), Delivered));
        rules.push(rule(Some(paid), None, Some("shipped"), Shipped));
        rules.push(rule(Some(paid), None, Some("not_delivered"), Shipped));
    }
    rules.extend(
        STATUSES
            .iter()
            .map(|(status, to)| rule(Some(status), None, None, *to)),
    );
    StatusTable { rules }
}

/// Every ML order `status` [`STATUSES`] knows.
const STATUS_NAMES: [&str; STATUSES.len()] = ponte_core::status_vocab::names(STATUSES);

/// Mercado Livre's status fields as ponte reads them (ORD): what a DE-PARA row may
/// name. `payment_status` is the last payment's status or the fraud tag.
pub const STATUS_VOCABULARY: StatusVocabulary = StatusVocabulary {
    status: &STATUS_NAMES,
    payment_status: &[
        FRAUD_TAG,
        "pending",
        "approved",
        "authorized",
        "in_process",
        "in_mediation",
        "rejected",
        "cancelled",
        "refunded",
        "charged_back",
    ],
    shipping_status: &[
        "pending",
        "handling",
        "ready_to_ship",
        "shipped",
        "delivered",
        "not_delivered",
        "not_verified",
        "cancelled",
    ],
};

/// The raw payload ponte keeps for an order: the order and what was read beside it.
pub fn compose(order: Value, billing_info: Option<Value>, shipment: Option<Value>) -> Value {
    json!({
        "order": order,
        "billing_info": billing_info.unwrap_or(Value::Null),
        "shipment": shipment.unwrap_or(Value::Null),
    })
}

/// What a status send needs from a stored order, read from its raw payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderRefs {
    /// `pack_id` of a `pack_order` (NF-e and sends work per pack).
    pub pack_id: Option<String>,
    /// The forward shipment's id.
    pub shipment_id: Option<String>,
    /// `me1`, `me2`, `custom`.
    pub mode: Option<String>,
    /// `drop_off`, `cross_docking`, `fulfillment`, …
    pub logistic_type: Option<String>,
    /// The shipment's `status`.
    pub shipment_status: Option<String>,
    /// The shipment's `substatus`.
    pub substatus: Option<String>,
    /// Tagged `fraud_risk_detected`.
    pub fraud: bool,
}

/// Reads [`OrderRefs`] from a raw payload made by [`compose`].
pub fn order_refs(raw: &Value) -> OrderRefs {
    let o = dto::Order::deserialize(&raw["order"]).unwrap_or_default();
    let s = dto::Shipment::deserialize(&raw["shipment"]).unwrap_or_default();
    OrderRefs {
        pack_id: text(&o.pack_id),
        shipment_id: text(&s.id).or_else(|| o.shipping.as_ref().and_then(|x| text(&x.id))),
        mode: text(&s.mode),
        logistic_type: text(&s.logistic_type),
        shipment_status: text(&s.status),
        substatus: text(&s.substatus),
        fraud: has_tag(&o, FRAUD_TAG),
    }
}

/// The forward shipment of `GET /orders/{id}/shipments`: the one with `type ==
/// "forward"` in an array (hosted view, or `list_all=true`); a single object (current
/// view) is taken as is.
pub fn forward_shipment(body: Value) -> Option<Value> {
    match body {
        Value::Array(list) => list
            .into_iter()
            .find(|s| s.get("type").and_then(Value::as_str) == Some("forward")),
        v @ Value::Object(_) => Some(v),
        _ => None,
    }
}

/// Maps a raw payload made by [`compose`].
pub fn read_order(raw: Value, overrides: &[StatusRule]) -> Result<MappedOrder, String> {
    if !raw["order"].is_object() {
        return Err("order is not a JSON object".into());
    }
    let o = dto::Order::deserialize(&raw["order"]).map_err(|e| e.to_string())?;
    let billing = if raw["billing_info"].is_object() {
        dto::BillingInfoResponse::deserialize(&raw["billing_info"]).map_err(|e| e.to_string())?
    } else {
        dto::BillingInfoResponse::default()
    };
    let shipment = if raw["shipment"].is_object() {
        Some(dto::Shipment::deserialize(&raw["shipment"]).map_err(|e| e.to_string())?)
    } else {
        None
    };
    map_order(o, billing, shipment, raw, overrides)
}

fn has_tag(o: &dto::Order, tag: &str) -> bool {
    o.tags.iter().any(|t| t.as_str() == Some(tag))
}

fn map_order(
    o: dto::Order,
    billing: dto::BillingInfoResponse,
    shipment: Option<dto::Shipment>,
    raw: Value,
    overrides: &[StatusRule],
) -> Result<MappedOrder, String> {
    let external_id = text(&o.id).ok_or("order has no id")?;
    let fraud = has_tag(&o, FRAUD_TAG);
    let last_payment = o.payments.last();
    let platform_status = PlatformStatus {
        status: text(&o.status),
        payment_status: if fraud {
            Some(FRAUD_TAG.to_owned())
        } else {
            last_payment.and_then(|p| text(&p.status))
        },
        shipping_status: shipment.as_ref().and_then(|s| text(&s.status)),
    };
    let status = default_status_table()
        .resolve(overrides, &platform_status)
        .unwrap_or(AwaitingPayment);
    let closed_at_platform = platform_status
        .shipping_status
        .as_deref()
        .is_some_and(|s| SHIPPED_STATES.contains(&s));

    let items: Vec<OrderItem> = o
        .order_items
        .iter()
        .map(|i| OrderItem {
            sku: text(&i.item.seller_sku).or_else(|| text(&i.item.seller_custom_field)),
            name: text(&i.item.title),
            quantity: int(&i.quantity).unwrap_or(0),
            unit_price_cents: value_cents(&i.unit_price),
            product_id: text(&i.item.id),
            // An item without variations is its own listing: its variant is the item
            // id (how stock pushes tell `available_quantity` from `variations[]`).
            variant_id: text(&i.item.variation_id).or_else(|| text(&i.item.id)),
            barcode: None,
        })
        .collect();
    let subtotal = value_cents(&o.total_amount).or_else(|| {
        items.iter().try_fold(0i64, |acc, i| {
            acc.checked_add(i.unit_price_cents?.checked_mul(i.quantity)?)
        })
    });
    let discount = o.coupon.as_ref().and_then(|c| value_cents(&c.amount));
    let shipping_cost = shipment
        .as_ref()
        .and_then(|s| s.shipping_option.as_ref())
        .and_then(|so| value_cents(&so.cost))
        .or_else(|| {
            let costs: Vec<i64> = o
                .payments
                .iter()
                .filter_map(|p| value_cents(&p.shipping_cost))
                .collect();
            (!costs.is_empty()).then(|| costs.iter().fold(0i64, |a, b| a.saturating_add(*b)))
        });
    // `paid_amount` is what the buyer paid, shipping included; `total_amount` is the
    // items' total (ORD examples: 129.95 = unit price, shipping 0).
    let total = value_cents(&o.paid_amount).filter(|t| *t > 0).or_else(|| {
        subtotal.map(|s| {
            s.saturating_sub(discount.unwrap_or(0))
                .saturating_add(shipping_cost.unwrap_or(0))
        })
    });

    let bill = billing.buyer.and_then(|b| b.billing_info);
    let buyer = o.buyer.unwrap_or_default();
    let mut customer = customer(bill.as_ref(), &buyer);
    customer.state_registration = state_registration(&raw);
    let billing_address = bill
        .as_ref()
        .and_then(|b| b.address.as_ref())
        .map(billing_address)
        .filter(|a| *a != Address::default());
    let shipping_address = shipment
        .as_ref()
        .and_then(|s| s.receiver_address.as_ref())
        .or(o
            .shipping
            .as_ref()
            .and_then(|s| s.receiver_address.as_ref()))
        .map(receiver_address)
        .filter(|a| *a != Address::default());
    let option = shipment.as_ref().and_then(|s| s.shipping_option.as_ref());

    let platform_updated_at = time(&o.date_last_updated).or_else(|| time(&o.last_updated));
    let cancelled_at = (status == Cancelled)
        .then(|| {
            o.cancel_detail
                .as_ref()
                .and_then(|c| time(&c.date))
                .or(platform_updated_at)
        })
        .flatten();
    let paid_at = o
        .payments
        .iter()
        .filter_map(|p| time(&p.date_approved))
        .max()
        .or_else(|| {
            (status != AwaitingPayment)
                .then(|| time(&o.date_closed))
                .flatten()
        });
    let primary = o
        .payments
        .iter()
        .max_by_key(|p| value_cents(&p.transaction_amount).unwrap_or(0));

    let data = OrderData {
        external_id: external_id.clone(),
        number: Some(external_id),
        status,
        payment: Payment {
            status: last_payment.and_then(|p| text(&p.status)),
            method: primary.and_then(|p| text(&p.payment_type)),
            gateway: primary.and_then(|p| text(&p.payment_method_id)),
            installments: primary
                .and_then(|p| int(&p.installments))
                .and_then(|n| u32::try_from(n).ok()),
            erp: None,
        },
        items,
        customer,
        billing_address,
        shipping_address,
        shipping: Shipping {
            option: option.and_then(|so| text(&so.name)),
            code: option.and_then(|so| text(&so.shipping_method_id)),
            carrier: shipment.as_ref().and_then(|s| text(&s.tracking_method)),
            cost_cents: shipping_cost,
        },
        totals: Totals {
            subtotal_cents: subtotal,
            discount_cents: discount,
            shipping_cents: shipping_cost,
            total_cents: total,
        },
        currency: text(&o.currency_id)
            .or_else(|| o.order_items.first().and_then(|i| text(&i.currency_id))),
        placed_at: time(&o.date_created),
        platform_updated_at,
        paid_at,
        cancelled_at,
        platform_status,
        platform_flags: if fraud {
            vec![OrderFlag::FraudRisk]
        } else {
            vec![]
        },
    };
    Ok(MappedOrder {
        data,
        closed_at_platform,
        raw,
    })
}

/// The buyer from the billing data (BILL): `name last_name` and the CPF/CNPJ of
/// `identification`; without billing data, the order's buyer (nickname) and the
/// legacy `billing_info.doc_number`. The document is validated and flagged, never
/// dropped.
fn customer(bill: Option<&dto::BillingInfo>, buyer: &dto::Buyer) -> Customer {
    let join = |a: &Value, b: &Value| {
        let s = [text(a), text(b)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!s.is_empty()).then_some(s)
    };
    let name = bill
        .and_then(|b| join(&b.name, &b.last_name))
        .or_else(|| join(&buyer.first_name, &buyer.last_name))
        .or_else(|| text(&buyer.nickname));
    let document = bill
        .and_then(|b| b.identification.as_ref())
        .and_then(|i| text(&i.number))
        .or_else(|| {
            buyer
                .billing_info
                .as_ref()
                .and_then(|b| text(&b.doc_number))
        });
    Customer {
        name,
        email: text(&buyer.email),
        phone: None,
        document: document.map(|d| TaxDocument::parse(&d)),
        ..Customer::default()
    }
}

/// The buyer's state registration (IE) from the billing data, when given.
pub fn state_registration(raw: &Value) -> Option<String> {
    text(
        &raw["billing_info"]["buyer"]["billing_info"]["taxes"]["inscriptions"]
            ["state_registration"],
    )
}

fn billing_address(a: &dto::BillingAddress) -> Address {
    Address {
        name: None,
        street: text(&a.street_name),
        number: text(&a.street_number),
        complement: text(&a.comment),
        district: text(&a.neighborhood),
        city: text(&a.city_name),
        state: a.state.as_ref().and_then(|s| text(&s.name)),
        zipcode: text(&a.zip_code),
        country: text(&a.country_id),
        phone: None,
    }
}

fn receiver_address(a: &dto::ReceiverAddress) -> Address {
    Address {
        name: text(&a.receiver_name),
        street: text(&a.street_name).or_else(|| text(&a.address_line)),
        number: text(&a.street_number),
        complement: text(&a.comment),
        district: a.neighborhood.as_ref().and_then(|n| text(&n.name)),
        city: a.city.as_ref().and_then(|c| text(&c.name)),
        state: a
            .state
            .as_ref()
            .and_then(|s| text(&s.id).map(|id| id.trim_start_matches("BR-").to_owned()))
            .or_else(|| a.state.as_ref().and_then(|s| text(&s.name))),
        zipcode: text(&a.zip_code),
        country: a.country.as_ref().and_then(|c| text(&c.id)),
        phone: text(&a.receiver_phone),
    }
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

fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| text(v).and_then(|s| s.parse().ok()))
}

/// ML timestamps: RFC 3339 with milliseconds and an offset (`2019-05-22T03:51:05.000-04:00`).
fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text(v)?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;
