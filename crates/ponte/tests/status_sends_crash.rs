//! A SIGKILL while status sends are in flight loses no send, and every platform call
//! made is covered by a recorded attempt (an `interrupted` one when the process died
//! during it). SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{wait_for, Backend, Ponte, Sim, Storage};
use futures::stream::{self, StreamExt};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method, NewOrder, PaymentStatus};
use serde_json::{json, Value};
use std::time::Duration;

const ORDERS: usize = 60;

async fn all_sends(p: &Ponte) -> Vec<Value> {
    let page = p.get("/api/v1/status-sends?limit=500").await;
    page["items"].as_array().unwrap().clone()
}

both_backends!(sigkill_mid_send_loses_nothing);

async fn sigkill_mid_send_loses_nothing(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let mut first = storage.start(&[]);
    let (_, url) = first.nuvemshop_channel(&sim, "paid_only").await;
    let exts: Vec<u64> = (0..ORDERS)
        .map(|_| {
            sim.sim.create_order(NewOrder {
                payment_status: PaymentStatus::Paid,
                ..NewOrder::default()
            })
        })
        .collect();
    for ext in &exts {
        assert_eq!(sim.notify(&first.http, &url, "order/paid", *ext).await, 200);
    }
    first.settle(Duration::from_secs(30)).await;
    let orders = first.all_orders().await;
    assert_eq!(orders.len(), ORDERS);
    // Half of the platform's answers hang: those sends are in flight at the kill.
    sim.sim.inject(
        Fault::new(
            "/fulfillment-orders/",
            (ORDERS / 2) as u32,
            FaultKind::Delay(Duration::from_secs(5)),
        )
        .with_method(Method::PATCH),
    );
    let ids: Vec<String> = orders
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let acked: Vec<u16> = stream::iter(ids.iter())
        .map(|id| {
            let p = &first;
            async move {
                p.post(&format!("/api/v1/orders/{id}/separation"), &json!({}))
                    .await
                    .0
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(acked.iter().all(|s| *s == 200));
    // Kill once some attempts are recorded as started and still hang at the platform.
    wait_for(Duration::from_secs(30), || async {
        let in_flight = all_sends(&first)
            .await
            .iter()
            .flat_map(|s| s["attempts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["outcome"] == "started")
            .count();
        in_flight >= 5
    })
    .await;
    first.kill();

    let p = storage.start(&[]);
    wait_for(Duration::from_secs(60), || async {
        all_sends(&p)
            .await
            .iter()
            .all(|s| s["state"] == "succeeded")
    })
    .await;
    let sends = all_sends(&p).await;
    assert_eq!(
        sends.len(),
        ORDERS,
        "one send per action, none lost, none doubled"
    );
    let mut interrupted = 0;
    for (s, o) in sends
        .iter()
        .map(|s| (s, s["external_id"].as_str().unwrap()))
    {
        let attempts = s["attempts"].as_array().unwrap();
        let calls = sim
            .sim
            .request_count(&Method::PATCH, &format!("/orders/{o}/"));
        assert!(
            calls <= attempts.len(),
            "order {o}: {calls} PATCH calls but only {} attempts recorded: {s}",
            attempts.len()
        );
        let last = attempts.last().unwrap();
        assert_eq!(last["outcome"], "succeeded", "{s}");
        interrupted += attempts
            .iter()
            .filter(|a| a["outcome"] == "interrupted")
            .count();
        let fo = sim.sim.fulfillment_order(o.parse().unwrap()).unwrap();
        assert_eq!(fo["status"], "PACKED", "{fo}");
    }
    assert!(interrupted > 0, "the kill hit sends in flight");
}
