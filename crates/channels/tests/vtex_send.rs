//! VTEX status sends against the simulator: every kind changes the simulated account,
//! repeats succeed without duplicates, and failures are classified.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod vtex_env;

use chrono::{DateTime, Utc};
use ponte_channels::{Connector, PlatformErrorKind, SendReport};
use ponte_core::action::{
    Action, ActionKind, CancelReason, Cancellation, CollectionOrder, Delivery, Invoice, Separation,
    SeparationKind, Shipment,
};
use ponte_core::nfe::NfeKey;
use ponte_sim::vtex::{
    Fault, FaultKind, Method, NewItem, NewOrder, OrderStatus, ServerHandle, VtexSim,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "43180906929383000163550010000000261000010301";

struct Env {
    sim: VtexSim,
    server: ServerHandle,
    conn: Arc<dyn Connector>,
}

impl Env {
    async fn start() -> Env {
        let (sim, server) = vtex_env::start().await;
        let conn = vtex_env::connector(&sim, &server, json!({}));
        Env { sim, server, conn }
    }

    /// A paid order (`ready-for-handling`) with two lines: SKU 1 × 2 and SKU 5 × 1.
    fn paid_order(&self) -> String {
        self.sim.create_order(NewOrder {
            items: vec![
                NewItem {
                    sku_id: Some("1".into()),
                    quantity: 2,
                    ..NewItem::default()
                },
                NewItem {
                    sku_id: Some("5".into()),
                    quantity: 1,
                    ..NewItem::default()
                },
            ],
            ..NewOrder::default()
        })
    }

    fn order(&self, id: &str) -> Value {
        self.sim.order(id).unwrap()
    }

    fn packages(&self, id: &str) -> Vec<Value> {
        self.order(id)["packageAttachment"]["packages"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The order's value: an invoice of it covers the order.
    fn value(&self, id: &str) -> i64 {
        self.order(id)["value"].as_i64().unwrap()
    }

    async fn send(&self, id: &str, action: &Action) -> SendReport {
        self.conn.send(id, action, None).await
    }

    async fn send_with_xml(&self, id: &str, action: &Action, xml: &str) -> SendReport {
        self.conn.send(id, action, Some(xml)).await
    }

    async fn stop(self) {
        self.server.shutdown().await;
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn separation() -> Action {
    Action::Separation(Separation {
        kind: SeparationKind::Separation,
    })
}

fn invoice(number: &str, total_cents: i64, xml_url: Option<&str>) -> Action {
    Action::Invoice(Invoice {
        number: number.into(),
        series: "1".into(),
        access_key: NfeKey::parse(KEY).unwrap(),
        issued_at: at("2026-03-01T10:00:00Z"),
        total_cents,
        xml_url: xml_url.map(str::to_owned),
        has_xml: true,
    })
}

fn shipment(code: Option<&str>, carrier: Option<&str>) -> Action {
    Action::Shipment(Shipment {
        tracking_code: code.map(str::to_owned),
        tracking_url: code.map(|c| format!("https://rastreamento.correios.com.br/{c}")),
        carrier: carrier.map(str::to_owned),
        shipped_at: at("2026-03-02T09:00:00Z"),
    })
}

fn delivery() -> Action {
    Action::Delivery(Delivery {
        delivered_at: at("2026-03-04T15:30:00Z"),
    })
}

fn cancel() -> Action {
    Action::Cancel(Cancellation {
        reason: CancelReason::Inventory,
        note: Some("lote 7 avariado".into()),
    })
}

#[track_caller]
fn assert_ok(r: &SendReport) {
    assert!(r.result.is_ok(), "{r:#?}");
    assert!(!r.request.is_empty() && r.request.chars().count() <= 500);
}

#[track_caller]
fn assert_kind(r: &SendReport, kind: PlatformErrorKind) {
    let err = r.result.as_ref().expect_err("the send should fail");
    assert_eq!(err.kind, kind, "{r:#?}");
}

fn statuses(r: &SendReport) -> Vec<Option<u16>> {
    r.calls.iter().map(|c| c.status).collect()
}

fn message(r: &SendReport) -> &str {
    &r.result.as_ref().unwrap_err().message
}

/// Invoices `id` for its whole value with number `number`.
async fn invoiced(env: &Env, id: &str, number: &str) {
    let total = env.value(id);
    assert_ok(&env.send(id, &invoice(number, total, None)).await);
}

#[tokio::test]
async fn separation_starts_handling_and_a_repeat_is_done() {
    let env = Env::start().await;
    let id = env.paid_order();
    let r = env.send(&id, &separation()).await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(204)]);
    assert_eq!(
        r.request,
        format!("POST /api/oms/pvt/orders/{id}/start-handling")
    );
    assert_eq!(env.sim.status(&id), Some(OrderStatus::Handling));

    let again = env.send(&id, &separation()).await;
    assert_ok(&again);
    assert_eq!(
        statuses(&again),
        [Some(409), Some(200)],
        "409, then the order"
    );

    // Production is the same call; an invoiced order is past it.
    invoiced(&env, &id, "9001").await;
    let prod = Action::Separation(Separation {
        kind: SeparationKind::Production,
    });
    assert_ok(&env.send(&id, &prod).await);
    env.stop().await;
}

#[tokio::test]
async fn separation_before_payment_is_transient_and_after_cancel_permanent() {
    let env = Env::start().await;
    let pending = env.sim.create_order(NewOrder {
        status: OrderStatus::PaymentPending,
        ..NewOrder::default()
    });
    let r = env.send(&pending, &separation()).await;
    assert_kind(&r, PlatformErrorKind::Transient);
    assert!(message(&r).contains("payment-pending"), "{r:#?}");
    env.sim.approve_payment(&pending).unwrap();
    assert_ok(&env.send(&pending, &separation()).await);

    let cancelled = env.paid_order();
    env.sim
        .set_status(&cancelled, OrderStatus::Canceled)
        .unwrap();
    let r = env.send(&cancelled, &separation()).await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    assert!(message(&r).contains("`canceled`"), "{r:#?}");
    env.stop().await;
}

#[tokio::test]
async fn invoice_posts_an_output_invoice_of_the_order_items_once() {
    let env = Env::start().await;
    let id = env.paid_order();
    let total = env.value(&id);
    let url = "https://nfe.example.com.br/26.xml";
    let r = env.send(&id, &invoice("26", total, Some(url))).await;
    assert_ok(&r);
    // The order was ready for handling: GET, start-handling, invoice.
    assert_eq!(statuses(&r), [Some(200), Some(204), Some(200)]);
    assert!(
        r.request.contains(&format!("\"invoiceValue\":\"{total}\"")),
        "string cents: {}",
        r.request
    );
    assert_eq!(env.sim.status(&id), Some(OrderStatus::Invoiced));
    let pkgs = env.packages(&id);
    assert_eq!(pkgs.len(), 1);
    let p = &pkgs[0];
    assert_eq!(p["type"], "Output");
    assert_eq!(p["invoiceNumber"], "26");
    assert_eq!(p["invoiceValue"], total);
    assert_eq!(p["invoiceKey"], KEY);
    assert_eq!(p["invoiceUrl"], url);
    assert_eq!(p["issuanceDate"], "2026-03-01T10:00:00+00:00");
    assert_eq!(p["trackingNumber"], "");
    // No XML given: nothing is embedded.
    assert_eq!(p["embeddedInvoice"], Value::Null);
    let lines: Vec<(u64, u64)> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["itemIndex"].as_u64().unwrap(),
                i["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [(0, 2), (1, 1)],
        "every order line, with its quantity"
    );
    let order = env.order(&id);
    assert_eq!(p["items"][0]["price"], order["items"][0]["price"]);

    // A resend after a crash finds the invoice and posts nothing.
    let again = env.send(&id, &invoice("26", total, Some(url))).await;
    assert_ok(&again);
    assert_eq!(statuses(&again), [Some(200)]);
    assert_eq!(env.packages(&id).len(), 1);
    let zeros = env.send(&id, &invoice("00026", total, Some(url))).await;
    assert_ok(&zeros);
    assert_eq!(statuses(&zeros), [Some(200)], "the same number with zeros");
    assert_eq!(
        env.sim
            .request_count(&Method::POST, &format!("/api/oms/pvt/orders/{id}/invoice")),
        1
    );
    env.stop().await;
}

#[tokio::test]
async fn invoice_of_a_handling_order_posts_directly() {
    let env = Env::start().await;
    let id = env.paid_order();
    assert_ok(&env.send(&id, &separation()).await);
    let total = env.value(&id);
    let xml =
        "<nfeProc versao=\"4.00\" xmlns=\"http://www.portalfiscal.inf.br/nfe\"><NFe/></nfeProc>";
    let r = env
        .send_with_xml(&id, &invoice("27", total, None), xml)
        .await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(200), Some(200)]);
    assert!(!r.request.contains("invoiceUrl"), "{}", r.request);
    let pkg = &env.packages(&id)[0];
    assert_eq!(pkg["invoiceUrl"], Value::Null);
    assert_eq!(pkg["embeddedInvoice"], xml, "the NF-e XML embedded");
    env.stop().await;
}

#[tokio::test]
async fn shipment_patches_the_invoice_with_tracking() {
    let env = Env::start().await;
    let id = env.paid_order();
    let early = env
        .send(&id, &shipment(Some("BR123"), Some("Jadlog")))
        .await;
    assert_kind(&early, PlatformErrorKind::Permanent);
    assert_eq!(statuses(&early), [Some(200)], "no PATCH without an invoice");
    assert!(
        message(&early).contains("NF-e must be sent first"),
        "{early:#?}"
    );

    invoiced(&env, &id, "30").await;
    let r = env
        .send(&id, &shipment(Some("BR123"), Some("Jadlog")))
        .await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(200), Some(200)]);
    assert!(
        r.request
            .contains(&format!("PATCH /api/oms/pvt/orders/{id}/invoice/30 ")),
        "{}",
        r.request
    );
    let p = &env.packages(&id)[0];
    assert_eq!(p["trackingNumber"], "BR123");
    assert_eq!(p["courier"], "Jadlog");
    assert_eq!(
        p["trackingUrl"],
        "https://rastreamento.correios.com.br/BR123"
    );
    let again = env
        .send(&id, &shipment(Some("BR123"), Some("Jadlog")))
        .await;
    assert_ok(&again);

    // Without a carrier, the order's delivery company is the courier.
    let other = env.paid_order();
    invoiced(&env, &other, "31").await;
    assert_ok(&env.send(&other, &shipment(Some("BR9"), None)).await);
    let p = &env.packages(&other)[0];
    assert_eq!(
        p["courier"],
        env.order(&other)["shippingData"]["logisticsInfo"][0]["deliveryCompany"]
    );
    assert_eq!(p["trackingNumber"], "BR9");
    env.stop().await;
}

