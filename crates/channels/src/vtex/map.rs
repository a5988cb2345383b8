//! Pure mapping of VTEX orders to ponte orders, and the default status table.
//!
//! See the module documentation of [`crate::vtex`] for the status table and for
//! where the fields ponte has no place for are kept.

use super::dto;
use chrono::{DateTime, Utc};
use ponte_core::document::TaxDocument;
use ponte_core::order::*;
use ponte_core::status_rules::{rule, StatusRule, StatusTable};
use ponte_core::status_vocab::StatusVocabulary;
use ponte_core::OrderStatus;
use ponte_core::OrderStatus::*;
use serde::Deserialize;
use serde_json::Value;

/// Every VTEX OMS `status` the sources list, with its default ponte status. Sources:
/// the Feed v3 / Hook filter lists (`VX:VTEX - Orders API.json` and the dev-portal
/// feed guide) and the "Order flow and status" table (help.vtex.com `tutorials_196`,
/// 2025-08-15). Kept in lifecycle order; see the module docs for the reasoning.
pub const STATUSES: &[(&str, OrderStatus)] = &[
    // Placed; data being processed or waiting for the seller: nothing paid yet.
    ("order-created", AwaitingPayment),
    ("order-completed", AwaitingPayment),
    ("on-order-completed", AwaitingPayment),
    ("on-order-completed-ffm", AwaitingPayment),
    ("waiting-for-seller-confirmation", AwaitingPayment),
    ("waiting-for-authorization", AwaitingPayment),
    ("order-accepted", AwaitingPayment),
    ("window-to-change-seller", AwaitingPayment),
    ("window-to-change-payment", AwaitingPayment),
    ("payment-pending", AwaitingPayment),
    // Creation failed: never paid, never to be handled.
    ("order-create-error", AwaitingPayment),
    ("order-creation-error", AwaitingPayment),
    // A cancellation is pending a decision (see the module docs).
    ("request-cancel", AwaitingPayment),
    ("cancellation-requested", AwaitingPayment),
    ("waiting-for-seller-decision", AwaitingPayment),
    // Payment or the marketplace's go-ahead under review.
    ("waiting-for-order-authorization", PaymentInReview),
    ("approve-payment", PaymentInReview),
    ("waiting-ffmt-authorization", PaymentInReview),
    ("waiting-for-manual-authorization", PaymentInReview),
    ("waiting-for-fulfillment", PaymentInReview),
    ("waiting-for-mkt-authorization", PaymentInReview),
    // Paid: may be handled.
    ("payment-approved", Approved),
    ("authorize-fulfillment", Approved),
    ("window-to-cancel", Approved),
    ("ready-for-handling", Approved),
    ("waiting-seller-handling", Approved),
    // Being handled; an invoice may be on its way but is not accepted yet.
    ("start-handling", InSeparation),
    ("handling", InSeparation),
    ("ready-for-invoicing", InSeparation),
    ("invoice", InSeparation),
    ("invoice-after-cancellation-deny", InSeparation),
    // `invoiced` is refined by the packages' delivery state, see [`default_status_table`].
    ("invoiced", Invoiced),
    // Cancelled or on its way to be; `replaced` is superseded by a new order.
    ("payment-denied", Cancelled),
    ("cancel", Cancelled),
    ("canceled", Cancelled),
    ("replaced", Cancelled),
];

/// VTEX statuses at which an invoice (NF-e) was already sent to the platform: an
/// order first seen here was fulfilled elsewhere and is not imported when new.
const INVOICED_STATES: [&str; 3] = ["invoice", "invoice-after-cancellation-deny", "invoiced"];

/// The derived shipping state of the outgoing packages, for [`PlatformStatus::shipping_status`].
pub const SHIPPING_DELIVERED: &str = "delivered";
/// See [`SHIPPING_DELIVERED`].
pub const SHIPPING_SHIPPED: &str = "shipped";

