//! Outbound webhooks and the event feed end to end: the real binary, the Nuvemshop
//! simulator, and a local receiving server that checks every signature with its own
//! HMAC (the `hmac` crate over the Standard Webhooks rule, proven first against the
//! specification's test vectors), never with ponte's signing code. The retry schedule
//! is compressed 1000 times. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{until, wait_for, Backend, Ponte, Sim, Storage};
use hmac::{Hmac, Mac};
use ponte_sim::nuvemshop::{NewOrder, PaymentStatus};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: i64,
    signatures: Vec<String>,
    body: String,
    /// What the receiver answered.
    status: u16,
}

/// A local endpoint: records every request as it arrives, answers 503 to the first
/// `fail` ones, and answers after `delay_ms`.
#[derive(Clone, Default)]
struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
    fail: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let failing = r
        .fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    r.log.lock().unwrap().push(Received {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
        signatures: h("webhook-signature")
            .split(' ')
            .map(str::to_owned)
            .collect(),
        body,
        status: status.as_u16(),
    });
    let delay = r.delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    status
}

impl Receiver {
    /// Serves on loopback; its URL.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hooks", post(hook))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn log(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The accepted (2xx) deliveries.
    fn accepted(&self) -> Vec<Received> {
        self.log().into_iter().filter(|r| r.status == 200).collect()
    }
}

/// The Standard Webhooks signature, computed here: base64(HMAC-SHA256(key,
/// "{id}.{timestamp}.{body}")) with key = base64-decoded secret after `whsec_`.
fn expected_signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn verifies(secret: &str, r: &Received) -> bool {
    let want = expected_signature(secret, &r.id, r.timestamp, &r.body);
    r.signatures.contains(&want)
}

#[test]
fn the_test_verifier_matches_the_specification_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/standard-webhooks/test_vectors.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for case in v["sign_vectors"].as_array().unwrap() {
        let got = expected_signature(
            case["secret"].as_str().unwrap(),
            case["msg_id"].as_str().unwrap(),
            case["timestamp"].as_i64().unwrap(),
            case["payload"].as_str().unwrap(),
        );
        assert_eq!(got, case["expected_signature"].as_str().unwrap());
    }
    let bad = &v["must_not_verify"][0];
    let r = Received {
        id: bad["msg_id"].as_str().unwrap().into(),
        timestamp: chrono::Utc::now().timestamp(),
        signatures: vec![bad["signature"].as_str().unwrap().into()],
        body: bad["payload"].as_str().unwrap().into(),
        status: 200,
    };
    assert!(!verifies(bad["secret"].as_str().unwrap(), &r));
}

/// Retries compressed 1000 times: 5 ms, 300 ms, 1.8 s, ...
const FAST_RETRIES: &[(&str, &str)] = &[("PONTE_WEBHOOK_RETRY_DIVISOR", "1000")];

/// A paid order created at the simulator, notified and imported; (platform id, id).
async fn paid_order(p: &Ponte, sim: &Sim, url: &str) -> (u64, String) {
    let ext = sim.sim.create_order(NewOrder {
        payment_status: PaymentStatus::Paid,
        ..NewOrder::default()
    });
    (ext, p.imported(sim, url, ext).await)
}

