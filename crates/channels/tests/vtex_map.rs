//! VTEX order mapping against the real sample payloads in `fixtures/vtex`
//! (examples of `VX:VTEX - Orders API.json`): every order-shaped fixture maps, the
//! fields land where documented, and the status table (with channel overrides) holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use ponte_channels::vtex::{
    default_status_table, order_refs, read_listed_order, read_order, STATUSES,
};
use ponte_core::document::DocumentKind;
use ponte_core::order::PlatformStatus;
use ponte_core::status_rules::StatusRule;
use ponte_core::OrderStatus::{self, *};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../fixtures/vtex/{name}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Fixtures shaped like a full order (`GET /api/oms/pvt/orders/{orderId}`). The other
/// VTEX fixtures are hook/feed/invoice/stock/price bodies, and the list response holds
/// summaries (checked below with `read_listed_order`).
const ORDER_FIXTURES: &[&str] = &["order.json"];

#[test]
fn every_order_fixture_maps() {
    for name in ORDER_FIXTURES {
        let raw = fixture(name);
        let m = read_order(raw.clone(), &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!m.data.external_id.is_empty(), "{name}");
        assert!(!m.data.items.is_empty(), "{name}");
        assert_eq!(m.raw, raw, "{name}: raw payload kept verbatim");
    }
}

#[test]
fn order_fixture_fields() {
    let m = read_order(fixture("order.json"), &[]).unwrap();
    let d = &m.data;

    // Ids and status.
    assert_eq!(d.external_id, "1172452900788-01");
    assert_eq!(d.number.as_deref(), Some("502556"));
    assert_eq!(d.platform_status.status.as_deref(), Some("handling"));
    assert_eq!(d.platform_status.payment_status, None);
    // The only package is a return invoice (`type: Input`): no shipping state.
    assert_eq!(d.platform_status.shipping_status, None);
    assert_eq!(d.status, InSeparation);
    assert!(!m.closed_at_platform);

    // Money: integer cents taken as is.
    assert_eq!(d.totals.total_cents, Some(1160));
    assert_eq!(d.totals.subtotal_cents, Some(99));
    assert_eq!(d.totals.discount_cents, Some(0));
    assert_eq!(d.totals.shipping_cents, Some(300));
    assert_eq!(d.currency.as_deref(), Some("BRL"));

    // Customer: CPF from clientProfileData, validated.
    assert_eq!(d.customer.name.as_deref(), Some("Rodrigo Smith"));
    assert_eq!(d.customer.email.as_deref(), Some("rodrigo.smith@email.com"));
    assert_eq!(d.customer.phone.as_deref(), Some("+5561992227222"));
    let doc = d.customer.document.as_ref().unwrap();
    assert_eq!(doc.raw, "845.134.270-19");
    assert_eq!(doc.normalized, "84513427019");
    assert_eq!(doc.kind, Some(DocumentKind::Cpf));
    assert!(doc.valid);

    // Items: refId as SKU, VTEX SKU id as variant.
    assert_eq!(d.items.len(), 1);
    let i = &d.items[0];
    assert_eq!(i.sku.as_deref(), Some("BIGBML"));
    assert_eq!(i.variant_id.as_deref(), Some("18"));
    assert_eq!(i.product_id.as_deref(), Some("6"));
    assert_eq!(i.name.as_deref(), Some("Bay Max L"));
    assert_eq!(i.quantity, 1);
    assert_eq!(i.unit_price_cents, Some(990));
    assert_eq!(i.barcode.as_deref(), Some("3256873"));

    // Shipping address and SLA.
    let a = d.shipping_address.as_ref().unwrap();
    assert_eq!(a.name.as_deref(), Some("Rodrigo Smith"));
    assert_eq!(a.street.as_deref(), Some("Avenida Lúcio Costa"));
    assert_eq!(a.number.as_deref(), Some("126"));
    assert_eq!(a.complement.as_deref(), Some("10"));
    assert_eq!(a.district.as_deref(), Some("Barra da Tijuca"));
    assert_eq!(a.city.as_deref(), Some("Rio de Janeiro"));
    assert_eq!(a.state.as_deref(), Some("RJ"));
    assert_eq!(a.zipcode.as_deref(), Some("22630-011"));
    assert_eq!(a.country.as_deref(), Some("BRA"));
    assert_eq!(d.shipping.code.as_deref(), Some("Normal"));
    assert_eq!(d.shipping.option.as_deref(), Some("Normal"));
    assert_eq!(d.shipping.carrier.as_deref(), Some("All CEPs"));
    // The order's Shipping total, not the per-item logisticsInfo price (3000).
    assert_eq!(d.shipping.cost_cents, Some(300));

    // Payment system and the card's billing address.
    assert_eq!(d.payment.gateway.as_deref(), Some("Visa"));
    assert_eq!(d.payment.method.as_deref(), Some("creditCard"));
    assert_eq!(d.payment.installments, Some(1));
    assert_eq!(d.payment.status, None);
    let b = d.billing_address.as_ref().unwrap();
    assert_eq!(b.street.as_deref(), Some("Brigadeiro Faria Lima Avenue"));
    assert_eq!(b.zipcode.as_deref(), Some("04538132"));
    assert_eq!(b.state.as_deref(), Some("SP"));

    // Dates. Not cancelled, so no cancelled_at although the sample has cancellationData.
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&Utc)
    };
    assert_eq!(d.placed_at, Some(at("2024-02-04T20:09:43.899958+00:00")));
    assert_eq!(
        d.platform_updated_at,
        Some(at("2024-02-06T20:46:11.7010747+00:00"))
    );
    assert_eq!(d.paid_at, Some(at("2024-02-04T20:46:11.7010747+00:00")));
    assert_eq!(d.cancelled_at, None);

    // What ponte has no field for stays in raw.
    let refs = order_refs(&m.raw);
    assert_eq!(
        refs.marketplace_order_id.as_deref(),
        Some("1172452900788-01")
    );
    assert_eq!(refs.seller_order_id.as_deref(), Some("00-v502556llux-01"));
    assert_eq!(refs.origin.as_deref(), Some("Marketplace"));
    assert_eq!(refs.sales_channel.as_deref(), Some("1"));
    assert_eq!(refs.affiliate_id.as_deref(), Some("GHB"));
    assert_eq!(refs.order_group.as_deref(), Some("1415461749731"));
}

