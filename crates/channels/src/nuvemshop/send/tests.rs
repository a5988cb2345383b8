use super::super::send_fo::{delivered_event, dispatch_body, parse_list, Fo};
use super::super::send_nfe::{find_stored, metafield_body, taken, Stored};
use super::*;
use crate::{Platform, PlatformErrorKind};
use chrono::{DateTime, Utc};
use ponte_core::action::{CollectionOrder, Delivery, Invoice, Separation, SeparationKind};
use ponte_core::nfe::NfeKey;

const KEY: &str = "43180906929383000163550010000000261000010301";

fn settings(api: &str) -> NuvemshopSettings {
    NuvemshopSettings::parse(&json!({"store_id": "1", "shipping_api": api}))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fixtures/nuvemshop/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn shipment(code: Option<&str>, url: Option<&str>) -> Shipment {
    Shipment {
        tracking_code: code.map(str::to_owned),
        tracking_url: url.map(str::to_owned),
        carrier: Some("Correios".into()),
        shipped_at: at("2026-03-01T12:00:00Z"),
    }
}

fn invoice(xml_url: Option<&str>) -> Action {
    Action::Invoice(Invoice {
        number: "26".into(),
        series: "1".into(),
        access_key: NfeKey::parse(KEY).unwrap_or_else(|e| panic!("{e}")),
        issued_at: at("2026-03-01T10:00:00Z"),
        total_cents: 1990,
        xml_url: xml_url.map(str::to_owned),
        has_xml: false,
    })
}

fn delivery() -> Delivery {
    Delivery {
        delivered_at: at("2026-03-04T15:30:00Z"),
    }
}

#[test]
fn support_by_mode() {
    for api in ["fulfillment_orders", "legacy"] {
        let s = settings(api);
        for kind in ActionKind::ALL {
            let r = support(&s, kind);
            let unsupported = kind == ActionKind::CollectionOrder
                || kind == ActionKind::ShipmentException
                || (kind == ActionKind::Delivery && api == "legacy");
            assert_eq!(r.is_err(), unsupported, "{api} {kind:?}");
            if let Err(e) = r {
                assert_eq!(e.code(), "not_supported_by_platform");
            }
        }
    }
}

#[test]
fn check_refuses_what_the_platform_cannot_take() {
    let fo = settings("fulfillment_orders");
    let legacy = settings("legacy");
    let code = |s: &NuvemshopSettings, a: &Action| check(s, a).err().map(|e| e.code.as_str());
    for s in [&fo, &legacy] {
        for missing in [None, Some(""), Some("   ")] {
            let a = Action::Shipment(shipment(missing, None));
            assert_eq!(code(s, &a), Some("missing_tracking_code"));
        }
        let a = Action::Shipment(shipment(Some("BR1"), Some("correios.com.br/BR1")));
        assert_eq!(code(s, &a), Some("invalid_tracking_url"));
        let a = Action::Shipment(shipment(Some("BR1"), Some("https://rastreio.example/BR1")));
        assert_eq!(code(s, &a), None);
        assert_eq!(
            code(s, &Action::Shipment(shipment(Some("BR1"), None))),
            None
        );
        assert_eq!(
            code(s, &invoice(Some("ftp://x/nfe.xml"))),
            Some("invalid_xml_url")
        );
        assert_eq!(code(s, &invoice(Some("https://erp.example/nfe.xml"))), None);
        assert_eq!(code(s, &invoice(None)), None);
        let co = Action::CollectionOrder(CollectionOrder {
            code: "C1".into(),
            created_at: Utc::now(),
        });
        assert_eq!(code(s, &co), Some("not_supported_by_platform"));
        let sep = Action::Separation(Separation {
            kind: SeparationKind::Separation,
        });
        assert_eq!(code(s, &sep), None);
    }
    let d = Action::Delivery(delivery());
    assert_eq!(code(&fo, &d), None);
    assert_eq!(code(&legacy, &d), Some("not_supported_by_platform"));
}

#[test]
fn already_is_narrow() {
    let err = |status, body: &str| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(status),
        message: format!("HTTP {status}: {body}"),
    };
    let packed =
        r#"{"code":422,"message":"Unprocessable Entity","description":"Order is already packed"}"#;
    assert!(already(&err(422, packed), &["already packed"]));
    assert!(!already(&err(400, packed), &["already packed"]));
    assert!(!already(&err(422, packed), &["already fulfilled"]));
    assert!(!already(
        &err(422, "Order is cancelled"),
        &["already cancelled"]
    ));
}

