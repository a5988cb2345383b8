//! 500 orders with shuffled, duplicated and forged notifications end with exactly
//! the simulator's orders and statuses (SQLite and PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{expected_status, importable, Backend, Sim, Storage};
use futures::stream::{self, StreamExt};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const EVENTS: [&str; 4] = [
    "order/created",
    "order/updated",
    "order/paid",
    "order/cancelled",
];

/// Sends every notification concurrently; all must be acknowledged.
async fn blast(sim: &Sim, http: &reqwest::Client, url: &str, notes: Vec<(&'static str, u64)>) {
    let statuses: Vec<u16> = stream::iter(notes)
        .map(|(ev, id)| async move { sim.notify(http, url, ev, id).await })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every genuine notification is accepted"
    );
}

both_backends!(shuffled_duplicated_and_forged_notifications_converge);

async fn shuffled_duplicated_and_forged_notifications_converge(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let ids = sim.sim.generate_orders(500, 7);
    let ponte = storage.start(&[]);
    let (_channel, url) = ponte.nuvemshop_channel(&sim, "all").await;
    let http = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);

    // Phase 1: every order announced 1-3 times, in random order.
    let mut notes: Vec<(&'static str, u64)> = vec![];
    for id in &ids {
        for _ in 0..rng.gen_range(1..=3) {
            notes.push((EVENTS[rng.gen_range(0..2)], *id));
        }
    }
    notes.shuffle(&mut rng);
    blast(&sim, &http, &url, notes).await;

    // Forged: wrong secret, missing signature, another store, garbage. None may touch an order.
    let forged_body = sim.sim.notification_body("order/paid", ids[0]);
    let (s, p) = Sim::post_raw(&http, &url, forged_body.clone(), Some(&"0".repeat(64))).await;
    assert_eq!((s, p["code"].as_str()), (401, Some("invalid_signature")));
    let (s, p) = Sim::post_raw(&http, &url, forged_body, None).await;
    assert_eq!((s, p["code"].as_str()), (401, Some("missing_signature")));
    let other = br#"{"store_id":999,"event":"order/paid","id":1}"#.to_vec();
    let sig = sim.sim.signature(&other);
    let (s, p) = Sim::post_raw(&http, &url, other, Some(&sig)).await;
    assert_eq!((s, p["code"].as_str()), (403, Some("store_mismatch")));
    let garbage = b"{\"store_id\":".to_vec();
    let sig = sim.sim.signature(&garbage);
    let (s, p) = Sim::post_raw(&http, &url, garbage, Some(&sig)).await;
    assert_eq!((s, p["code"].as_str()), (400, Some("malformed_json")));
    let huge = vec![b' '; 70 * 1024];
    let (s, p) = Sim::post_raw(&http, &url, huge, Some("00")).await;
    assert_eq!((s, p["code"].as_str()), (413, Some("payload_too_large")));

    ponte.settle(Duration::from_secs(60)).await;
    // What was importable when first seen: not cancelled, not already closed or shipped (seed 001).
    let importable: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| importable(&sim.sim.order(*id).unwrap()))
        .collect();
    assert!(
        importable.len() > 300 && importable.len() < 500,
        "the generator mixes states: {}",
        importable.len()
    );
    let first: Vec<Value> = ponte.all_orders().await;
    let mut got: Vec<String> = first
        .iter()
        .map(|o| o["external_id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want: Vec<String> = importable.iter().map(u64::to_string).collect();
    want.sort();
    assert_eq!(got, want, "exactly the importable orders");
    let skipped = ids.iter().find(|id| !importable.contains(id)).unwrap();
    let d = ponte
        .get(&format!("/api/v1/webhook-deliveries?resource_id={skipped}"))
        .await;
    let note = d["items"][0]["error"].as_str().unwrap();
    assert!(
        note.starts_with("skipped: "),
        "skip recorded with its reason: {note}"
    );

    // Phase 2: the platform moves on; notifications arrive shuffled, duplicated, some late.
    let mut changed = vec![];
    for (i, id) in importable.iter().enumerate() {
        let ok = match i % 6 {
            0 => sim.sim.set_payment_status(*id, "paid").is_ok(),
            1 => {
                let _ = sim.sim.set_payment_status(*id, "paid");
                let _ = sim.sim.pack(*id);
                sim.sim.fulfill(*id, &format!("BR{id}"), None).is_ok()
            }
            2 => sim.sim.cancel(*id, "customer").is_ok(),
            3 if sim.sim.order(*id).unwrap()["payment_status"] == "pending" => {
                sim.sim.set_payment_status(*id, "authorized").is_ok()
            }
            _ => false,
        };
        if ok {
            changed.push(*id);
        }
    }
    assert!(changed.len() > 200, "{}", changed.len());
    let mut notes: Vec<(&'static str, u64)> = vec![];
    for id in &changed {
        for _ in 0..rng.gen_range(1..=4) {
            notes.push((EVENTS[rng.gen_range(0..4)], *id));
        }
    }
    notes.shuffle(&mut rng);
    blast(&sim, &http, &url, notes).await;
    ponte.settle(Duration::from_secs(60)).await;

    // Exactly the simulator's orders, each once, each with the platform's status.
    let orders = ponte.all_orders().await;
    assert_eq!(
        orders.len(),
        importable.len(),
        "no order lost, none doubled"
    );
    let by_ext: HashMap<String, &Value> = orders
        .iter()
        .map(|o| (o["external_id"].as_str().unwrap().to_owned(), o))
        .collect();
    assert_eq!(by_ext.len(), importable.len());
    for id in &importable {
        let truth = sim.sim.order(*id).unwrap();
        let got = by_ext[&id.to_string()];
        assert_eq!(
            got["status"].as_str().unwrap(),
            expected_status(&truth),
            "order {id}: {truth}"
        );
        assert_eq!(
            got["platform_status"]["payment_status"],
            truth["payment_status"]
        );
    }
    let statuses: std::collections::BTreeSet<_> = orders
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect();
    for s in [
        "awaiting_payment",
        "payment_in_review",
        "approved",
        "shipped",
        "cancelled",
    ] {
        assert!(statuses.contains(s), "covers {s}: {statuses:?}");
    }

    // Invalid CPF/CNPJ: the order is kept, the document kept raw and flagged.
    let flagged: Vec<&Value> = orders
        .iter()
        .filter(|o| {
            o["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "invalid_document")
        })
        .collect();
    assert!(
        !flagged.is_empty(),
        "the simulator sends some invalid documents"
    );
    for o in &flagged {
        let doc = &o["customer"]["document"];
        assert_eq!(doc["valid"], false);
        assert!(!doc["raw"].as_str().unwrap().is_empty());
    }
    assert!(orders
        .iter()
        .any(|o| o["customer"]["document"]["kind"] == "cnpj"
            && o["customer"]["document"]["valid"] == true));

    // Each order was imported exactly once; its timeline tells the story.
    let one = ponte
        .get(&format!(
            "/api/v1/orders/{}",
            orders[0]["id"].as_str().unwrap()
        ))
        .await;
    let kinds: Vec<&str> = one["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "imported").count(),
        1,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"delivery_received") && kinds.contains(&"fetched"),
        "{kinds:?}"
    );
    assert_eq!(
        ponte
            .metric("ponte_imports_total{result=\"created\"}")
            .await,
        importable.len() as f64
    );
    assert_eq!(
        ponte
            .metric("ponte_webhook_deliveries_total{result=\"invalid_signature\"}")
            .await,
        1.0
    );
    let failed = ponte.get("/api/v1/webhook-deliveries?state=failed").await;
    assert!(failed["items"].as_array().unwrap().is_empty());
}
