use super::*;
use ponte_core::document::DocumentKind;

/// Reads a fixture. The `.txt` ones are the documentation's examples as published,
/// not valid JSON (trailing commas, a `//` comment, a missing `]`): repaired here the
/// way a reader of the page would.
pub(crate) fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../fixtures/mercadolivre/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|_| {
        let repaired = repair(&text);
        serde_json::from_str(&repaired).unwrap_or_else(|e| panic!("{name}: {e}"))
    })
}

fn repair(text: &str) -> String {
    let no_comments: String = text
        .lines()
        // A `//` comment after a value (`"x", //…`), never the `//` of a URL.
        .map(|l| l.split_once(" //").map_or(l, |(a, _)| a))
        .collect::<Vec<_>>()
        .join("\n");
    let compact: String = no_comments.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s = compact.replace(", }", " }").replace(", ]", " ]");
    // missed_feeds: the source lacks the `]` closing `messages`.
    if s.matches('[').count() > s.matches(']').count() {
        if let Some(i) = s.rfind('}') {
            s.insert_str(i, "] ");
        }
    }
    s
}

fn status_of(status: &str, pay: Option<&str>, ship: Option<&str>) -> OrderStatus {
    default_status_table()
        .resolve(
            &[],
            &PlatformStatus {
                status: Some(status.into()),
                payment_status: pay.map(Into::into),
                shipping_status: ship.map(Into::into),
            },
        )
        .unwrap_or(AwaitingPayment)
}

#[test]
fn default_table() {
    assert_eq!(status_of("confirmed", None, None), AwaitingPayment);
    assert_eq!(status_of("payment_required", None, None), AwaitingPayment);
    assert_eq!(status_of("payment_in_process", None, None), PaymentInReview);
    assert_eq!(status_of("partially_paid", None, None), PaymentInReview);
    assert_eq!(status_of("paid", Some("approved"), None), Approved);
    assert_eq!(status_of("paid", None, Some("ready_to_ship")), Approved);
    assert_eq!(status_of("paid", None, Some("shipped")), Shipped);
    assert_eq!(status_of("paid", None, Some("delivered")), Delivered);
    assert_eq!(
        status_of("partially_refunded", None, Some("delivered")),
        Delivered
    );
    assert_eq!(status_of("partially_refunded", None, None), Approved);
    assert_eq!(status_of("pending_cancel", None, None), AwaitingPayment);
    assert_eq!(status_of("cancelled", None, Some("delivered")), Cancelled);
    assert_eq!(status_of("invalid", None, None), Cancelled);
    assert_eq!(
        status_of("paid", Some(FRAUD_TAG), Some("ready_to_ship")),
        PaymentInReview
    );
    assert_eq!(status_of("something_new", None, None), AwaitingPayment);
    for (s, _) in STATUSES {
        assert!(default_table_has(s), "{s}");
    }
}

fn default_table_has(s: &str) -> bool {
    default_status_table()
        .rules
        .iter()
        .any(|r| r.status.as_deref() == Some(s))
}

#[test]
fn every_fixture_parses() {
    let dir = format!("{}/../../fixtures/mercadolivre", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
        let name = e.unwrap_or_else(|e| panic!("{e}")).file_name();
        let name = name.to_string_lossy().into_owned();
        let v = fixture(&name);
        n += 1;
        // Every shape ponte reads must take its fixture.
        let ok = match name.as_str() {
            "notification_orders_v2.json" => dto::Notification::deserialize(&v).is_ok(),
            "missed_feeds_response_doc_example.txt" => {
                dto::MissedFeeds::deserialize(&v).is_ok_and(|m| m.messages.len() == 2)
            }
            "order_gross_price_example.json" | "order_legacy_sdk_mockup.json" => {
                read_order(compose(v, None, None), &[]).is_ok()
            }
            "orders_search_response_doc_example.json" | "orders_search_sdk_mockup.json" => {
                dto::Search::deserialize(&v).is_ok_and(|s| {
                    s.results
                        .into_iter()
                        .all(|r| read_order(compose(r, None, None), &[]).is_ok())
                })
            }
            "order_shipments_list_all_response.json" => {
                forward_shipment(v).is_some_and(|s| dto::Shipment::deserialize(&s).is_ok())
            }
            n if n.starts_with("billing_info_v2") => {
                dto::BillingInfoResponse::deserialize(&v).is_ok()
            }
            _ => v.is_object() || v.is_array(),
        };
        assert!(ok, "{name}");
    }
    assert_eq!(n, 19);
}

