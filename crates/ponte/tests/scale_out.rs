//! Three ponte processes on one PostgreSQL database take a burst of 5,000
//! notifications; one is SIGKILLed mid-burst and restarted; every order is imported
//! exactly once and no job is left running or lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Ponte, Sim, Storage};
use futures::stream::{self, StreamExt};
use ponte_sim::nuvemshop::NewOrder;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn start(dir: &std::path::Path, storage: &Storage) -> Ponte {
    storage.start_in(
        dir,
        &[
            ("PONTE_JOB_LEASE_SECS", "3"),
            // Tests run side by side on one PostgreSQL (100 connections).
            ("PONTE_DATABASE_MAX_CONNECTIONS", "8"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_one_killed_every_order_imported_once() {
    let storage = Storage::new(Backend::Postgres).await;
    let db = storage.pg();
    let sim = Sim::start(Sim::unlimited()).await;
    let ids: Vec<u64> = (0..5000)
        .map(|_| sim.sim.create_order(NewOrder::default()))
        .collect();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Ponte> = dirs.iter().map(|d| start(d.path(), &storage)).collect();
    let (channel, _) = nodes[0].nuvemshop_channel(&sim, "all").await;
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}/webhooks/{channel}", n.base))
        .collect();

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let acked = AtomicUsize::new(0);
    let killed = AtomicBool::new(false);
    let victim = nodes[1].child.id();
    // Spread over the three; when a node is down, the sender (a load balancer, or the
    // platform retrying) tries the next one.
    let results: Vec<bool> = stream::iter(ids.iter().copied().enumerate())
        .map(|(i, id)| {
            let (http, urls, sim, acked, killed) = (&http, &urls, &sim, &acked, &killed);
            async move {
                for attempt in 0..3 {
                    let url = &urls[(i + attempt) % 3];
                    if sim.notify(http, url, "order/paid", id).await == 200 {
                        if acked.fetch_add(1, Ordering::SeqCst) == 1500
                            && !killed.swap(true, Ordering::SeqCst)
                        {
                            let _ = std::process::Command::new("kill")
                                .args(["-KILL", &victim.to_string()])
                                .status();
                        }
                        return true;
                    }
                }
                false
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(killed.load(Ordering::SeqCst), "a node was killed mid-burst");
    assert!(
        results.iter().all(|ok| *ok),
        "every notification was accepted by some node"
    );
    nodes[1].kill();
    nodes[1] = start(dirs[1].path(), &storage);

    nodes[0].settle(Duration::from_secs(120)).await;
    for n in &nodes {
        assert_eq!(n.metric("ponte_jobs{state=\"running\"}").await, 0.0);
        assert_eq!(n.metric("ponte_jobs{state=\"pending\"}").await, 0.0);
        assert_eq!(n.metric("ponte_jobs{state=\"failed\"}").await, 0.0);
    }
    let orders = nodes[2].all_orders().await;
    assert_eq!(orders.len(), 5000, "exactly the burst's orders");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM timeline WHERE kind = 'imported'")
            .await,
        5000,
        "each imported once"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(DISTINCT external_id) FROM orders")
            .await,
        5000
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM deliveries WHERE state <> 'processed'")
            .await,
        0
    );
    for n in &mut nodes {
        n.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_platform_budget() {
    let storage = Storage::new(Backend::Postgres).await;
    // The store allows a burst of 10 and 20 requests/s; ponte is told 8 and 16/s.
    let sim = Sim::start(ponte_sim::nuvemshop::SimConfig {
        bucket_size: 10,
        leak_per_sec: 20.0,
        ..Default::default()
    })
    .await;
    let ids: Vec<u64> = (0..120)
        .map(|_| sim.sim.create_order(NewOrder::default()))
        .collect();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Ponte> = dirs.iter().map(|d| start(d.path(), &storage)).collect();
    let (channel, _) = nodes[0]
        .nuvemshop_channel_limited(&sim, "all", 16.0, 8.0)
        .await;
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let url = format!("{}/webhooks/{channel}", nodes[i % 3].base);
        assert_eq!(sim.notify(&http, &url, "order/paid", *id).await, 200);
    }
    nodes[0].settle(Duration::from_secs(60)).await;
    let took = started.elapsed();
    assert_eq!(nodes[1].all_orders().await.len(), 120);
    let limited = sim
        .sim
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(
        limited, 0,
        "three instances together stayed within the store's budget"
    );
    // 120 fetches at 16/s after a burst of 8 take at least (120 - 8) / 16 = 7 s.
    assert!(took >= Duration::from_secs(6), "{took:?}");
    for n in &mut nodes {
        n.kill();
    }
}

/// ERP actions posted to three instances at once, one instance killed while sends are in
/// flight: every event reaches the platform, in order per order, none twice unrecorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_send_each_event_in_order() {
    use ponte_sim::nuvemshop::{Fault, FaultKind, Method, PaymentStatus};
    use serde_json::json;
    const N: usize = 90;
    let storage = Storage::new(Backend::Postgres).await;
    let db = storage.pg();
    let sim = Sim::start(Sim::unlimited()).await;
    let ids: Vec<u64> = (0..N)
        .map(|_| {
            sim.sim.create_order(NewOrder {
                payment_status: PaymentStatus::Paid,
                ..NewOrder::default()
            })
        })
        .collect();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Ponte> = dirs.iter().map(|d| start(d.path(), &storage)).collect();
    let (channel, _) = nodes[0].nuvemshop_channel(&sim, "paid_only").await;
    let http = reqwest::Client::new();
    for (i, id) in ids.iter().enumerate() {
        let url = format!("{}/webhooks/{channel}", nodes[i % 3].base);
        assert_eq!(sim.notify(&http, &url, "order/paid", *id).await, 200);
    }
    nodes[0].settle(Duration::from_secs(60)).await;
    let orders = nodes[0].all_orders().await;
    assert_eq!(orders.len(), N);
    // Some platform answers hang, so sends are in flight when a node dies.
    sim.sim.inject(
        Fault::new(
            "/fulfillment-orders/",
            20,
            FaultKind::Delay(Duration::from_secs(2)),
        )
        .with_method(Method::PATCH),
    );
    let actions = [
        ("separation", json!({})),
        (
            "invoice",
            json!({"number": "26", "series": "1", "access_key": "43180906929383000163550010000000261000010301",
                           "issued_at": "2018-09-25T03:00:00Z", "total_cents": 50000}),
        ),
        (
            "shipment",
            json!({"tracking_code": "BR1", "shipped_at": "2026-11-23T12:00:00Z"}),
        ),
    ];
    // Each order's three events through three different instances, orders concurrently.
    let nodes_ref = &nodes;
    let statuses: Vec<u16> = stream::iter(orders.iter().enumerate())
        .map(|(i, o)| {
            let actions = &actions;
            async move {
                let id = o["id"].as_str().unwrap();
                let mut out = vec![];
                for (k, (path, body)) in actions.iter().enumerate() {
                    let node = &nodes_ref[(i + k) % 3];
                    out.push(
                        node.post(&format!("/api/v1/orders/{id}/{path}"), body)
                            .await
                            .0,
                    );
                }
                out
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let victim = nodes[1].child.id();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status();
    nodes[1].kill();
    nodes[1] = start(dirs[1].path(), &storage);

    let start_wait = std::time::Instant::now();
    loop {
        let pending = db
            .scalar("SELECT COUNT(*) FROM status_sends WHERE state <> 'succeeded'")
            .await;
        if pending == 0 {
            break;
        }
        assert!(
            start_wait.elapsed() < Duration::from_secs(90),
            "{pending} sends not done"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM status_sends").await,
        3 * N as i64
    );
    // In order: each send's first attempt began after the previous one's success.
    assert_eq!(
        db.scalar(
            "SELECT COUNT(*) FROM status_sends s JOIN status_sends p \
               ON p.tenant_id = s.tenant_id AND p.order_id = s.order_id AND p.seq = s.seq - 1 \
             WHERE (SELECT MIN(started_at) FROM send_attempts a WHERE a.send_id = s.id) \
                 < (SELECT MAX(started_at) FROM send_attempts a WHERE a.send_id = p.id AND a.outcome = 'succeeded')"
        )
        .await,
        0
    );
    for ext in &ids {
        let fo = sim.sim.fulfillment_order(*ext).unwrap();
        assert_eq!(fo["status"], "DISPATCHED", "{fo}");
        let calls = sim
            .sim
            .request_count(&Method::PATCH, &format!("/orders/{ext}/"));
        let attempts = db
            .scalar(&format!(
                "SELECT COUNT(*) FROM send_attempts a JOIN status_sends s ON s.id = a.send_id \
                 WHERE s.external_id = '{ext}' AND s.kind IN ('separation', 'shipment')"
            ))
            .await;
        assert!(
            calls as i64 <= attempts,
            "order {ext}: {calls} PATCH calls, {attempts} attempts"
        );
        assert_eq!(
            sim.sim.metafields_for(*ext).len(),
            1,
            "one NF-e key metafield"
        );
    }
    for n in &mut nodes {
        n.kill();
    }
}

/// Three instances run one channel's polling every second, with a slow platform (a run
/// outlasts the interval) and one instance SIGKILLed mid-way: each due time starts at
/// most one run, runs of the task never overlap, and every order is imported once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_fire_each_due_run_once() {
    use ponte_sim::faults::{Fault, FaultKind};
    let storage = Storage::new(Backend::Postgres).await;
    let db = storage.pg();
    let sim = Sim::start(Sim::unlimited()).await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let start_node = |dir: &std::path::Path| {
        storage.start_in(
            dir,
            &[
                // Long enough that a heartbeat late on a loaded machine does not lose a
                // live run's lease; short enough that the killed instance's run comes back.
                ("PONTE_JOB_LEASE_SECS", "6"),
                ("PONTE_MIN_TASK_INTERVAL_SECONDS", "1"),
                ("PONTE_DATABASE_MAX_CONNECTIONS", "8"),
            ],
        )
    };
    let mut nodes: Vec<Ponte> = dirs.iter().map(|d| start_node(d.path())).collect();
    let (channel, _) = nodes[0].nuvemshop_channel(&sim, "all").await;
    let ids: Vec<u64> = (0..600)
        .map(|_| sim.sim.create_order(NewOrder::default()))
        .collect();
    // Every listing call takes 400 ms: a run (several calls) outlasts the interval.
    sim.sim.inject(
        Fault::new(
            "/orders",
            1000,
            FaultKind::Delay(Duration::from_millis(400)),
        )
        .with_method(reqwest::Method::GET),
    );
    let list = nodes[0]
        .get(&format!("/api/v1/scheduled-tasks?channel_id={channel}"))
        .await;
    let task = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "import_orders")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = nodes[1]
        .patch(
            &format!("/api/v1/scheduled-tasks/{task}"),
            &serde_json::json!({"interval_seconds": 1}),
        )
        .await;
    assert_eq!(status, 200);
    db.wait_scheduled_successes(1).await;
    nodes[2].kill();
    db.wait_scheduled_successes(3).await;
    let (status, _) = nodes[0]
        .patch(
            &format!("/api/v1/scheduled-tasks/{task}"),
            &serde_json::json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200);
    common::wait_for(Duration::from_secs(60), || async {
        db.scalar("SELECT COUNT(*) FROM task_runs WHERE state IN ('queued', 'running')")
            .await
            == 0
    })
    .await;
    let overlapping = db
        .scalar(
            "SELECT COUNT(*) FROM task_runs a JOIN task_runs b ON a.task_id = b.task_id AND a.id < b.id \
             AND a.started_at < b.finished_at AND b.started_at < a.finished_at",
        )
        .await;
    assert_eq!(overlapping, 0, "runs of one task never overlap");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM orders").await,
        ids.len() as i64
    );
    assert_eq!(
        db.scalar("SELECT COUNT(DISTINCT external_id) FROM orders")
            .await,
        ids.len() as i64
    );
    for n in &mut nodes {
        n.kill();
    }
}

/// Two instances on PostgreSQL take stock movements and orders for the same SKUs at
/// once; the platform ends up showing exactly ponte's balances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_keep_stock_exact() {
    use ponte_sim::nuvemshop::{NewLine, PaymentStatus};
    use serde_json::json;
    let storage = Storage::new(Backend::Postgres).await;
    let db = storage.pg();
    let sim = Sim::start(Sim::unlimited()).await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes: Vec<Ponte> = dirs.iter().map(|d| start(d.path(), &storage)).collect();
    let (s, _) = nodes[0]
        .post("/api/v1/warehouses", &json!({"code": "SP", "name": "SP"}))
        .await;
    assert_eq!(s, 201);
    let catalogue = sim.sim.add_catalogue(20, 5);
    for (_, _, sku) in &catalogue {
        let (s, _) = nodes[1]
            .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
            .await;
        assert_eq!(s, 201);
    }
    let (status, ch) = nodes[0]
        .post(
            "/api/v1/channels",
            &json!({
                "platform": "nuvemshop", "name": "Loja",
                "settings": {"store_id": sim.sim.config().store_id.to_string(), "api_base_url": sim.base_url,
                             "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6,
                             "send_stock": true, "stock_warehouses": ["SP"], "debit_warehouse": "SP"},
                "credentials": {"access_token": sim.sim.config().access_token, "app_secret": sim.sim.config().app_secret}
            }),
        )
        .await;
    assert_eq!(status, 201, "{ch}");
    let channel = ch["id"].as_str().unwrap().to_owned();
    let url = ch["webhook_url"].as_str().unwrap().to_owned();
    let listings: Vec<_> = catalogue
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p.to_string(), "variant_id": v.to_string()}))
        .collect();
    let (s, _) = nodes[0]
        .post(
            &format!("/api/v1/channels/{channel}/listings"),
            &json!({ "listings": listings }),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = nodes[0]
        .post(
            "/api/v1/stock/movements",
            &json!({"movements": catalogue.iter().map(|(_, _, sku)| json!({"sku": sku, "warehouse": "SP", "set": 100})).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(s, 201);
    // Both instances at once: +1 movements on every SKU, and orders for 2 units of
    // the first 20 SKUs.
    let mut orders = vec![];
    for (p, v, sku) in catalogue.iter().take(20) {
        orders.push(sim.sim.create_order(NewOrder {
            payment_status: PaymentStatus::Paid,
            lines: vec![NewLine {
                variant_id: Some(*v),
                product_id: Some(*p),
                quantity: 2,
                price_cents: Some(1000),
                name: None,
                sku: Some(sku.clone()),
            }],
            ..NewOrder::default()
        }));
    }
    let http = reqwest::Client::new();
    let moves = futures::future::join_all((0..10).map(|i| {
        let node = &nodes[i % 2];
        let rows: Vec<_> = catalogue
            .iter()
            .map(|(_, _, sku)| json!({"sku": sku, "warehouse": "SP", "delta": 1}))
            .collect();
        async move {
            node.post("/api/v1/stock/movements", &json!({ "movements": rows }))
                .await
                .0
        }
    }));
    let notes = futures::future::join_all(orders.iter().enumerate().map(|(i, o)| {
        let url = url.replace(&nodes[0].base, &nodes[i % 2].base);
        let (sim, http) = (&sim, &http);
        async move { sim.notify(http, &url, "order/paid", *o).await }
    }));
    let (moved, notified) = tokio::join!(moves, notes);
    assert!(moved.iter().all(|s| *s == 201), "{moved:?}");
    assert!(notified.iter().all(|s| *s == 200), "{notified:?}");
    nodes[0].settle(Duration::from_secs(60)).await;
    common::wait_for(Duration::from_secs(60), || async {
        nodes[1]
            .get(&format!("/api/v1/channels/{channel}/stock"))
            .await["pending"]
            == 0
    })
    .await;
    for (i, (p, v, sku)) in catalogue.iter().enumerate() {
        let want = if i < 20 { 108 } else { 110 };
        let st = nodes[i % 2].get(&format!("/api/v1/stock/{sku}")).await;
        assert_eq!(st["available"], want, "{st}");
        assert_eq!(sim.sim.variant_stock(*p, *v), Some(want), "variant {v}");
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM stock_ledger WHERE kind = 'delta'")
            .await,
        1000
    );
}