/// The fixture with a status and packages swapped in.
fn variant(status: &str, packages: Value) -> Value {
    let mut raw = fixture("order.json");
    raw["status"] = json!(status);
    raw["packageAttachment"] = json!({ "packages": packages });
    raw
}

#[test]
fn invoiced_orders_follow_their_packages_and_are_closed() {
    let status = |raw: Value| {
        let m = read_order(raw, &[]).unwrap();
        (m.data.status, m.closed_at_platform)
    };
    assert_eq!(status(variant("invoiced", json!([]))), (Invoiced, true));
    assert_eq!(
        status(variant(
            "invoiced",
            json!([{"type": "Output", "invoiceNumber": "1", "trackingNumber": "", "courierStatus": null}])
        )),
        (Invoiced, true)
    );
    assert_eq!(
        status(variant(
            "invoiced",
            json!([{"type": "Output", "invoiceNumber": "1", "trackingNumber": "TRK-1"}])
        )),
        (Shipped, true)
    );
    assert_eq!(
        status(variant(
            "invoiced",
            json!([{"type": "Output", "invoiceNumber": "1", "trackingNumber": "TRK-1",
                    "courierStatus": {"finished": true, "deliveredDate": "2024-02-15T10:17:40+00:00"}}])
        )),
        (Delivered, true)
    );
    assert_eq!(status(variant("invoice", json!([]))), (InSeparation, true));
    assert_eq!(
        status(variant("ready-for-handling", json!([]))),
        (Approved, false)
    );
}

#[test]
fn corporate_buyer_gets_the_cnpj() {
    let mut raw = fixture("order.json");
    raw["clientProfileData"]["isCorporate"] = json!(true);
    raw["clientProfileData"]["corporateName"] = json!("Lux Comércio Ltda");
    raw["clientProfileData"]["corporateDocument"] = json!("11.222.333/0001-81");
    let c = read_order(raw, &[]).unwrap().data.customer;
    assert_eq!(c.name.as_deref(), Some("Lux Comércio Ltda"));
    let doc = c.document.unwrap();
    assert_eq!(doc.kind, Some(DocumentKind::Cnpj));
    assert_eq!(doc.normalized, "11222333000181");
    assert!(doc.valid);

    // An invalid corporate document is kept and flagged, not dropped.
    let mut raw = fixture("order.json");
    raw["clientProfileData"]["isCorporate"] = json!(true);
    raw["clientProfileData"]["corporateDocument"] = json!("11.222.333/0001-82");
    let doc = read_order(raw, &[])
        .unwrap()
        .data
        .customer
        .document
        .unwrap();
    assert_eq!(doc.raw, "11.222.333/0001-82");
    assert!(!doc.valid);
}

#[test]
fn cancelled_order_takes_the_cancellation_date() {
    let m = read_order(variant("canceled", json!([])), &[]).unwrap();
    assert_eq!(m.data.status, Cancelled);
    assert_eq!(
        m.data.cancelled_at,
        Some(
            Utc.with_ymd_and_hms(2024, 2, 11, 9, 14, 41).unwrap()
                + chrono::TimeDelta::nanoseconds(369_520_700)
        )
    );
    assert!(!m.closed_at_platform);
}

fn resolve(overrides: &[StatusRule], status: &str) -> OrderStatus {
    default_status_table().status_of(
        overrides,
        &PlatformStatus {
            status: Some(status.into()),
            payment_status: None,
            shipping_status: None,
        },
    )
}