#[test]
fn bodies_follow_the_fixtures() {
    let s = shipment(
        Some(" ABC1234 "),
        Some("https://shipping.com/tracking/ABC1234"),
    );
    assert_eq!(fulfill_body(&s), fixture_json("order_fulfill_request.json"));
    assert_eq!(
        fulfill_body(&shipment(Some("BR1"), None)),
        json!({"shipping_tracking_number": "BR1", "notify_customer": true})
    );
    assert_eq!(
        dispatch_body(&s),
        json!({"status": "DISPATCHED", "tracking_info": {"code": "ABC1234",
            "url": "https://shipping.com/tracking/ABC1234", "notify_customer": true}})
    );
    for (name, key, desc) in [
        ("metafield_nfe_key_request.json", "key", "Chave da NFe"),
        ("metafield_nfe_link_request.json", "link", "Link da NFe"),
    ] {
        let f = fixture_json(name);
        let value = f["value"].as_str().unwrap_or_default();
        assert_eq!(metafield_body(12345678, key, value, desc), f, "{name}");
    }
    let ev = delivered_event(&delivery());
    assert_eq!(ev["status"], "delivered");
    assert_eq!(ev["happened_at"], "2026-03-04T15:30:00+00:00");
    let reasons = [
        (CancelReason::Customer, "customer"),
        (CancelReason::Inventory, "inventory"),
        (CancelReason::Fraud, "fraud"),
        (CancelReason::PaymentExpired, "other"),
        (CancelReason::Other, "other"),
    ];
    for (reason, wire) in reasons {
        let c = Cancellation { reason, note: None };
        assert_eq!(cancel_body(&c), json!({"reason": wire, "email": true}));
    }
}

#[test]
fn fulfillment_order_lists_are_read_leniently() {
    let fos = parse_list(&fixture("fulfillment_orders_list_response.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fos.first(),
        Some(&Fo {
            id: "01FHZXHK8PTP9FVK99Z66GXKKK".into(),
            status: "PACKED".into()
        })
    );
    let fos =
        parse_list(br#"[{"id": 77, "status": "dispatched"}]"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fos,
        vec![Fo {
            id: "77".into(),
            status: "DISPATCHED".into()
        }]
    );
    assert_eq!(parse_list(b"[]"), Ok(vec![]));
    for bad in [
        &b"{}"[..],
        b"nope",
        br#"[{"status": "PACKED"}]"#,
        br#"[{"id": "a/../b", "status": "PACKED"}]"#,
        br#"[{"id": "x"}]"#,
    ] {
        assert!(parse_list(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn taken_metafields_are_recognised_and_found() {
    assert!(taken(r#"{"key":["has already been taken"]}"#));
    assert!(!taken(r#"{"value":["can't be blank"]}"#));
    assert!(!taken("has already been taken"));
    let list = json!([
        {"id": 1, "namespace": "nfe", "key": "link", "value": "https://a", "owner_id": 5},
        {"id": 2, "namespace": "other", "key": "key", "value": "x", "owner_id": 5},
        {"id": "3", "namespace": "nfe", "key": "key", "value": KEY, "owner_id": "5"},
    ]);
    let body = serde_json::to_vec(&list).unwrap_or_default();
    assert_eq!(
        find_stored(&body, 5, "key"),
        Some(Stored {
            id: "3".into(),
            value: KEY.into()
        })
    );
    assert_eq!(find_stored(&body, 6, "key"), None);
    assert_eq!(find_stored(b"{}", 5, "key"), None);
}

#[tokio::test]
async fn refused_sends_make_no_call() {
    let conn = super::super::Nuvemshop
        .connect(
            &json!({"store_id": "1", "api_base_url": "http://127.0.0.1:9/v1"}),
            &json!({"access_token": "t", "app_secret": "s"}),
            crate::Outbound::new(std::time::Duration::from_secs(1), true)
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let sep = Action::Separation(Separation {
        kind: SeparationKind::Separation,
    });
    for id in ["", "12a", "-1", "99999999999999999999999"] {
        let r = conn.send(id, &sep, None).await;
        assert!(r.calls.is_empty(), "{id}");
        assert_eq!(
            r.result.map_err(|e| e.kind),
            Err(PlatformErrorKind::Permanent)
        );
    }
    let r = conn
        .send("12", &Action::Shipment(shipment(None, None)), None)
        .await;
    assert!(r.calls.is_empty());
    let e = r.result.err().map(|e| e.message).unwrap_or_default();
    assert!(e.contains("missing_tracking_code"), "{e}");
}