/// The default DE-PARA for VTEX, first match wins. Fields: `status` is VTEX's order
/// `status` verbatim; `payment_status` is never set (a VTEX order has no payment
/// status field); `shipping_status` is derived from `packageAttachment.packages`
/// (`delivered` / `shipped`, see the module docs) because VTEX keeps `invoiced`
/// through shipping and delivery. A channel's `status_map` setting is tried before it;
/// a status no row matches ends as `awaiting_payment`.
pub fn default_status_table() -> StatusTable {
    let mut rules = vec![
        rule(Some("invoiced"), None, Some(SHIPPING_DELIVERED), Delivered),
        rule(Some("invoiced"), None, Some(SHIPPING_SHIPPED), Shipped),
    ];
    rules.extend(
        STATUSES
            .iter()
            .map(|(status, to)| rule(Some(status), None, None, *to)),
    );
    StatusTable { rules }
}

/// Every VTEX order `status` [`STATUSES`] knows.
const STATUS_NAMES: [&str; STATUSES.len()] = ponte_core::status_vocab::names(STATUSES);

/// VTEX's status fields as ponte reads them: what a DE-PARA row may name (no
/// `payment_status`; `shipping_status` derived from the packages).
pub const STATUS_VOCABULARY: StatusVocabulary = StatusVocabulary {
    status: &STATUS_NAMES,
    payment_status: &[],
    shipping_status: &[SHIPPING_SHIPPED, SHIPPING_DELIVERED],
};

/// Maps one order already read as a `Value` (a fetched body). Through `Value` first,
/// as Nuvemshop's `read_order` does, so `raw` keeps the payload whole.
pub fn read_order(raw: Value, overrides: &[StatusRule]) -> Result<MappedOrder, String> {
    // serde would read a JSON array positionally into the struct: refuse it.
    if !raw.is_object() {
        return Err("order is not a JSON object".into());
    }
    let order = dto::Order::deserialize(&raw).map_err(|e| e.to_string())?;
    map_order(order, raw, overrides)
}

/// Maps a fetched order. `raw` is the payload as received.
fn map_order(o: dto::Order, raw: Value, overrides: &[StatusRule]) -> Result<MappedOrder, String> {
    let external_id = text(&o.order_id).ok_or("order has no orderId")?;
    let platform_status = PlatformStatus {
        status: text(&o.status),
        payment_status: None,
        shipping_status: shipping_state(o.package_attachment.as_ref()),
    };
    let status = default_status_table()
        .resolve(overrides, &platform_status)
        .unwrap_or(AwaitingPayment);
    let closed_at_platform = platform_status
        .status
        .as_deref()
        .is_some_and(|s| INVOICED_STATES.contains(&s));

    let totals = o.totals.unwrap_or_default();
    let total_of = |id: &str| {
        totals
            .iter()
            .find(|t| text(&t.id).as_deref() == Some(id))
            .and_then(|t| cents(&t.value))
    };

    let items = o
        .items
        .unwrap_or_default()
        .iter()
        .map(|i| OrderItem {
            // refId is the merchant's own code; VTEX's numeric SKU id when absent.
            sku: text(&i.ref_id).or_else(|| text(&i.id)),
            name: text(&i.name),
            quantity: int(&i.quantity).unwrap_or(0),
            // `price`, not `sellingPrice`: discounts are in `totals[Discounts]`, and
            // Σ price × quantity is `totals[Items]` (ponte's subtotal).
            unit_price_cents: cents(&i.price).or_else(|| cents(&i.selling_price)),
            product_id: text(&i.product_id),
            variant_id: text(&i.id),
            barcode: text(&i.ean),
        })
        .collect();

    let customer = customer(o.client_profile_data.unwrap_or_default());
    let shipping_data = o.shipping_data.unwrap_or_default();
    let logistics = shipping_data.logistics_info.unwrap_or_default();
    let shipping = shipping(&logistics, total_of("Shipping"));
    let primary = primary_payment(o.payment_data.unwrap_or_default());

    let placed_at = time(&o.creation_date);
    let platform_updated_at = time(&o.last_change);
    let cancelled_at = (status == Cancelled)
        .then(|| {
            o.cancellation_data
                .as_ref()
                .and_then(|c| time(&c.cancellation_date))
                .or(platform_updated_at)
        })
        .flatten();

    let data = OrderData {
        external_id: external_id.clone(),
        number: text(&o.sequence).or(Some(external_id)),
        status,
        payment: Payment {
            status: None,
            method: primary.as_ref().and_then(|p| text(&p.group)),
            gateway: primary.as_ref().and_then(|p| text(&p.payment_system_name)),
            installments: primary
                .as_ref()
                .and_then(|p| p.installments.as_u64())
                .and_then(|n| u32::try_from(n).ok()),
            erp: None,
        },
        items,
        customer,
        billing_address: primary
            .and_then(|p| p.billing_address)
            .map(address)
            .filter(|a| *a != Address::default()),
        shipping_address: shipping_data
            .address
            .map(address)
            .filter(|a| *a != Address::default()),
        shipping,
        totals: Totals {
            subtotal_cents: total_of("Items"),
            // VTEX reports discounts as a negative total; ponte keeps them positive
            // (total = subtotal - discount + shipping).
            discount_cents: total_of("Discounts").map(i64::saturating_abs),
            shipping_cents: total_of("Shipping"),
            total_cents: cents(&o.value),
        },
        currency: o
            .store_preferences_data
            .and_then(|s| text(&s.currency_code)),
        placed_at,
        platform_updated_at,
        paid_at: time(&o.authorized_date),
        cancelled_at,
        platform_status,
        platform_flags: vec![],
    };
    Ok(MappedOrder {
        data,
        closed_at_platform,
        raw,
    })
}

