//! A burst of 5,000 notifications, a SIGKILL during import and a restart lose
//! nothing and double nothing (one instance, SQLite and PostgreSQL); SIGTERM drains
//! accepted work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{importable, Backend, Sim, Storage};
use futures::stream::{self, StreamExt};
use ponte_sim::nuvemshop::{Fault, FaultKind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sends a notification for every id; returns the ids whose delivery was acknowledged.
/// Calls `on_ack` with the running count of acknowledgements.
async fn send_all(sim: &Sim, url: &str, ids: &[u64], on_ack: impl Fn(usize) + Sync) -> Vec<u64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acked = AtomicUsize::new(0);
    let results: Vec<(u64, u16)> = stream::iter(ids.iter().copied())
        .map(|id| {
            let http = &http;
            let acked = &acked;
            let on_ack = &on_ack;
            async move {
                let s = sim.notify(http, url, "order/created", id).await;
                if s == 200 {
                    on_ack(acked.fetch_add(1, Ordering::SeqCst) + 1);
                }
                (id, s)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results
        .into_iter()
        .filter(|(_, s)| *s == 200)
        .map(|(id, _)| id)
        .collect()
}

both_backends!(
    sigkill_mid_burst_then_restart_loses_nothing,
    sigterm_commits_accepted_webhooks_and_exits_cleanly
);

async fn sigkill_mid_burst_then_restart_loses_nothing(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let ids = sim.sim.generate_orders(5000, 11);
    let importable: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| importable(&sim.sim.order(*id).unwrap()))
        .collect();
    // Slow fetches keep imports in flight when the process dies.
    for id in ids.iter().step_by(50) {
        sim.sim.inject(Fault::new(
            format!("/orders/{id}"),
            1,
            FaultKind::Delay(Duration::from_millis(200)),
        ));
    }
    let first = storage.start(&[]);
    let (channel, url) = first.nuvemshop_channel(&sim, "all").await;
    let ponte = Arc::new(std::sync::Mutex::new(first));
    let killer = ponte.clone();
    let acked = send_all(&sim, &url, &ids, move |n| {
        if n == 1500 {
            killer.lock().unwrap().kill();
        }
    })
    .await;
    assert!(
        acked.len() >= 120 && acked.len() < ids.len(),
        "killed mid-burst: {} acked",
        acked.len()
    );

    // Restart on the same data; the platform retries what was not acknowledged (and
    // some of what was: duplicates).
    let ponte = storage.start(&[]);
    let url = format!("{}/webhooks/{channel}", ponte.base);
    assert!(url.ends_with(&channel));
    let missing: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !acked.contains(id))
        .chain(acked.iter().copied().step_by(5))
        .collect();
    let resent = send_all(&sim, &url, &missing, |_| {}).await;
    assert_eq!(resent.len(), missing.len());
    ponte.settle(Duration::from_secs(60)).await;

    let orders = ponte.all_orders().await;
    let mut got: Vec<String> = orders
        .iter()
        .map(|o| o["external_id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want: Vec<String> = importable.iter().map(u64::to_string).collect();
    want.sort();
    assert_eq!(
        got, want,
        "exactly the importable orders, none lost, none doubled"
    );
    // Each order's timeline, eight at a time.
    let imports: Vec<(String, usize)> = stream::iter(&orders)
        .map(|o| {
            let ponte = &ponte;
            async move {
                let d = ponte
                    .get(&format!("/api/v1/orders/{}", o["id"].as_str().unwrap()))
                    .await;
                let n = d["timeline"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["kind"] == "imported")
                    .count();
                (o["external_id"].to_string(), n)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (ext, n) in imports {
        assert_eq!(n, 1, "order {ext} imported once");
    }
    // Every acknowledged delivery survived the kill.
    let mut stored = 0;
    let mut cursor = String::new();
    loop {
        let page = ponte
            .get(&format!("/api/v1/webhook-deliveries?limit=500{cursor}"))
            .await;
        stored += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert!(
        stored >= acked.len() + missing.len(),
        "stored {stored}, acked {}",
        acked.len() + missing.len()
    );
}

async fn sigterm_commits_accepted_webhooks_and_exits_cleanly(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let ids = sim.sim.generate_orders(2000, 5);
    let first = storage.start(&[]);
    let (_ch, url) = first.nuvemshop_channel(&sim, "all").await;
    let pid = first.child.id();
    let ponte = Arc::new(std::sync::Mutex::new(first));
    // SIGTERM in the middle of the burst: whatever was acknowledged must be stored.
    let acked = send_all(&sim, &url, &ids, move |n| {
        if n == 500 {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    })
    .await;
    let status = ponte.lock().unwrap().child.wait().unwrap();
    assert!(status.success(), "clean exit: {status}");
    assert!(
        acked.len() >= 500 && acked.len() < ids.len(),
        "terminated mid-burst: {} acked",
        acked.len()
    );
    let ponte = storage.start(&[]);
    ponte.settle(Duration::from_secs(60)).await;
    let mut stored = std::collections::HashSet::new();
    let mut cursor = String::new();
    loop {
        let page = ponte
            .get(&format!("/api/v1/webhook-deliveries?limit=500{cursor}"))
            .await;
        for d in page["items"].as_array().unwrap() {
            stored.insert(d["resource_id"].as_str().unwrap().parse::<u64>().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert!(
        acked.iter().all(|id| stored.contains(id)),
        "every acknowledged webhook survived the shutdown"
    );
}