#[test]
fn search_row_maps_money_items_and_dates() {
    let search = fixture("orders_search_response_doc_example.json");
    let row = search["results"][0].clone();
    let m = read_order(compose(row, None, None), &[]).unwrap_or_else(|e| panic!("{e}"));
    let d = &m.data;
    assert_eq!(d.external_id, "2032217210");
    assert_eq!(d.status, Approved);
    assert_eq!(d.totals.total_cents, Some(12_995));
    assert_eq!(d.totals.subtotal_cents, Some(12_995));
    assert_eq!(d.items[0].unit_price_cents, Some(12_995));
    assert_eq!(d.items[0].product_id.as_deref(), Some("MLB1054990648"));
    assert_eq!(d.items[0].variant_id.as_deref(), Some("MLB1054990648"));
    assert_eq!(
        d.items[0].sku, None,
        "no seller_sku nor seller_custom_field"
    );
    assert_eq!(d.payment.method.as_deref(), Some("credit_card"));
    assert_eq!(d.payment.gateway.as_deref(), Some("master"));
    assert_eq!(d.currency.as_deref(), Some("BRL"));
    assert!(d.placed_at.is_some() && d.paid_at.is_some());
    assert_eq!(
        d.platform_updated_at.map(|t| t.to_rfc3339()),
        Some("2020-02-14T02:55:49.811+00:00".into())
    );
}

#[test]
fn billing_info_gives_cpf_cnpj_and_address() {
    let search = fixture("orders_search_response_doc_example.json");
    let order = search["results"][0].clone();
    let pj = fixture("billing_info_v2_MLB_pj_doc_example.txt");
    let ship = forward_shipment(fixture("order_shipments_list_all_response.json"));
    let raw = compose(order.clone(), Some(pj), ship);
    let m = read_order(raw.clone(), &[]).unwrap_or_else(|e| panic!("{e}"));
    let c = &m.data.customer;
    assert_eq!(c.name.as_deref(), Some("Apple Brasil"));
    // The documentation's number is not a valid CNPJ: kept, flagged.
    assert!(c
        .document
        .as_ref()
        .is_some_and(|d| !d.valid && d.raw == "326594309119203"));
    let a = m.data.billing_address.unwrap_or_default();
    assert_eq!(a.city.as_deref(), Some("Bom Jardim"));
    assert_eq!(a.zipcode.as_deref(), Some("28660000"));
    assert_eq!(state_registration(&raw).as_deref(), Some("30703088534"));
    // Forward shipment: delivered, so the order is delivered and closed at ML.
    assert_eq!(m.data.status, Delivered);
    assert!(m.closed_at_platform);
    assert_eq!(m.data.shipping.carrier.as_deref(), Some("MEL Distribution"));
    let refs = order_refs(&raw);
    assert_eq!(refs.shipment_id.as_deref(), Some("46803546483"));
    assert_eq!(refs.mode.as_deref(), Some("me2"));
    assert_eq!(refs.logistic_type.as_deref(), Some("cross_docking"));

    let mut valid = fixture("billing_info_v2_MLB_pf_doc_example.txt");
    valid["buyer"]["billing_info"]["identification"]["number"] = "52998224725".into();
    let m = read_order(compose(order, Some(valid), None), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.data.customer.name.as_deref(),
        Some("María Lupita Gomez Blanco")
    );
    assert!(m
        .data
        .customer
        .document
        .as_ref()
        .is_some_and(|d| d.valid && d.kind == Some(DocumentKind::Cpf)));
}

#[test]
fn packs_fraud_and_cancellation() {
    let mut o = fixture("order_gross_price_example.json");
    o["pack_id"] = 2_000_010_703_698_453u64.into();
    o["tags"] = serde_json::json!(["pack_order", "paid", FRAUD_TAG]);
    let raw = compose(o.clone(), None, None);
    let refs = order_refs(&raw);
    assert_eq!(refs.pack_id.as_deref(), Some("2000010703698453"));
    assert!(refs.fraud);
    assert_eq!(refs.shipment_id.as_deref(), Some("43210987654321"));
    let m = read_order(raw, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.data.status, PaymentInReview);
    assert_eq!(
        m.data.platform_flags,
        [ponte_core::order::OrderFlag::FraudRisk]
    );
    assert_eq!(
        m.data.platform_status.payment_status.as_deref(),
        Some(FRAUD_TAG)
    );
    assert_eq!(m.data.totals.subtotal_cents, Some(88_000));

    o["status"] = "cancelled".into();
    o["cancel_detail"] = serde_json::json!({"date": "2026-01-06T10:00:00.000-03:00"});
    let m = read_order(compose(o, None, None), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.data.status, Cancelled);
    assert_eq!(
        m.data.cancelled_at.map(|t| t.to_rfc3339()),
        Some("2026-01-06T13:00:00+00:00".into())
    );
}

#[test]
fn sku_falls_back_to_seller_custom_field_and_legacy_buyer() {
    let mut o = fixture("order_legacy_sdk_mockup.json");
    o["order_items"][0]["item"]["seller_custom_field"] = "CUSTOM-1".into();
    let m = read_order(compose(o.clone(), None, None), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.data.items[0].sku.as_deref(), Some("CUSTOM-1"));
    assert_eq!(
        m.data.customer.name.as_deref(),
        Some("Comprador de testes da Silva")
    );
    assert!(m.data.customer.document.is_some());
    let a = m.data.shipping_address.unwrap_or_default();
    assert_eq!(a.state.as_deref(), Some("SP"));
    o["order_items"][0]["item"]["seller_sku"] = "SKU-1".into();
    let m = read_order(compose(o, None, None), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.data.items[0].sku.as_deref(), Some("SKU-1"));
    assert!(read_order(serde_json::json!({"order": []}), &[]).is_err());
}