/// The buyer: a company (`isCorporate`) is named by `corporateName` and identified by
/// `corporateDocument` (CNPJ); a person by first + last name and `document` (CPF).
/// Whatever document is sent is kept, validated or flagged, never dropped.
fn customer(c: dto::ClientProfile) -> Customer {
    let corporate = c.is_corporate.as_bool() == Some(true);
    let person = [text(&c.first_name), text(&c.last_name)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let person = (!person.is_empty()).then_some(person);
    let corporate_name = if corporate {
        text(&c.corporate_name)
    } else {
        None
    };
    let (name, document, phone) = if corporate {
        (
            corporate_name.clone().or(person),
            text(&c.corporate_document).or_else(|| text(&c.document)),
            text(&c.corporate_phone).or_else(|| text(&c.phone)),
        )
    } else {
        (person, text(&c.document), text(&c.phone))
    };
    Customer {
        name,
        email: text(&c.email),
        phone,
        document: document.map(|d| TaxDocument::parse(&d)),
        is_company: corporate,
        corporate_name,
        state_registration: text(&c.state_inscription),
        extra_fields: vec![],
    }
}

/// Shipping from `logisticsInfo` (one entry per item): the first item's SLA (its id is
/// the code, the SLA's name the option) and carrier. The cost is the order's
/// `totals[Shipping]`; only without it the per-item prices are summed.
fn shipping(logistics: &[dto::LogisticsInfo], order_shipping: Option<i64>) -> Shipping {
    let first = logistics.iter().find(|l| text(&l.selected_sla).is_some());
    let code = first.and_then(|l| text(&l.selected_sla));
    let option = first
        .and_then(|l| {
            l.slas
                .iter()
                .flatten()
                .find(|s| text(&s.id) == code)
                .and_then(|s| text(&s.name))
        })
        .or_else(|| code.clone());
    let per_item: Vec<i64> = logistics.iter().filter_map(|l| cents(&l.price)).collect();
    Shipping {
        option,
        code,
        carrier: first.and_then(|l| text(&l.delivery_company)),
        cost_cents: order_shipping.or_else(|| {
            (!per_item.is_empty()).then(|| per_item.iter().fold(0i64, |a, b| a.saturating_add(*b)))
        }),
    }
}

/// The payment ponte shows: the largest payment of the active transactions (all of
/// them when none is marked active); the others stay in the raw payload.
fn primary_payment(p: dto::PaymentData) -> Option<dto::PaymentItem> {
    let transactions = p.transactions.unwrap_or_default();
    let any_active = transactions
        .iter()
        .any(|t| t.is_active.as_bool() == Some(true));
    let mut best: Option<dto::PaymentItem> = None;
    for t in transactions {
        if any_active && t.is_active.as_bool() != Some(true) {
            continue;
        }
        for pay in t.payments.unwrap_or_default() {
            let better = best
                .as_ref()
                .is_none_or(|b| cents(&pay.value).unwrap_or(0) > cents(&b.value).unwrap_or(0));
            if better {
                best = Some(pay);
            }
        }
    }
    best
}

/// The shipping state of the outgoing (`Output`) invoice packages: `delivered` when
/// every one is delivered (`courierStatus.finished` or a `deliveredDate`), `shipped`
/// when any has a tracking number, tracking events or a delivery; `None` otherwise.
/// Return packages (`type: Input`) are ignored.
fn shipping_state(p: Option<&dto::PackageAttachment>) -> Option<String> {
    let outgoing: Vec<&dto::Package> = p
        .and_then(|p| p.packages.as_ref())
        .into_iter()
        .flatten()
        .filter(|p| text(&p.kind).as_deref() != Some("Input"))
        .collect();
    let delivered = |p: &dto::Package| {
        p.courier_status.as_ref().is_some_and(|c| {
            c.finished.as_bool() == Some(true) || text(&c.delivered_date).is_some()
        })
    };
    let moving = |p: &dto::Package| {
        text(&p.tracking_number).is_some()
            || p.courier_status
                .as_ref()
                .is_some_and(|c| c.data.as_ref().is_some_and(|d| !d.is_empty()))
    };
    if outgoing.is_empty() {
        None
    } else if outgoing.iter().all(|p| delivered(p)) {
        Some(SHIPPING_DELIVERED.to_owned())
    } else if outgoing.iter().any(|p| delivered(p) || moving(p)) {
        Some(SHIPPING_SHIPPED.to_owned())
    } else {
        None
    }
}

fn address(a: dto::Address) -> Address {
    Address {
        name: text(&a.receiver_name),
        street: text(&a.street),
        number: text(&a.number),
        complement: text(&a.complement),
        district: text(&a.neighborhood),
        city: text(&a.city),
        state: text(&a.state),
        zipcode: text(&a.postal_code),
        country: text(&a.country),
        phone: None,
    }
}

/// What a row of `GET /api/oms/pvt/orders` allows: enough to decide which orders to
/// fetch, never enough to import (no items, document or address; VTEX itself says the
/// list "should not be used for integrations").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOrder {
    /// `orderId`.
    pub external_id: String,
    /// `sequence`.
    pub number: Option<String>,
    /// VTEX's `status`, verbatim.
    pub platform_status: Option<String>,
    /// ponte's status for it, from the same table as full orders.
    pub status: OrderStatus,
    /// `creationDate`.
    pub placed_at: Option<DateTime<Utc>>,
    /// `authorizedDate`.
    pub paid_at: Option<DateTime<Utc>>,
    /// `totalValue`, cents.
    pub total_cents: Option<i64>,
    /// `currencyCode`.
    pub currency: Option<String>,
    /// `marketPlaceOrderId` (so spelled in the list).
    pub marketplace_order_id: Option<String>,
}

