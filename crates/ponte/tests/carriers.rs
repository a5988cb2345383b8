//! Carrier tracking end to end (real binary, simulated Nuvemshop store, Correios and
//! Melhor Envio): shipped orders are tracked over both carriers within their budgets;
//! each tracking event enters the order's timeline once; delivered orders are confirmed
//! to the platform exactly once (the ERP delivery action's status send); undeliverable,
//! returned or cancelled parcels flag the order; a revoked Correios token is replaced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{until, Backend, Ponte, Sim, Storage};
use ponte_sim::correios::{CorreiosConfig, CorreiosSim};
use ponte_sim::melhor_envio::{MeConfig, MeSim};
use ponte_sim::nuvemshop::{Method, NewOrder, PaymentStatus};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// Shipped orders in the scenario (half Correios, half Melhor Envio), as the issue asks.
const ORDERS: usize = 1_000;

const WAIT: Duration = Duration::from_secs(120);

/// What happens to parcel `i` at its carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Delivered,
    /// Correios: a failed attempt; Melhor Envio: cancelled.
    Undeliverable,
    /// Correios only: sent back.
    Returned,
    InTransit,
}

fn fate(i: usize) -> Fate {
    match i % 10 {
        0 | 1 | 4 | 5 => Fate::Delivered,
        2 | 3 => Fate::Undeliverable,
        6 => Fate::Returned,
        _ => Fate::InTransit,
    }
}

fn correios_side(i: usize) -> bool {
    i.is_multiple_of(2)
}

async fn run_tracking(p: &Ponte) -> Value {
    let list = p.get("/api/v1/scheduled-tasks").await;
    let task = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "track_shipments")
        .cloned()
        .unwrap_or_else(|| panic!("no track_shipments task in {list}"));
    let (s, run) = p
        .post(
            &format!(
                "/api/v1/scheduled-tasks/{}/run",
                task["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    until(WAIT, "tracking run finished", || async {
        let r = p.get(&format!("/api/v1/task-runs/{id}")).await;
        (r["state"] == "succeeded" || r["state"] == "failed").then_some(r)
    })
    .await
}

fn tracking_entries(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "tracking_event")
        .map(|e| e["detail"]["event"].as_str().unwrap().to_owned())
        .collect()
}

