//! Americanas (SkyHub) end to end (real binary, simulated store): the order queue is
//! drained by the scheduled import and each order deleted only after it is stored; a
//! crash between store and delete (failed DELETEs) re-imports nothing twice; an order
//! changed while queued arrives in its newest state; every status send; stock pushes;
//! refused credentials hold the channel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/vtex.rs"]
mod vtex_harness;

use common::{Backend, Ponte, Storage};
use ponte_sim::americanas::{
    AmConfig, AmSim, Fault, FaultKind, Method, NewAmItem, NewAmOrder, ServerHandle,
};
use serde_json::{json, Value};
use std::time::Duration;
use vtex_harness::{imported, orders_of, run_now, settled_sends, start_public, task, until};

const KEY: &str = "43180906929383000163550010000000261000010301";
const WAIT: Duration = Duration::from_secs(30);

struct Am {
    sim: AmSim,
    server: ServerHandle,
}

impl Am {
    async fn start() -> Am {
        let sim = AmSim::new(AmConfig {
            queue_return: Duration::from_millis(1500),
            ..AmConfig::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        Am { sim, server }
    }

    /// Creates the channel (the default 9/s budget) with `more` settings.
    async fn channel_with(&self, p: &Ponte, more: Value, api_key: &str) -> String {
        let cfg = self.sim.config();
        let mut settings = json!({"api_base_url": self.server.base_url(), "import_policy": "all"});
        for (k, v) in more.as_object().unwrap() {
            settings[k] = v.clone();
        }
        let (s, ch) = p
            .post(
                "/api/v1/channels",
                &json!({
                    "platform": "americanas",
                    "name": "Americanas",
                    "settings": settings,
                    "credentials": {"user_email": cfg.user_email, "api_key": api_key,
                                    "account_manager_key": cfg.account_manager_key},
                }),
            )
            .await;
        assert_eq!(s, 201, "{ch}");
        ch["id"].as_str().unwrap().to_owned()
    }

    async fn channel(&self, p: &Ponte, more: Value) -> String {
        let key = self.sim.config().api_key.clone();
        self.channel_with(p, more, &key).await
    }
}

fn order(status: &str, sku: &str) -> NewAmOrder {
    NewAmOrder {
        items: vec![NewAmItem {
            sku: sku.into(),
            product_id: None,
            name: "Produto".into(),
            qty: 1,
            price_cents: 47_610,
        }],
        status: status.into(),
        shipping_cost_cents: 2_390,
        ..NewAmOrder::default()
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn start_on(storage: &Storage) -> Ponte {
    let env = storage.env();
    let all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_public(storage.dir.path(), &all)
}

async fn queue(backend: Backend) {
    let storage = Storage::new(backend).await;
    let p = start_on(&storage);
    let am = Am::start().await;
    let ch = am.channel(&p, json!({})).await;
    let import = id_of(&task(&p, &ch, "import_orders").await);

    // More orders than one lot: one run drains the queue, deleting each once stored.
    let codes: Vec<String> = (0..20)
        .map(|_| am.sim.create_order(order("payment_received", "SKU-1")))
        .collect();
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["created"], 20, "{run}");
    assert_eq!(
        run["counts"]["gaps"], 0,
        "no webhooks exist: polling is no gap"
    );
    assert_eq!(am.sim.queue_len(), 0, "every order deleted");
    let o = imported(&p, &codes[0], WAIT).await;
    assert_eq!(o["status"], "approved", "{o}");
    let full = p.get(&format!("/api/v1/orders/{}", id_of(&o))).await;
    assert_eq!(full["totals"]["total_cents"], 50_000, "{full}");
    assert_eq!(
        full["customer"]["document"]["normalized"], "78732371683",
        "{full}"
    );

    // A crash between store and delete: every DELETE fails, the orders stay queued.
    let crashed: Vec<String> = (0..3)
        .map(|_| am.sim.create_order(order("payment_received", "SKU-1")))
        .collect();
    am.sim.inject(
        Fault::new("/queues/orders/", 3, FaultKind::Status(500)).with_method(Method::DELETE),
    );
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["created"], 3, "{run}");
    assert_eq!(am.sim.queue_len(), 3, "not deleted");
    // They come back after the return delay: imported again, changing nothing.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["created"], 0, "{run}");
    assert_eq!(run["counts"]["unchanged"], 3, "{run}");
    assert_eq!(am.sim.queue_len(), 0);
    for c in &crashed {
        assert_eq!(orders_of(&p, c).await.len(), 1, "{c}");
    }

    // Changed while queued: one entry, the newest state.
    let a = am.sim.create_order(order("book_product", "SKU-1"));
    am.sim.set_status(&a, "payment_received").unwrap();
    let run = run_now(&p, &import).await;
    assert_eq!(run["counts"]["created"], 1, "{run}");
    assert_eq!(imported(&p, &a, WAIT).await["status"], "approved");
    // A later change comes the same way, to the same order.
    am.sim.set_status(&a, "order_canceled").unwrap();
    let run = run_now(&p, &import).await;
    assert_eq!(run["counts"]["updated"], 1, "{run}");
    assert_eq!(imported(&p, &a, WAIT).await["status"], "cancelled");
    assert_eq!(p.all_orders().await.len(), 24, "no duplicates");
    assert_eq!(
        am.sim.requests().iter().filter(|r| r.status == 429).count(),
        0,
        "the channel budget kept the queue within its limit"
    );

    // A manual sync reads the history from the listing.
    let (status, run) = p
        .post(
            &format!("/api/v1/channels/{ch}/sync"),
            &json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let done = until(WAIT, "sync finished", || async {
        let r = p.get(&format!("/api/v1/task-runs/{run_id}")).await;
        (r["state"] == "succeeded" || r["state"] == "failed").then_some(r)
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["counts"]["created"], 0, "{done}");
    assert_eq!(p.all_orders().await.len(), 24);
    am.server.shutdown().await;
}

async fn sends(backend: Backend) {
    let storage = Storage::new(backend).await;
    let p = start_on(&storage);
    let am = Am::start().await;
    let ch = am.channel(&p, json!({})).await;
    let import = id_of(&task(&p, &ch, "import_orders").await);
    let code = am.sim.create_order(order("payment_received", "SKU-7"));
    let other = am.sim.create_order(order("payment_received", "SKU-7"));
    run_now(&p, &import).await;
    let oid = id_of(&imported(&p, &code, WAIT).await);
    for (path, body) in [
        (
            "invoice",
            json!({"number": "26", "series": "1", "access_key": KEY,
                   "issued_at": "2018-09-25T03:00:00Z", "total_cents": 50000}),
        ),
        (
            "shipment",
            json!({"tracking_code": "AA123456789BR", "carrier": "Correios",
                   "tracking_url": "https://rastreamento.correios.com.br/?o=AA123456789BR",
                   "shipped_at": "2026-11-23T12:00:00Z"}),
        ),
        (
            "shipment-exception",
            json!({"observation": "Destinatário ausente", "occurred_at": "2026-11-23T18:00:00Z"}),
        ),
        ("delivery", json!({"delivered_at": "2026-11-24T10:00:00Z"})),
    ] {
        let (s, b) = p.post(&format!("/api/v1/orders/{oid}/{path}"), &body).await;
        assert_eq!(s, 200, "{b}");
    }
    let sent = settled_sends(&p, &oid, 4).await;
    assert!(sent.iter().all(|s| s["state"] == "succeeded"), "{sent:?}");
    assert_eq!(
        am.sim.exceptions_of(&code),
        [
            json!({"occurrence_date": "2026-11-23T15:00:00-03:00", "observation": "Destinatário ausente"})
        ]
    );
    let o = am.sim.order(&code).unwrap();
    assert_eq!(o["status"]["code"], "complete", "{o}");
    assert_eq!(o["invoices"][0]["key"], KEY);
    assert_eq!(
        o["shipments"][0]["items"],
        json!([{"sku": "SKU-7", "qty": 1}])
    );
    assert_eq!(o["shipments"][0]["track"]["carrier"], "Correios");

    let oid2 = id_of(&imported(&p, &other, WAIT).await);
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid2}/cancel"),
            &json!({"reason": "customer"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let sent = settled_sends(&p, &oid2, 1).await;
    assert_eq!(sent[0]["state"], "succeeded", "{sent:?}");
    assert_eq!(am.sim.status_of(&other).as_deref(), Some("order_canceled"));
    am.server.shutdown().await;
}

both_backends!(queue, sends);

/// Two instances share one PostgreSQL and send shipments at once, each reading its
/// orders first (`GET /orders/{code}`, documented at 1/s): the endpoint's budget is
/// counted across both, so the platform never answers 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_orders_read_limit() {
    let storage = Storage::new(Backend::Postgres).await;
    let a = start_on(&storage);
    let dir_b = tempfile::tempdir().unwrap();
    let b = storage.start_in(dir_b.path(), &[]);
    let am = Am::start().await;
    let ch = am.channel(&a, json!({})).await;
    let import = id_of(&task(&a, &ch, "import_orders").await);
    let codes: Vec<String> = (0..6)
        .map(|_| am.sim.create_order(order("order_invoiced", "SKU-1")))
        .collect();
    run_now(&a, &import).await;
    let mut orders = vec![];
    for (i, code) in codes.iter().enumerate() {
        let oid = id_of(&imported(&a, code, WAIT).await);
        // Half the actions to each instance: each wakes its own senders.
        let p = if i % 2 == 0 { &a } else { &b };
        let (s, body) = p
            .post(
                &format!("/api/v1/orders/{oid}/shipment"),
                &json!({"tracking_code": format!("AA{i:09}BR"), "carrier": "Correios",
                        "shipped_at": "2026-11-23T12:00:00Z"}),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        orders.push(oid);
    }
    for oid in &orders {
        let sent = settled_sends(&a, oid, 1).await;
        assert_eq!(sent[0]["state"], "succeeded", "{sent:?}");
    }
    let reads: Vec<_> = am
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == Method::GET && r.path.starts_with("/orders"))
        .collect();
    assert!(reads.len() >= codes.len(), "{reads:?}");
    assert!(
        reads.iter().all(|r| r.status != 429),
        "two instances kept to 1/s: {reads:?}"
    );
    am.server.shutdown().await;
}

/// A status the platform refuses (422: the marketplace cancelled the order before the
/// NF-e came) fails at once with the platform's message, without retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_transition_fails_with_the_platforms_message() {
    let storage = Storage::new(Backend::Sqlite).await;
    let p = start_on(&storage);
    let am = Am::start().await;
    let ch = am.channel(&p, json!({})).await;
    let import = id_of(&task(&p, &ch, "import_orders").await);
    let code = am.sim.create_order(order("payment_received", "SKU-1"));
    run_now(&p, &import).await;
    let oid = id_of(&imported(&p, &code, WAIT).await);
    am.sim.set_status(&code, "order_canceled").unwrap();
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/invoice"),
            &json!({"number": "26", "series": "1", "access_key": KEY,
                    "issued_at": "2018-09-25T03:00:00Z", "total_cents": 50000}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let sent = settled_sends(&p, &oid, 1).await;
    assert_eq!(sent[0]["state"], "failed", "{sent:?}");
    assert_eq!(sent[0]["attempts"].as_array().unwrap().len(), 1, "{sent:?}");
    assert!(sent[0].to_string().contains("cannot move"), "{sent:?}");
    am.server.shutdown().await;
}

/// Wrong keys: the import is refused (401) and the channel shows its credentials
/// problem until they are replaced.
async fn bad_credentials_are_held_and_shown(backend: Backend) {
    let storage = Storage::new(backend).await;
    let p = start_on(&storage);
    let am = Am::start().await;
    let ch = am.channel_with(&p, json!({}), "wrong-key").await;
    let import = id_of(&task(&p, &ch, "import_orders").await);
    am.sim.create_order(order("payment_received", "SKU-1"));
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "failed", "{run}");
    let problem = until(WAIT, "the refusal shown", || async {
        let c = p.get(&format!("/api/v1/channels/{ch}")).await;
        let pr = c["credentials_problem"].clone();
        (!pr.is_null()).then_some(pr)
    })
    .await;
    assert!(problem.to_string().contains("401"), "{problem}");
    let cfg = am.sim.config();
    let (s, b) = p
        .patch(
            &format!("/api/v1/channels/{ch}"),
            &json!({"credentials": {"user_email": cfg.user_email, "api_key": cfg.api_key,
                                    "account_manager_key": cfg.account_manager_key}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(p.get(&format!("/api/v1/channels/{ch}")).await["credentials_problem"].is_null());
    let run = run_now(&p, &import).await;
    assert_eq!(run["counts"]["created"], 1, "{run}");
    am.server.shutdown().await;
}

/// Stock and prices go out one call per SKU: products and a variation by its own SKU.
async fn stock_reaches_products_and_variations(backend: Backend) {
    let storage = Storage::new(backend).await;
    let p = start_on(&storage);
    let am = Am::start().await;
    let (s, b) = p
        .post("/api/v1/warehouses", &json!({"code": "SP", "name": "SP"}))
        .await;
    assert_eq!(s, 201, "{b}");
    for sku in ["SKU-1", "SKU-2"] {
        let (s, b) = p
            .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
            .await;
        assert_eq!(s, 201, "{b}");
    }
    am.sim.add_product("SKU-1", 0);
    am.sim.add_variation("P2-AZUL", 0);
    let ch = am
        .channel(
            &p,
            json!({"send_stock": true, "stock_warehouses": ["SP"], "debit_warehouse": "SP",
                   "send_prices": true}),
        )
        .await;
    // One channel per account: a second would consume the first one's queue.
    let cfg = am.sim.config();
    let (s, b) = p
        .post(
            "/api/v1/channels",
            &json!({"platform": "americanas", "name": "again",
                    "settings": {"api_base_url": am.server.base_url()},
                    "credentials": {"user_email": cfg.user_email, "api_key": cfg.api_key,
                                    "account_manager_key": cfg.account_manager_key}}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["code"], "credentials_in_use", "{b}");
    let listings = json!({"listings": [
        {"sku": "SKU-1", "product_id": "SKU-1", "variant_id": "SKU-1"},
        {"sku": "SKU-2", "product_id": "P2", "variant_id": "P2-AZUL"},
    ]});
    let (s, b) = p
        .post(&format!("/api/v1/channels/{ch}/listings"), &listings)
        .await;
    assert_eq!(s, 200, "{b}");
    let rows = json!({"movements": [
        {"sku": "SKU-1", "warehouse": "SP", "set": 9},
        {"sku": "SKU-2", "warehouse": "SP", "set": 4},
    ]});
    let (s, b) = p.post("/api/v1/stock/movements", &rows).await;
    assert_eq!(s, 201, "{b}");
    until(WAIT, "stock pushed", || async {
        let s = p.get(&format!("/api/v1/channels/{ch}/stock")).await;
        (s["pending"] == 0).then_some(())
    })
    .await;
    assert_eq!(am.sim.product_qty("SKU-1"), Some(9));
    assert_eq!(am.sim.variation_qty("P2-AZUL"), Some(4));

    // Prices the same way: the promotion in force, else the regular price twice.
    let rows = json!({"prices": [
        {"sku": "SKU-1", "price_cents": 19_990, "promotional_price_cents": 17_990,
         "promotional_from": "2020-01-01T00:00:00Z", "promotional_until": "2999-01-01T00:00:00Z"},
        {"sku": "SKU-2", "price_cents": 5_000},
    ]});
    let (s, b) = p.post("/api/v1/prices", &rows).await;
    assert!(s == 200 || s == 201, "{s} {b}");
    for sku in ["SKU-1", "SKU-2"] {
        until(WAIT, "price pushed", || async {
            let v = p.get(&format!("/api/v1/prices/{sku}")).await;
            (v["channels"][0]["state"] == "pushed").then_some(())
        })
        .await;
    }
    assert_eq!(
        am.sim.price_of("products/SKU-1"),
        Some(json!({"price": 199.9, "promotional_price": 179.9}))
    );
    assert_eq!(
        am.sim.price_of("variations/P2-AZUL"),
        Some(json!({"price": 50.0, "promotional_price": 50.0}))
    );
    am.server.shutdown().await;
}

both_backends!(
    bad_credentials_are_held_and_shown,
    stock_reaches_products_and_variations
);