/// Reads one `list[]` row of `GET /api/oms/pvt/orders`.
pub fn read_listed_order(raw: &Value, overrides: &[StatusRule]) -> Result<ListedOrder, String> {
    if !raw.is_object() {
        return Err("listed order is not a JSON object".into());
    }
    let s = dto::OrderSummary::deserialize(raw).map_err(|e| e.to_string())?;
    let external_id = text(&s.order_id).ok_or("listed order has no orderId")?;
    let platform_status = text(&s.status);
    let status = default_status_table()
        .resolve(
            overrides,
            &PlatformStatus {
                status: platform_status.clone(),
                payment_status: None,
                shipping_status: None,
            },
        )
        .unwrap_or(AwaitingPayment);
    Ok(ListedOrder {
        external_id,
        number: text(&s.sequence),
        platform_status,
        status,
        placed_at: time(&s.creation_date),
        paid_at: time(&s.authorized_date),
        total_cents: cents(&s.total_value),
        currency: text(&s.currency_code),
        marketplace_order_id: text(&s.marketplace_order_id),
    })
}

/// VTEX references ponte's order has no field for, read from the kept raw payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderRefs {
    /// `marketplaceOrderId`: the order's id at the marketplace it came from.
    pub marketplace_order_id: Option<String>,
    /// `sellerOrderId`.
    pub seller_order_id: Option<String>,
    /// `origin`: `Marketplace`, `Fulfillment` or `Chain`.
    pub origin: Option<String>,
    /// `salesChannel`: the trade policy id.
    pub sales_channel: Option<String>,
    /// `affiliateId`: three-letter affiliate (external marketplace) code.
    pub affiliate_id: Option<String>,
    /// `orderGroup`: groups the orders of one purchase.
    pub order_group: Option<String>,
}