#[test]
fn default_table_maps_every_listed_status() {
    let expected: &[(&str, OrderStatus)] = &[
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
        ("order-create-error", AwaitingPayment),
        ("order-creation-error", AwaitingPayment),
        ("request-cancel", AwaitingPayment),
        ("cancellation-requested", AwaitingPayment),
        ("waiting-for-seller-decision", AwaitingPayment),
        ("waiting-for-order-authorization", PaymentInReview),
        ("approve-payment", PaymentInReview),
        ("waiting-ffmt-authorization", PaymentInReview),
        ("waiting-for-manual-authorization", PaymentInReview),
        ("waiting-for-fulfillment", PaymentInReview),
        ("waiting-for-mkt-authorization", PaymentInReview),
        ("payment-approved", Approved),
        ("authorize-fulfillment", Approved),
        ("window-to-cancel", Approved),
        ("ready-for-handling", Approved),
        ("waiting-seller-handling", Approved),
        ("start-handling", InSeparation),
        ("handling", InSeparation),
        ("ready-for-invoicing", InSeparation),
        ("invoice", InSeparation),
        ("invoice-after-cancellation-deny", InSeparation),
        ("invoiced", Invoiced),
        ("payment-denied", Cancelled),
        ("cancel", Cancelled),
        ("canceled", Cancelled),
        ("replaced", Cancelled),
    ];
    for (s, to) in expected {
        assert_eq!(resolve(&[], s), *to, "{s}");
        // Through a whole order too.
        let m = read_order(variant(s, json!([])), &[]).unwrap();
        assert_eq!(m.data.status, *to, "{s} (order)");
        assert_eq!(m.data.platform_status.status.as_deref(), Some(*s));
    }
    assert_eq!(expected.len(), STATUSES.len(), "table and test list differ");
    for (s, to) in STATUSES {
        assert!(expected.contains(&(*s, *to)), "{s} not checked");
    }
    assert_eq!(resolve(&[], "brand-new-status"), AwaitingPayment);
}

#[test]
fn channel_overrides_come_first() {
    // The shape a channel's `status_map` setting takes.
    let overrides: Vec<StatusRule> = serde_json::from_value(json!([
        {"status": "ready-for-handling", "to": "in_separation"},
        {"status": "request-cancel", "to": "cancelled"},
        {"status": "invoiced", "shipping_status": "shipped", "to": "delivered"}
    ]))
    .unwrap();
    assert_eq!(resolve(&overrides, "ready-for-handling"), InSeparation);
    assert_eq!(resolve(&overrides, "request-cancel"), Cancelled);
    // Rows the overrides do not match fall through to the default table.
    assert_eq!(resolve(&overrides, "handling"), InSeparation);
    assert_eq!(resolve(&overrides, "payment-approved"), Approved);

    let m = read_order(variant("ready-for-handling", json!([])), &overrides).unwrap();
    assert_eq!(m.data.status, InSeparation);
    let m = read_order(
        variant(
            "invoiced",
            json!([{"type": "Output", "trackingNumber": "TRK-1"}]),
        ),
        &overrides,
    )
    .unwrap();
    assert_eq!(m.data.status, Delivered);
    let m = read_order(variant("invoiced", json!([])), &overrides).unwrap();
    assert_eq!(m.data.status, Invoiced);
}

/// `list_orders_response.json` rows are summaries (no items, document or address):
/// they are read as listed orders, not mapped into orders.
#[test]
fn every_listed_order_reads() {
    let list = fixture("list_orders_response.json");
    let rows = list["list"].as_array().unwrap();
    assert_eq!(rows.len(), 15);
    for row in rows {
        let l = read_listed_order(row, &[]).unwrap_or_else(|e| panic!("{row}: {e}"));
        let platform = l.platform_status.as_deref().unwrap();
        assert_eq!(l.status, resolve(&[], platform), "{}", l.external_id);
        assert!(l.placed_at.is_some(), "{}", l.external_id);
        assert!(l.total_cents.is_some(), "{}", l.external_id);
        assert_eq!(l.currency.as_deref(), Some("BRL"));
    }
    let first = read_listed_order(&rows[0], &[]).unwrap();
    assert_eq!(first.external_id, "1306331686122-01");
    assert_eq!(first.number.as_deref(), Some("502559"));
    assert_eq!(first.platform_status.as_deref(), Some("invoiced"));
    assert_eq!(first.status, Invoiced);
    assert_eq!(first.total_cents, Some(7453));
    assert_eq!(first.marketplace_order_id, None);
    assert_eq!(
        first.paid_at,
        Some(Utc.with_ymd_and_hms(2019, 2, 7, 21, 29, 54).unwrap())
    );
    let statuses: Vec<OrderStatus> = rows
        .iter()
        .map(|r| read_listed_order(r, &[]).unwrap().status)
        .collect();
    assert!(statuses.contains(&InSeparation));
    assert!(statuses.contains(&Approved));
    assert!(statuses.contains(&Cancelled));
    assert!(read_listed_order(&json!({"status": "invoiced"}), &[]).is_err());
}