#[tokio::test]
async fn shipment_without_tracking_code_is_refused_before_any_call() {
    let env = Env::start().await;
    let id = env.paid_order();
    let action = shipment(None, Some("Correios"));
    let err = env.conn.check_send(&action).unwrap_err();
    assert_eq!(err.code, "missing_tracking_code");
    let r = env.send(&id, &action).await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    assert!(r.calls.is_empty());
    assert_eq!(r.request, "nothing sent");
    env.stop().await;
}

#[tokio::test]
async fn delivery_marks_the_invoice_delivered_once() {
    let env = Env::start().await;
    let id = env.paid_order();
    invoiced(&env, &id, "40").await;
    let early = env.send(&id, &delivery()).await;
    assert_kind(&early, PlatformErrorKind::Permanent);
    assert_eq!(statuses(&early), [Some(200)]);
    assert!(message(&early).contains("tracking number"), "{early:#?}");

    assert_ok(
        &env.send(&id, &shipment(Some("BR5"), Some("Correios")))
            .await,
    );
    let r = env.send(&id, &delivery()).await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(200), Some(200)]);
    assert!(
        r.request.contains(&format!(
            "PUT /api/oms/pvt/orders/{id}/invoice/40/tracking "
        )),
        "{}",
        r.request
    );
    let p = &env.packages(&id)[0];
    assert_eq!(p["courierStatus"]["finished"], true);
    assert_eq!(p["courierStatus"]["deliveredDate"], "2026-03-04 15:30");
    let again = env.send(&id, &delivery()).await;
    assert_ok(&again);
    assert_eq!(statuses(&again), [Some(200)], "already delivered: no PUT");
    env.stop().await;
}