async fn shipments_are_tracked_and_deliveries_confirmed_once(backend: Backend) {
    let storage = Storage::new(backend).await;
    let shop = Sim::start(Sim::unlimited()).await;
    let p = storage.start(&[]);
    let correios = CorreiosSim::new(CorreiosConfig::default());
    let c_server = correios
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await;
    let me = MeSim::new(MeConfig::default());
    let me_server = me
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        .await;
    let (ch, _) = p.nuvemshop_channel(&shop, "paid_only").await;

    // The orders, imported by a manual sync.
    let exts: Vec<u64> = (0..ORDERS)
        .map(|_| {
            shop.sim.create_order(NewOrder {
                payment_status: PaymentStatus::Paid,
                ..NewOrder::default()
            })
        })
        .collect();
    let (s, run) = p
        .post(
            &format!("/api/v1/channels/{ch}/sync"),
            &json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    let orders = until(WAIT, "every order imported", || async {
        let all = p.all_orders().await;
        (all.len() == ORDERS).then_some(all)
    })
    .await;
    let id_of: HashMap<String, String> = orders
        .iter()
        .map(|o| {
            (
                o["external_id"].as_str().unwrap().to_owned(),
                o["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();

    // The carriers: Correios the default, Melhor Envio by name; both budgets below
    // the simulators' limits (Correios 10/s, Melhor Envio 5/s).
    let cfg = correios.config();
    let (s, b) = p
        .post(
            "/api/v1/carrier-accounts",
            &json!({"carrier": "correios", "name": "Contrato SP", "is_default": true,
                    "settings": {"api_base_url": c_server.base_url(), "rate_limit_per_sec": 8},
                    "credentials": {"user": cfg.user, "access_code": cfg.access_code,
                                    "postage_card": cfg.postage_card}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(b.get("credentials").is_none(), "{b}");
    let (s, b) = p
        .post(
            "/api/v1/carrier-accounts",
            &json!({"carrier": "melhor_envio", "name": "Melhor Envio",
                    "settings": {"api_base_url": me_server.base_url(), "rate_limit_per_sec": 4},
                    "credentials": {"access_token": me.config().access_token}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert!(
        !storage.shows(&cfg.access_code).await,
        "credentials sealed at rest"
    );

    // Every order shipped by the ERP, each parcel posted at its carrier.
    let mut codes = vec![];
    for (i, ext) in exts.iter().enumerate() {
        let (code, carrier) = if correios_side(i) {
            let code = format!("AA{i:09}BR");
            correios.post(&code);
            (code, "Correios")
        } else {
            let id = me.create_order(&format!("BB{i:09}BR"));
            me.post(&id);
            (id, "Melhor Envio")
        };
        let oid = &id_of[&ext.to_string()];
        let (s, b) = p
            .post(
                &format!("/api/v1/orders/{oid}/shipment"),
                &json!({"tracking_code": code, "carrier": carrier,
                        "shipped_at": "2026-11-23T12:00:00Z"}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        codes.push(code);
    }

    // First poll: everything in transit, one event each.
    let run = run_tracking(&p).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["seen"], ORDERS, "{run}");
    assert_eq!(
        run["counts"]["updated"], ORDERS,
        "one new event per order: {run}"
    );
    assert_eq!(run["counts"]["delivered"], 0, "{run}");
    let per_call = ORDERS.div_ceil(2).div_ceil(50);
    assert_eq!(
        run["counts"]["calls"],
        1 + 2 * per_call,
        "one token, 50 codes per call on each side: {run}"
    );

    // The carriers move the parcels.
    let mut delivered = 0;
    let mut flagged = 0;
    for (i, code) in codes.iter().enumerate() {
        match (fate(i), correios_side(i)) {
            (Fate::Delivered, true) => correios.deliver(code),
            (Fate::Delivered, false) => me.deliver(code),
            (Fate::Undeliverable, true) => correios.fail_delivery(code),
            (Fate::Undeliverable, false) => me.cancel(code),
            (Fate::Returned, true) => correios.return_to_sender(code),
            (Fate::Returned, false) | (Fate::InTransit, _) => {}
        }
        match (fate(i), correios_side(i)) {
            (Fate::Delivered, _) => delivered += 1,
            (Fate::Undeliverable, _) | (Fate::Returned, true) => flagged += 1,
            _ => {}
        }
    }
    // A token revoked early: replaced once, the run goes on.
    correios.revoke_tokens();
    let run = run_tracking(&p).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["delivered"], delivered, "{run}");
    assert_eq!(run["counts"]["flagged"], flagged, "{run}");
    assert_eq!(correios.tokens_issued(), 2);

    // Read again: nothing new, nothing confirmed twice; delivered orders drop out.
    let run = run_tracking(&p).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["seen"], ORDERS - delivered, "{run}");
    assert_eq!(run["counts"]["updated"], 0, "{run}");
    assert_eq!(run["counts"]["delivered"], 0, "{run}");
    assert_eq!(run["counts"]["flagged"], 0, "{run}");

    // The platform got each delivery exactly once, through the status sends.
    p.settle(WAIT).await;
    for (i, ext) in exts.iter().enumerate() {
        let oid = &id_of[&ext.to_string()];
        let o = p.get(&format!("/api/v1/orders/{oid}")).await;
        let fo = shop.sim.fulfillment_order(*ext).unwrap();
        let confirmed = fo["tracking_events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "delivered")
            .count();
        let entries = tracking_entries(&o);
        match fate(i) {
            Fate::Delivered => {
                assert_eq!(o["status"], "delivered", "{o}");
                assert_eq!(confirmed, 1, "order {i}: {fo}");
                assert_eq!(
                    entries.len(),
                    2,
                    "posted and delivered, once each: {entries:?}"
                );
            }
            Fate::Undeliverable | Fate::Returned => {
                assert_eq!(o["status"], "shipped", "{o}");
                assert!(
                    o["flags"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("shipment_exception")),
                    "order {i}: {}",
                    o["flags"]
                );
                assert_eq!(confirmed, 0);
                assert_eq!(entries.len(), 2, "{entries:?}");
            }
            _ => {
                assert_eq!(o["status"], "shipped", "{o}");
                assert!(
                    !o["flags"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("shipment_exception")),
                    "{o}"
                );
                assert_eq!(confirmed, 0);
                assert_eq!(entries.len(), 1, "{entries:?}");
            }
        }
    }
    let sent = p
        .get("/api/v1/status-sends?limit=500&state=succeeded&kind=delivery")
        .await;
    let deliveries = sent["items"].as_array().unwrap().len();
    assert_eq!(
        deliveries, delivered,
        "one delivery send per delivered order"
    );

    // Within both carriers' budgets, at most 50 codes a call.
    for r in correios.requests().iter().chain(me.requests().iter()) {
        assert_ne!(r.status, 429, "{r:?}");
    }
    assert!(correios.codes_per_call().iter().all(|n| *n <= 50));
    // Melhor Envio: every code on the first two runs, the undelivered ones on the third.
    let undelivered = (0..ORDERS)
        .filter(|i| !correios_side(*i) && fate(*i) != Fate::Delivered)
        .count();
    assert_eq!(
        me.request_count(&Method::POST, "/api/v2/me/shipment/tracking"),
        2 * per_call + undelivered.div_ceil(50)
    );
    c_server.shutdown().await;
    me_server.shutdown().await;
}

both_backends!(shipments_are_tracked_and_deliveries_confirmed_once);