/// Reads the [`OrderRefs`] of a VTEX order payload (e.g. [`MappedOrder::raw`]).
pub fn order_refs(raw: &Value) -> OrderRefs {
    let get = |k: &str| raw.get(k).and_then(text);
    OrderRefs {
        marketplace_order_id: get("marketplaceOrderId"),
        seller_order_id: get("sellerOrderId"),
        origin: get("origin"),
        sales_channel: get("salesChannel"),
        affiliate_id: get("affiliateId"),
        order_group: get("orderGroup"),
    }
}

/// A scalar as text; `None` for null, empty strings, objects and arrays.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer (a JSON integer, or a string of one).
fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| text(v).and_then(|s| s.parse().ok()))
}

/// VTEX money: already integer cents (spec: "value in cents"). A non-integer number is
/// not cents and is refused rather than guessed at.
fn cents(v: &Value) -> Option<i64> {
    int(v)
}

/// ISO-8601 with an offset, as VTEX writes it (`2024-02-06T20:46:11.7010747+00:00`,
/// `2024-02-11T09:14:41.3695207Z`).
fn time(v: &Value) -> Option<DateTime<Utc>> {
    let s = text(v)?;
    DateTime::parse_from_rfc3339(&s)
        .or_else(|_| DateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status_of(status: &str, shipping: Option<&str>) -> OrderStatus {
        default_status_table()
            .resolve(
                &[],
                &PlatformStatus {
                    status: Some(status.into()),
                    payment_status: None,
                    shipping_status: shipping.map(str::to_owned),
                },
            )
            .unwrap_or(AwaitingPayment)
    }

    #[test]
    fn every_listed_status_has_its_row() {
        for (s, to) in STATUSES {
            assert_eq!(status_of(s, None), *to, "{s}");
        }
        let mut names: Vec<&str> = STATUSES.iter().map(|(s, _)| *s).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), STATUSES.len(), "a status is listed twice");
    }

    #[test]
    fn invoiced_is_refined_by_packages() {
        assert_eq!(status_of("invoiced", None), Invoiced);
        assert_eq!(status_of("invoiced", Some("shipped")), Shipped);
        assert_eq!(status_of("invoiced", Some("delivered")), Delivered);
        // The derived state only refines `invoiced`.
        assert_eq!(status_of("handling", Some("delivered")), InSeparation);
        assert_eq!(status_of("something-new", None), AwaitingPayment);
    }

    fn packages(v: Value) -> Option<String> {
        let p: dto::PackageAttachment = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        shipping_state(Some(&p))
    }

    #[test]
    fn package_states() {
        assert_eq!(packages(json!({"packages": []})), None);
        assert_eq!(packages(json!({"packages": null})), None);
        assert_eq!(
            packages(json!({"packages": [{"type": "Output", "trackingNumber": ""}]})),
            None
        );
        assert_eq!(
            packages(json!({"packages": [{"type": "Output", "trackingNumber": "TRK1"}]})),
            Some("shipped".into())
        );
        assert_eq!(
            packages(json!({"packages": [
                {"type": "Output", "courierStatus": {"finished": true}},
                {"type": "Output", "trackingNumber": "TRK2"}
            ]})),
            Some("shipped".into())
        );
        assert_eq!(
            packages(json!({"packages": [
                {"courierStatus": {"finished": false, "deliveredDate": "2024-02-15T10:17:40+00:00"}},
                {"type": "Output", "courierStatus": {"finished": true}}
            ]})),
            Some("delivered".into())
        );
        // A return invoice says nothing about the sale's delivery.
        assert_eq!(
            packages(json!({"packages": [{"type": "Input", "courierStatus": {"finished": true}}]})),
            None
        );
    }

    #[test]
    fn corporate_customer_uses_cnpj() {
        let c: dto::ClientProfile = serde_json::from_value(json!({
            "firstName": "Ana", "lastName": "Lima", "document": "52998224725",
            "documentType": "cpf", "isCorporate": true, "corporateName": "Lima Ltda",
            "corporateDocument": "11.222.333/0001-81", "phone": "+5511999990000"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let c = customer(c);
        assert_eq!(c.name.as_deref(), Some("Lima Ltda"));
        let d = c.document.unwrap_or_else(|| panic!("no document"));
        assert_eq!(d.kind, Some(ponte_core::document::DocumentKind::Cnpj));
        assert!(d.valid);
        assert_eq!(c.phone.as_deref(), Some("+5511999990000"));
    }

    #[test]
    fn invalid_document_is_kept_and_flagged() {
        let c: dto::ClientProfile = serde_json::from_value(json!({
            "firstName": "Ana", "document": "111.111.111-11", "documentType": "cpf"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let d = customer(c)
            .document
            .unwrap_or_else(|| panic!("document dropped"));
        assert_eq!(d.raw, "111.111.111-11");
        assert!(!d.valid);
    }

    #[test]
    fn largest_active_payment_wins() {
        let p: dto::PaymentData = serde_json::from_value(json!({"transactions": [
            {"isActive": false, "payments": [{"paymentSystemName": "Old", "value": 99999}]},
            {"isActive": true, "payments": [
                {"paymentSystemName": "Vale", "group": "giftCard", "value": 1000},
                {"paymentSystemName": "Pix", "group": "instantPayment", "value": 5000}
            ]}
        ]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let best = primary_payment(p).unwrap_or_else(|| panic!("no payment"));
        assert_eq!(text(&best.payment_system_name).as_deref(), Some("Pix"));
    }

    #[test]
    fn shipping_cost_falls_back_to_item_prices() {
        let l: Vec<dto::LogisticsInfo> = serde_json::from_value(json!([
            {"selectedSla": "Expressa", "price": 700, "slas": [{"id": "Expressa", "name": "Entrega Expressa"}]},
            {"selectedSla": "Expressa", "price": 300}
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let s = shipping(&l, None);
        assert_eq!(s.cost_cents, Some(1000));
        assert_eq!(s.code.as_deref(), Some("Expressa"));
        assert_eq!(s.option.as_deref(), Some("Entrega Expressa"));
        assert_eq!(shipping(&l, Some(0)).cost_cents, Some(0));
    }

    #[test]
    fn minimal_order_maps_and_missing_id_is_refused() {
        let m = read_order(
            json!({"orderId": "v1-01", "status": "canceled",
            "lastChange": "2024-02-06T20:46:11.7010747+00:00"}),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.data.number.as_deref(), Some("v1-01"));
        assert_eq!(m.data.status, Cancelled);
        assert_eq!(m.data.cancelled_at, m.data.platform_updated_at);
        assert!(m.data.cancelled_at.is_some());
        assert!(m.data.items.is_empty());
        assert!(read_order(json!({"status": "handling"}), &[]).is_err());
        assert!(read_order(json!([1, 2]), &[]).is_err());
    }

    #[test]
    fn timestamps_and_cents() {
        assert!(time(&json!("2024-02-06T20:46:11.7010747+00:00")).is_some());
        assert!(time(&json!("2024-02-11T09:14:41.3695207Z")).is_some());
        assert!(time(&json!("2024-02-04T20:09:43.899958+00:00")).is_some());
        assert!(time(&json!("yesterday")).is_none());
        assert_eq!(cents(&json!(1160)), Some(1160));
        assert_eq!(cents(&json!("1160")), Some(1160));
        assert_eq!(cents(&json!(11.6)), None);
        assert_eq!(cents(&Value::Null), None);
    }
}