#[tokio::test]
async fn cancel_of_a_paid_order_and_a_repeat_succeed() {
    let env = Env::start().await;
    let id = env.paid_order();
    let r = env.send(&id, &cancel()).await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(200)]);
    let o = env.order(&id);
    assert_eq!(o["status"], "canceled");
    assert_eq!(o["cancelReason"], "Out of stock: lote 7 avariado");
    assert_ok(&env.send(&id, &cancel()).await);
    env.stop().await;
}

#[tokio::test]
async fn cancel_of_an_invoiced_order_is_permanent() {
    let env = Env::start().await;
    let id = env.paid_order();
    invoiced(&env, &id, "50").await;
    let r = env.send(&id, &cancel()).await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    let err = r.result.as_ref().unwrap_err();
    assert_eq!(err.status, Some(400));
    assert_eq!(err.code(), "platform_rejected");
    assert!(
        err.message
            .starts_with("VTEX does not cancel invoiced orders:"),
        "{err:?}"
    );
    assert!(err.message.contains("[50]"), "{err:?}");
    assert_eq!(statuses(&r), [Some(400), Some(200)]);
    assert_eq!(env.sim.status(&id), Some(OrderStatus::Invoiced));
    env.stop().await;
}

#[tokio::test]
async fn a_bad_order_id_makes_no_call() {
    let env = Env::start().await;
    let total = 100;
    for action in [
        separation(),
        invoice("1", total, None),
        shipment(Some("BR1"), None),
        delivery(),
        cancel(),
    ] {
        for bad in ["", "../orders", "1 2", "a/b-01"] {
            let r = env.send(bad, &action).await;
            assert_kind(&r, PlatformErrorKind::Permanent);
            assert!(r.calls.is_empty(), "{bad:?}: {r:#?}");
            assert!(message(&r).contains("not a VTEX order id"));
        }
    }
    assert!(env.sim.requests().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn collection_orders_are_not_supported() {
    let env = Env::start().await;
    assert!(env.conn.send_support(ActionKind::CollectionOrder).is_err());
    let action = Action::CollectionOrder(CollectionOrder {
        code: "COL-1".into(),
        created_at: at("2026-03-02T08:00:00Z"),
    });
    assert_eq!(
        env.conn.check_send(&action).unwrap_err().code,
        "not_supported_by_platform"
    );
    let r = env.send(&env.paid_order(), &action).await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    assert!(r.calls.is_empty());
    for k in ActionKind::ALL {
        let unsupported = [ActionKind::CollectionOrder, ActionKind::ShipmentException];
        assert_eq!(env.conn.send_support(k).is_ok(), !unsupported.contains(&k));
    }
    env.stop().await;
}

#[tokio::test]
async fn failures_are_classified() {
    let env = Env::start().await;
    let id = env.paid_order();
    env.sim
        .inject(Fault::new("/start-handling", 1, FaultKind::Status(500)));
    let r = env.send(&id, &separation()).await;
    assert_kind(&r, PlatformErrorKind::Transient);
    assert_eq!(statuses(&r), [Some(500)]);
    assert_eq!(env.sim.status(&id), Some(OrderStatus::ReadyForHandling));

    env.sim.inject(Fault::new(
        format!("/api/oms/pvt/orders/{id}/cancel"),
        1,
        FaultKind::Status(503),
    ));
    assert_kind(
        &env.send(&id, &cancel()).await,
        PlatformErrorKind::Transient,
    );
    assert_eq!(env.sim.status(&id), Some(OrderStatus::ReadyForHandling));

    env.sim.inject(Fault::new(
        "/api/oms/pvt/orders",
        1,
        FaultKind::RateLimited {
            retry_after_ms: 2_000,
        },
    ));
    let r = env.send(&id, &separation()).await;
    assert_kind(&r, PlatformErrorKind::RateLimited(Duration::from_secs(2)));

    env.sim
        .inject(Fault::new("/api/oms", 1, FaultKind::Unauthorized));
    assert_kind(&env.send(&id, &separation()).await, PlatformErrorKind::Auth);

    let r = env.send("1234567890123-01", &separation()).await;
    assert_kind(&r, PlatformErrorKind::NotFound);
    env.stop().await;
}
