//! Nuvemshop status sends against the simulator: every kind changes the simulated
//! store, repeats succeed, and failures are classified.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use ponte_channels::nuvemshop::Nuvemshop;
use ponte_channels::{Connector, Platform, PlatformErrorKind, SendReport};
use ponte_core::action::{
    Action, CancelReason, Cancellation, Delivery, Invoice, Separation, SeparationKind, Shipment,
};
use ponte_core::nfe::NfeKey;
use ponte_sim::nuvemshop::{
    Fault, FaultKind, Method, NewOrder, NuvemshopSim, PaymentStatus, ServerHandle, SimConfig,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "43180906929383000163550010000000261000010301";
const FO: &str = "fulfillment_orders";
const LEGACY: &str = "legacy";

struct Env {
    sim: NuvemshopSim,
    server: ServerHandle,
}

impl Env {
    async fn start() -> Env {
        let sim = NuvemshopSim::new(SimConfig {
            bucket_size: 0,
            ..SimConfig::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        Env { sim, server }
    }

    fn connector_with_token(&self, api: &str, token: &str) -> Arc<dyn Connector> {
        let settings = json!({
            "store_id": self.sim.config().store_id,
            "api_base_url": self.server.base_url(),
            "shipping_api": api,
        });
        let credentials = json!({"access_token": token, "app_secret": "s"});
        let http = ponte_channels::Outbound::new(Duration::from_secs(5), true).unwrap();
        Nuvemshop.connect(&settings, &credentials, http).unwrap()
    }

    fn connector(&self, api: &str) -> Arc<dyn Connector> {
        let token = self.sim.config().access_token.clone();
        self.connector_with_token(api, &token)
    }

    fn paid_order(&self) -> (u64, String) {
        let id = self.sim.create_order(NewOrder {
            payment_status: PaymentStatus::Paid,
            ..NewOrder::default()
        });
        (id, id.to_string())
    }

    fn fo(&self, id: u64) -> Value {
        self.sim.fulfillment_order(id).unwrap()
    }

    fn order(&self, id: u64) -> Value {
        self.sim.order(id).unwrap()
    }

    fn metafield(&self, id: u64, key: &str) -> Option<String> {
        self.sim
            .metafields_for(id)
            .into_iter()
            .find(|m| m["namespace"] == "nfe" && m["key"] == key)
            .map(|m| m["value"].as_str().unwrap().to_owned())
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

fn shipment(code: Option<&str>) -> Action {
    Action::Shipment(Shipment {
        tracking_code: code.map(str::to_owned),
        tracking_url: code.map(|c| format!("https://rastreamento.correios.com.br/{c}")),
        carrier: Some("Correios".into()),
        shipped_at: at("2026-03-02T09:00:00Z"),
    })
}

fn delivery() -> Action {
    Action::Delivery(Delivery {
        delivered_at: at("2026-03-04T15:30:00Z"),
    })
}

/// A valid access key: `KEY` with its serial digits changed and the check digit fixed.
fn key(serial: u32) -> NfeKey {
    let base = format!("{}{serial:08}", &KEY[..35]);
    (0..10)
        .find_map(|d| NfeKey::parse(&format!("{base}{d}")).ok())
        .unwrap()
}

fn invoice(serial: u32, xml_url: Option<&str>) -> Action {
    Action::Invoice(Invoice {
        number: serial.to_string(),
        series: "1".into(),
        access_key: key(serial),
        issued_at: at("2026-03-01T10:00:00Z"),
        total_cents: 1990,
        xml_url: xml_url.map(str::to_owned),
        has_xml: false,
    })
}

fn cancel(reason: CancelReason) -> Action {
    Action::Cancel(Cancellation { reason, note: None })
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

#[tokio::test]
async fn separation_packs_in_both_modes_and_repeats() {
    let env = Env::start().await;
    let (id, ext) = env.paid_order();
    assert_eq!(env.fo(id)["status"], "UNPACKED");
    let r = env.connector(FO).send(&ext, &separation(), None).await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(200), Some(200)]);
    let fo_id = env.fo(id)["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.request,
        format!(
            "GET /orders/{id}/fulfillment-orders; \
             PATCH /orders/{id}/fulfillment-orders/{fo_id} {{\"status\":\"PACKED\"}}"
        )
    );
    assert_eq!(env.fo(id)["status"], "PACKED");
    let again = env.connector(FO).send(&ext, &separation(), None).await;
    assert_ok(&again);
    assert_eq!(statuses(&again), [Some(200)], "a packed FO needs no PATCH");

    let (id, ext) = env.paid_order();
    let legacy = env.connector(LEGACY);
    let r = legacy.send(&ext, &separation(), None).await;
    assert_ok(&r);
    assert_eq!(r.request, format!("POST /orders/{id}/pack {{}}"));
    assert_eq!(env.fo(id)["status"], "PACKED");
    let again = legacy.send(&ext, &separation(), None).await;
    assert_ok(&again);
    assert_eq!(statuses(&again), [Some(422)], "already packed is success");
    env.sim.fulfill(id, "BR1", None).unwrap();
    let late = legacy.send(&ext, &separation(), None).await;
    assert_ok(&late);
    assert!(late.calls[0]
        .response
        .as_deref()
        .unwrap()
        .contains("already fulfilled"));
    env.stop().await;
}

#[tokio::test]
async fn shipment_dispatches_with_tracking_in_both_modes_and_repeats() {
    let env = Env::start().await;
    for api in [FO, LEGACY] {
        let conn = env.connector(api);
        let (id, ext) = env.paid_order();
        let r = conn.send(&ext, &shipment(Some("BR123")), None).await;
        assert_ok(&r);
        let fo = env.fo(id);
        assert_eq!(fo["status"], "DISPATCHED", "{api}");
        assert_eq!(fo["tracking_info"]["code"], "BR123");
        assert_eq!(
            fo["tracking_info"]["url"],
            "https://rastreamento.correios.com.br/BR123"
        );
        let order = env.order(id);
        assert_eq!(order["shipping_tracking_number"], "BR123");
        assert_eq!(order["shipping_status"], "shipped");
        assert!(
            r.request.contains("\"notify_customer\":true"),
            "{}",
            r.request
        );
        let again = conn.send(&ext, &shipment(Some("BR123")), None).await;
        assert_ok(&again);
        let want: &[Option<u16>] = if api == FO {
            &[Some(200)]
        } else {
            &[Some(422)]
        };
        assert_eq!(statuses(&again), want, "{api}");
    }
    // A packed FO is dispatched too.
    let (id, ext) = env.paid_order();
    env.sim.pack(id).unwrap();
    assert_ok(
        &env.connector(FO)
            .send(&ext, &shipment(Some("BR9")), None)
            .await,
    );
    assert_eq!(env.fo(id)["status"], "DISPATCHED");
    env.stop().await;
}

#[tokio::test]
async fn delivery_posts_a_delivered_event_once_dispatched() {
    let env = Env::start().await;
    let conn = env.connector(FO);
    let (id, ext) = env.paid_order();
    let early = conn.send(&ext, &delivery(), None).await;
    assert_kind(&early, PlatformErrorKind::Permanent);
    assert_eq!(statuses(&early), [Some(200)], "refused before any event");
    let msg = &early.result.as_ref().unwrap_err().message;
    assert!(msg.contains("not dispatched at the platform"), "{msg}");

    assert_ok(&conn.send(&ext, &shipment(Some("BR1")), None).await);
    let r = conn.send(&ext, &delivery(), None).await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(200), Some(201)]);
    let fo = env.fo(id);
    assert_eq!(fo["status"], "DELIVERED");
    assert_eq!(fo["fulfilled_at"], "2026-03-04T15:30:00+00:00");
    assert_eq!(fo["tracking_events"][0]["status"], "delivered");
    assert_eq!(env.order(id)["shipping_status"], "delivered");
    let again = conn.send(&ext, &delivery(), None).await;
    assert_ok(&again);
    assert_eq!(statuses(&again), [Some(200)]);
    assert_eq!(env.fo(id)["tracking_events"].as_array().unwrap().len(), 1);

    let legacy = env.connector(LEGACY);
    assert!(legacy.send_support(delivery().kind()).is_err());
    let r = legacy.send(&ext, &delivery(), None).await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    assert!(r.calls.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn invoice_sets_the_nfe_metafields_and_repeats() {
    let env = Env::start().await;
    for api in [FO, LEGACY] {
        let conn = env.connector(api);
        let (id, ext) = env.paid_order();
        let url = "https://erp.example.com.br/nfe/26.xml";
        let r = conn.send(&ext, &invoice(26, Some(url)), None).await;
        assert_ok(&r);
        assert_eq!(statuses(&r), [Some(201), Some(201)]);
        assert!(r.request.starts_with("POST /metafields {"), "{}", r.request);
        assert_eq!(
            env.metafield(id, "key").as_deref(),
            Some(key(26).as_str()),
            "{api}"
        );
        assert_eq!(env.metafield(id, "link").as_deref(), Some(url));
        let all = env.sim.metafields_for(id);
        assert!(all.iter().all(|m| m["owner_resource"] == "Order"));
        assert!(all.iter().any(|m| m["description"] == "Chave da NFe"));

        let again = conn.send(&ext, &invoice(26, Some(url)), None).await;
        assert_ok(&again);
        assert_eq!(
            statuses(&again),
            [Some(422), Some(200), Some(422), Some(200)],
            "taken, read back, same value: nothing to change"
        );
        assert_eq!(env.sim.metafields_for(id).len(), 2);
    }
    // A different stored value is replaced.
    let conn = env.connector(FO);
    let (id, ext) = env.paid_order();
    assert_ok(&conn.send(&ext, &invoice(1, None), None).await);
    assert!(
        env.metafield(id, "link").is_none(),
        "no link without xml_url"
    );
    let r = conn.send(&ext, &invoice(2, None), None).await;
    assert_ok(&r);
    assert_eq!(statuses(&r), [Some(422), Some(200), Some(200)]);
    assert!(r.calls[2].request.starts_with("PUT /metafields/"));
    assert_eq!(env.metafield(id, "key").as_deref(), Some(key(2).as_str()));
    env.stop().await;
}

#[tokio::test]
async fn cancel_cancels_and_repeats() {
    let env = Env::start().await;
    let conn = env.connector(FO);
    let (id, ext) = env.paid_order();
    let r = conn
        .send(&ext, &cancel(CancelReason::PaymentExpired), None)
        .await;
    assert_ok(&r);
    assert_eq!(
        r.request,
        format!("POST /orders/{id}/cancel {{\"email\":true,\"reason\":\"other\"}}")
    );
    let order = env.order(id);
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancel_reason"], "other");
    let again = conn
        .send(&ext, &cancel(CancelReason::PaymentExpired), None)
        .await;
    assert_ok(&again);
    assert_eq!(
        statuses(&again),
        [Some(422)],
        "already cancelled is success"
    );

    let (id, ext) = env.paid_order();
    assert_ok(&conn.send(&ext, &cancel(CancelReason::Fraud), None).await);
    assert_eq!(env.order(id)["cancel_reason"], "fraud");
    env.stop().await;
}

#[tokio::test]
async fn platform_refusals_are_permanent() {
    let env = Env::start().await;
    let (id, ext) = env.paid_order();
    env.sim.cancel(id, "customer").unwrap();
    // 422 "Order is cancelled" from the legacy API.
    let r = env.connector(LEGACY).send(&ext, &separation(), None).await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    assert_eq!(statuses(&r), [Some(422)]);
    let r = env
        .connector(LEGACY)
        .send(&ext, &shipment(Some("BR1")), None)
        .await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    // 400 from the Fulfillment Order API.
    let r = env
        .connector(FO)
        .send(&ext, &shipment(Some("BR1")), None)
        .await;
    assert_kind(&r, PlatformErrorKind::Permanent);
    assert_eq!(statuses(&r), [Some(200), Some(400)]);
    // Unknown order.
    let r = env
        .connector(FO)
        .send("999999999", &separation(), None)
        .await;
    assert_kind(&r, PlatformErrorKind::NotFound);
    env.stop().await;
}

#[tokio::test]
async fn transient_rate_limited_and_auth_failures_are_classified() {
    let env = Env::start().await;
    let conn = env.connector(FO);
    let (id, ext) = env.paid_order();

    env.sim
        .inject(Fault::new("/fulfillment-orders", 1, FaultKind::Status(500)));
    let r = conn.send(&ext, &separation(), None).await;
    assert_kind(&r, PlatformErrorKind::Transient);
    assert_eq!(statuses(&r), [Some(500)], "stops at the first failure");
    assert_eq!(env.fo(id)["status"], "UNPACKED");

    env.sim
        .inject(Fault::new("/metafields", 1, FaultKind::Status(502)).with_method(Method::POST));
    let r = conn
        .send(&ext, &invoice(7, Some("https://x.example/7.xml")), None)
        .await;
    assert_kind(&r, PlatformErrorKind::Transient);
    assert_eq!(statuses(&r), [Some(502)]);
    assert!(env.metafield(id, "key").is_none());

    env.sim.inject(Fault::new(
        "/orders/",
        1,
        FaultKind::RateLimited {
            retry_after_ms: 2500,
        },
    ));
    let r = conn.send(&ext, &cancel(CancelReason::Customer), None).await;
    assert_kind(&r, PlatformErrorKind::RateLimited(Duration::from_secs(3)));
    assert_eq!(env.order(id)["status"], "open");

    env.sim
        .inject(Fault::new("/orders/", 1, FaultKind::Unauthorized));
    assert_kind(
        &conn.send(&ext, &separation(), None).await,
        PlatformErrorKind::Auth,
    );
    let wrong = env.connector_with_token(LEGACY, "not-the-token");
    assert_kind(
        &wrong.send(&ext, &separation(), None).await,
        PlatformErrorKind::Auth,
    );
    assert_eq!(env.fo(id)["status"], "UNPACKED");

    // After the faults, the same sends go through.
    assert_ok(&conn.send(&ext, &separation(), None).await);
    assert_eq!(env.fo(id)["status"], "PACKED");
    env.stop().await;
}

#[tokio::test]
async fn a_partly_done_send_is_finished_by_its_retry() {
    let env = Env::start().await;
    let conn = env.connector(FO);
    let (id, ext) = env.paid_order();
    let url = "https://x.example/7.xml";
    assert_ok(&conn.send(&ext, &invoice(7, None), None).await);
    // The key is already there; reading it back fails: the link is not attempted.
    env.sim.inject(
        Fault::new("/metafields/orders", 1, FaultKind::Status(500)).with_method(Method::GET),
    );
    let r = conn.send(&ext, &invoice(7, Some(url)), None).await;
    assert_kind(&r, PlatformErrorKind::Transient);
    assert_eq!(statuses(&r), [Some(422), Some(500)]);
    assert!(env.metafield(id, "link").is_none());
    let retry = conn.send(&ext, &invoice(7, Some(url)), None).await;
    assert_ok(&retry);
    assert_eq!(statuses(&retry), [Some(422), Some(200), Some(201)]);
    assert_eq!(env.metafield(id, "key").as_deref(), Some(key(7).as_str()));
    assert_eq!(env.metafield(id, "link").as_deref(), Some(url));
    env.stop().await;
}

#[tokio::test]
async fn check_refuses_a_shipment_without_tracking_code() {
    let env = Env::start().await;
    let (id, ext) = env.paid_order();
    for api in [FO, LEGACY] {
        let conn = env.connector(api);
        let err = conn.check_send(&shipment(None)).unwrap_err();
        assert_eq!(err.code, "missing_tracking_code");
        let r = conn.send(&ext, &shipment(None), None).await;
        assert_kind(&r, PlatformErrorKind::Permanent);
        assert!(r.calls.is_empty());
    }
    assert!(
        env.sim.requests().is_empty(),
        "no call reached the platform"
    );
    assert_eq!(env.fo(id)["status"], "UNPACKED");
    env.stop().await;
}