/// The whole feed.
async fn feed(p: &Ponte) -> Vec<Value> {
    p.get("/api/v1/events?limit=500").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

both_backends!(
    events_reach_a_signed_endpoint_in_order_with_retries,
    the_feed_resumes_from_its_cursor_and_long_polls,
    a_killed_ponte_loses_no_delivery,
    a_slow_endpoint_holds_only_its_share_of_the_slots
);

async fn events_reach_a_signed_endpoint_in_order_with_retries(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let p = storage.start(FAST_RETRIES);
    let rx = Receiver::default();
    let hooks = rx.start().await;
    let (status, ep) = p
        .post(
            "/api/v1/webhook-endpoints",
            &json!({"url": hooks, "description": "ERP"}),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    let secret = ep["secret"].as_str().unwrap().to_owned();
    let ep_id = ep["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    // The first two deliveries are refused: they are retried.
    rx.fail.store(2, Ordering::SeqCst);

    let (_, url) = p.nuvemshop_channel(&sim, "all").await;
    let (ext_a, a) = paid_order(&p, &sim, &url).await;
    sim.sim.cancel(ext_a, "customer").unwrap();
    assert_eq!(
        sim.notify(&p.http, &url, "order/cancelled", ext_a).await,
        200
    );
    wait_for(Duration::from_secs(20), || async {
        p.get(&format!("/api/v1/orders/{a}")).await["status"] == "cancelled"
    })
    .await;
    let (_, b) = paid_order(&p, &sim, &url).await;
    wait_for(Duration::from_secs(20), || async {
        feed(&p).await.len() >= 3
    })
    .await;
    let events = feed(&p).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["order.created", "order.cancelled", "order.created"]);
    assert_eq!(events[0]["data"]["id"], a.as_str());
    assert_eq!(events[2]["data"]["id"], b.as_str());
    let ids: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();

    // Every event is delivered, signed, with the feed's event id as webhook-id.
    wait_for(Duration::from_secs(20), || async {
        let got: std::collections::HashSet<String> =
            rx.accepted().into_iter().map(|r| r.id).collect();
        ids.iter().all(|id| got.contains(id))
    })
    .await;
    let log = rx.log();
    assert!(log.iter().filter(|r| r.status == 503).count() == 2);
    let now = chrono::Utc::now().timestamp();
    for r in &log {
        assert!(verifies(&secret, r), "bad signature: {r:?}");
        assert!((now - r.timestamp).abs() < 300, "timestamp {}", r.timestamp);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let e = events.iter().find(|e| e["id"] == r.id.as_str()).unwrap();
        assert_eq!(body["type"], e["type"]);
        assert_eq!(body["data"], e["data"]);
    }
    // Order A's cancellation goes out only after its creation was accepted.
    let created_ok = log
        .iter()
        .position(|r| r.id == ids[0] && r.status == 200)
        .unwrap();
    let cancelled_first = log.iter().position(|r| r.id == ids[1]).unwrap();
    assert!(created_ok < cancelled_first, "{log:#?}");

    // Every attempt is recorded: the refusals with their status and answer.
    let attempts_path = format!("/api/v1/webhook-endpoints/{ep_id}/attempts");
    let attempts = until(Duration::from_secs(10), "attempts recorded", || async {
        let page = p.get(&attempts_path).await;
        let items = page["items"].as_array().unwrap().clone();
        (items.len() == log.len() && items.iter().all(|a| a["outcome"] != "started"))
            .then_some(items)
    })
    .await;
    let items = &attempts;
    assert_eq!(items.len(), log.len());
    let failed: Vec<&Value> = items.iter().filter(|a| a["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|a| a["http_status"] == 503));
    assert!(items
        .iter()
        .all(|a| a["outcome"] == "failed" || a["outcome"] == "succeeded"));

    // Recover sends everything again, with the same ids; resend one attempt.
    let before = rx.log().len();
    let (status, r) = p
        .post(
            &format!("/api/v1/webhook-endpoints/{ep_id}/recover"),
            &json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!((status, r["queued"].as_u64()), (202, Some(3)), "{r}");
    wait_for(Duration::from_secs(20), || async {
        rx.log().len() >= before + 3
    })
    .await;
    let again: Vec<String> = rx.log()[before..].iter().map(|r| r.id.clone()).collect();
    let mut sorted = again.clone();
    sorted.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(sorted, want);
    let attempt = items[0]["id"].as_str().unwrap();
    let (status, _) = p
        .post(
            &format!("/api/v1/webhook-endpoints/{ep_id}/attempts/{attempt}/resend"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 202);
    wait_for(Duration::from_secs(20), || async {
        rx.log().len() > before + 3
    })
    .await;
    assert_eq!(
        rx.log().last().unwrap().id,
        items[0]["event_id"].as_str().unwrap()
    );

    // A rotated secret: deliveries carry both signatures for a day.
    let (status, rotated) = p
        .post(
            &format!("/api/v1/webhook-endpoints/{ep_id}/rotate-secret"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let seen = rx.log().len();
    paid_order(&p, &sim, &url).await;
    wait_for(Duration::from_secs(20), || async { rx.log().len() > seen }).await;
    let last = rx.log().last().unwrap().clone();
    assert_eq!(last.signatures.len(), 2);
    assert!(verifies(&new_secret, &last) && verifies(&secret, &last));
}

async fn the_feed_resumes_from_its_cursor_and_long_polls(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let p = storage.start(&[]);
    let (_, url) = p.nuvemshop_channel(&sim, "all").await;
    paid_order(&p, &sim, &url).await;
    let first = p.get("/api/v1/events").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // Nothing after the cursor: an empty page keeps it.
    let empty = p.get(&format!("/api/v1/events?after={cursor}")).await;
    assert!(empty["items"].as_array().unwrap().is_empty());
    assert_eq!(empty["next_cursor"], cursor.as_str());
    // A long poll waits for the next event.
    let waiting = {
        let (http, base, cursor) = (p.http.clone(), p.base.clone(), cursor.clone());
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let v: Value = http
                .get(format!("{base}/api/v1/events?after={cursor}&wait=20"))
                .bearer_auth(common::TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (v, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, b) = paid_order(&p, &sim, &url).await;
    let (page, took) = waiting.await.unwrap();
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(page["items"][0]["data"]["id"], b.as_str());
    assert_eq!(page["items"][0]["type"], "order.created");
    // Types filter; a restarted ponte resumes the same feed.
    let only = p.get("/api/v1/events?types=order.cancelled").await;
    assert!(only["items"].as_array().unwrap().is_empty());
    drop(p);
    let p = storage.start(&[]);
    let resumed = until(Duration::from_secs(5), "feed after restart", || async {
        let v = p.get(&format!("/api/v1/events?after={cursor}")).await;
        (!v["items"].as_array().unwrap().is_empty()).then_some(v)
    })
    .await;
    assert_eq!(resumed["items"][0]["data"]["id"], b.as_str());
}

async fn a_killed_ponte_loses_no_delivery(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    // Leases of 2 x 1 s: a killed instance's deliveries go again soon after restart.
    let env = [("PONTE_WEBHOOK_TIMEOUT_MS", "1000")];
    let mut p = storage.start(&env);
    let rx = Receiver::default();
    let hooks = rx.start().await;
    let (status, ep) = p
        .post("/api/v1/webhook-endpoints", &json!({"url": hooks}))
        .await;
    assert_eq!(status, 201, "{ep}");
    let secret = ep["secret"].as_str().unwrap().to_owned();
    let ep_id = ep["id"].as_str().unwrap().to_owned();
    let (_, url) = p.nuvemshop_channel(&sim, "all").await;
    // Answers take 400 ms: deliveries are in flight when ponte is killed.
    rx.delay_ms.store(400, Ordering::SeqCst);
    for _ in 0..8 {
        paid_order(&p, &sim, &url).await;
    }
    wait_for(Duration::from_secs(20), || async { !rx.log().is_empty() }).await;
    p.kill();
    let p = storage.start(&env);
    let ids: Vec<String> = feed(&p)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 8);
    // Every event is delivered and recorded as such; a duplicate carries the same id.
    let attempts_path = format!("/api/v1/webhook-endpoints/{ep_id}/attempts?limit=500");
    wait_for(Duration::from_secs(30), || async {
        let page = p.get(&attempts_path).await;
        let ok: std::collections::HashSet<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["outcome"] == "succeeded")
            .map(|a| a["event_id"].as_str().unwrap().to_owned())
            .collect();
        ids.iter().all(|id| ok.contains(id))
    })
    .await;
    for r in rx.log() {
        assert!(ids.contains(&r.id), "unknown webhook-id {}", r.id);
        assert!(verifies(&secret, &r));
    }
    // The attempts the kill cut short are recorded as interrupted.
    let page = p.get(&attempts_path).await;
    let items = page["items"].as_array().unwrap();
    assert!(
        items.iter().any(|a| a["outcome"] == "interrupted"),
        "{page}"
    );
}

async fn a_slow_endpoint_holds_only_its_share_of_the_slots(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    // Four slots and answers awaited for 2 minutes: a slow endpoint that took every
    // slot would hold the fast one up for that long.
    let env = [
        ("PONTE_WEBHOOK_CONCURRENCY", "4"),
        ("PONTE_WEBHOOK_TIMEOUT_MS", "120000"),
    ];
    let p = storage.start(&env);
    let (slow, fast) = (Receiver::default(), Receiver::default());
    slow.delay_ms.store(60_000, Ordering::SeqCst);
    for rx in [&slow, &fast] {
        let hooks = rx.start().await;
        let (status, ep) = p
            .post("/api/v1/webhook-endpoints", &json!({"url": hooks}))
            .await;
        assert_eq!(status, 201, "{ep}");
    }
    let (_, url) = p.nuvemshop_channel(&sim, "all").await;
    for _ in 0..10 {
        paid_order(&p, &sim, &url).await;
    }
    let events = feed(&p).await.len();
    assert!(events >= 10);
    wait_for(Duration::from_secs(30), || async {
        fast.accepted().len() >= events
    })
    .await;
    // Two endpoints share four slots: the slow one holds two, waiting on its answers.
    assert_eq!(slow.log().len(), 2, "{:?}", slow.log());
}

/// Two instances on one PostgreSQL database share the deliveries: each event reaches
/// the endpoint once (no lease expires here), and the feed reads alike on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    let storage = Storage::new(Backend::Postgres).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = storage.start_in(dirs[0].path(), &[]);
    let b = storage.start_in(dirs[1].path(), &[]);
    let rx = Receiver::default();
    let hooks = rx.start().await;
    let (status, ep) = a
        .post("/api/v1/webhook-endpoints", &json!({"url": hooks}))
        .await;
    assert_eq!(status, 201, "{ep}");
    let secret = ep["secret"].as_str().unwrap().to_owned();
    let (_, url) = a.nuvemshop_channel(&sim, "all").await;
    for i in 0..12 {
        let p = if i % 2 == 0 { &a } else { &b };
        paid_order(p, &sim, &url).await;
    }
    let ids: Vec<String> = feed(&b)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 12);
    let from_a: Vec<String> = feed(&a)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(from_a, ids);
    wait_for(Duration::from_secs(20), || async { rx.log().len() >= 12 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut got: Vec<String> = rx.log().iter().map(|r| r.id.clone()).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "each event once");
    assert!(rx.log().iter().all(|r| verifies(&secret, r)));
}
