//! Retention end to end (real binary, SQLite and PostgreSQL): records made by real
//! traffic, then aged 100 days in the database while ponte is stopped; the restarted
//! ponte's sweep deletes the old raw deliveries, succeeded sends' attempts, task runs
//! and stock pushes, and keeps the recent ones, a delivery still waiting for its
//! import, a failed send's attempts, each task's latest run, orders, their timelines
//! and the stock balances.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{wait_for, Backend, Ponte, Sim, Storage};
use ponte_sim::faults::{Fault, FaultKind};
use ponte_sim::nuvemshop::{Method, NewOrder, PaymentStatus};
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::Duration;

/// Moves every record older than `mark` 100 days into the past (ponte stopped).
async fn age_before(storage: &Storage, mark: chrono::DateTime<chrono::Utc>) {
    match &storage.db {
        None => {
            let url = format!("sqlite://{}", storage.dir.path().join("ponte.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let (d, m) = (100 * 86_400 * 1_000_000i64, mark.timestamp_micros());
            for sql in [
                "UPDATE deliveries SET received_at = received_at - ?1 WHERE received_at < ?2",
                "UPDATE status_sends SET created_at = created_at - ?1, updated_at = updated_at - ?1 \
                 WHERE updated_at < ?2",
                "UPDATE send_attempts SET started_at = started_at - ?1 WHERE started_at < ?2",
                "UPDATE task_runs SET created_at = created_at - ?1, started_at = started_at - ?1, \
                 finished_at = finished_at - ?1 WHERE finished_at < ?2",
                "UPDATE stock_pushes SET at = at - ?1 WHERE at < ?2",
            ] {
                sqlx::query(sql)
                    .bind(d)
                    .bind(m)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            conn.close().await.unwrap();
        }
        Some(db) => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            for sql in [
                "UPDATE deliveries SET received_at = received_at - interval '100 days' WHERE received_at < $1",
                "UPDATE status_sends SET created_at = created_at - interval '100 days', \
                 updated_at = updated_at - interval '100 days' WHERE updated_at < $1",
                "UPDATE send_attempts SET started_at = started_at - interval '100 days' WHERE started_at < $1",
                "UPDATE task_runs SET created_at = created_at - interval '100 days', \
                 started_at = started_at - interval '100 days', \
                 finished_at = finished_at - interval '100 days' WHERE finished_at < $1",
                "UPDATE stock_pushes SET at = at - interval '100 days' WHERE at < $1",
            ] {
                sqlx::query(sql).bind(mark).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
        }
    }
}

fn start(storage: &Storage, sweep_secs: &str) -> Ponte {
    storage.start(&[
        ("PONTE_RETENTION_SWEEP_SECS", sweep_secs),
        // A failed order fetch is retried a minute later: its delivery stays `received`.
        ("PONTE_IMPORT_RETRY_BASE_MS", "60000"),
    ])
}

async fn sends_of(p: &Ponte, order: &str) -> Vec<Value> {
    let page = p
        .get(&format!("/api/v1/status-sends?order_id={order}"))
        .await;
    page["items"].as_array().unwrap().clone()
}

/// Posts an action and waits until its send is out of `pending`.
async fn action(p: &Ponte, order: &str, kind: &str, body: Value) {
    let (s, b) = p
        .post(&format!("/api/v1/orders/{order}/{kind}"), &body)
        .await;
    assert_eq!(s, 200, "{b}");
    wait_for(Duration::from_secs(20), || async {
        let sends = sends_of(p, order).await;
        !sends.is_empty() && sends.iter().all(|s| s["state"] != "pending")
    })
    .await;
}

async fn run_to_end(p: &Ponte, task: &str) -> String {
    let (s, run) = p
        .post(&format!("/api/v1/scheduled-tasks/{task}/run"), &json!({}))
        .await;
    assert_eq!(s, 202, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    wait_for(Duration::from_secs(30), || async {
        let r = p.get(&format!("/api/v1/task-runs/{id}")).await;
        r["state"] == "succeeded" || r["state"] == "failed"
    })
    .await;
    id
}

/// Sets the SKU's stock and waits until the channel is told.
async fn movement(p: &Ponte, sku: &str, set: i64, ch: &str) {
    let (s, r) = p
        .post(
            "/api/v1/stock/movements",
            &json!({"movements": [{"sku": sku, "warehouse": "SP", "set": set}]}),
        )
        .await;
    assert!(s == 200 || s == 201, "{r}");
    wait_for(Duration::from_secs(20), || async {
        let s = p.get(&format!("/api/v1/channels/{ch}/stock")).await;
        s["pending"] == 0 && s["pushed"] == 1
    })
    .await;
}

fn ids(v: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = v
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

async fn items(p: &Ponte, path: &str) -> Vec<Value> {
    p.get(path).await["items"].as_array().unwrap().clone()
}

both_backends!(old_records_go_and_needed_ones_stay);

async fn old_records_go_and_needed_ones_stay(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let paid = || NewOrder {
        payment_status: PaymentStatus::Paid,
        ..NewOrder::default()
    };
    let [o1, o2] = [(); 2].map(|_| sim.sim.create_order(paid()));
    let mut p = start(&storage, "0");

    // A stock channel with one listed SKU.
    let (s, w) = p
        .post("/api/v1/warehouses", &json!({"code": "SP", "name": "SP"}))
        .await;
    assert_eq!(s, 201, "{w}");
    let (pid, vid, sku) = sim
        .sim
        .variant_skus()
        .into_iter()
        .find_map(|(p, v, s)| s.map(|s| (p, v, s)))
        .unwrap();
    let (s, b) = p
        .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, ch) = p
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
    assert_eq!(s, 201, "{ch}");
    let (ch, url) = (
        ch["id"].as_str().unwrap().to_owned(),
        ch["webhook_url"].as_str().unwrap().to_owned(),
    );
    let (s, l) = p
        .post(
            &format!("/api/v1/channels/{ch}/listings"),
            &json!({"listings": [{"sku": sku, "product_id": pid.to_string(), "variant_id": vid.to_string()}]}),
        )
        .await;
    assert_eq!(s, 200, "{l}");

    // Old records: pushes, two imported orders, a succeeded and a failed send, runs.
    movement(&p, &sku, 10, &ch).await;
    let order1 = p.imported(&sim, &url, o1).await;
    action(&p, &order1, "separation", json!({"kind": "separation"})).await;
    let order2 = p.imported(&sim, &url, o2).await;
    let no_code = json!({"tracking_code": null, "shipped_at": "2026-11-23T12:00:00Z"});
    action(&p, &order2, "shipment", no_code).await;
    let import_task = common::task(&p, &ch, "import_orders").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh_task = common::task(&p, &ch, "refresh_payment_status").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_to_end(&p, &import_task).await;
    let last_import = run_to_end(&p, &import_task).await;
    run_to_end(&p, &refresh_task).await;
    p.settle(Duration::from_secs(30)).await;
    // Orders the polling runs above did not see.
    let [o3, waiting] = [(); 2].map(|_| sim.sim.create_order(paid()));
    let (o3_ext, waiting_ext) = (o3.to_string(), waiting.to_string());
    // A delivery whose order the platform fails to give: still `received`.
    sim.sim.inject(
        Fault::new(format!("/orders/{waiting}"), 1000, FaultKind::Status(503))
            .with_method(Method::GET),
    );
    assert_eq!(sim.notify(&p.http, &url, "order/paid", waiting).await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let timeline1 = p.get(&format!("/api/v1/orders/{order1}")).await["timeline"].clone();
    let pushes_path = format!("/api/v1/stock/pushes?channel_id={ch}&limit=100");
    let old_pushes = items(&p, &pushes_path).await.len();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mark = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Recent records.
    movement(&p, &sku, 11, &ch).await;
    let order3 = p.imported(&sim, &url, o3).await;
    action(&p, &order3, "separation", json!({"kind": "separation"})).await;
    let recent_refresh = run_to_end(&p, &refresh_task).await;
    wait_for(Duration::from_secs(20), || async {
        p.get(&format!("/api/v1/channels/{ch}/stock")).await["pending"] == 0
    })
    .await;
    let all_pushes = items(&p, &pushes_path).await.len();
    let deliveries = items(&p, "/api/v1/webhook-deliveries?limit=100").await;
    assert_eq!(deliveries.len(), 4, "{deliveries:?}");
    let kept: Vec<Value> = deliveries
        .iter()
        .filter(|d| d["resource_id"] == waiting_ext.as_str() || d["resource_id"] == o3_ext.as_str())
        .cloned()
        .collect();
    p.terminate();

    age_before(&storage, mark).await;
    let p = start(&storage, "1");
    let recent_pushes = all_pushes - old_pushes;
    wait_for(Duration::from_secs(30), || async {
        items(&p, "/api/v1/webhook-deliveries?limit=100")
            .await
            .len()
            == 2
            && items(
                &p,
                &format!("/api/v1/stock/pushes?channel_id={ch}&limit=100"),
            )
            .await
            .len()
                == recent_pushes
            && items(&p, &format!("/api/v1/scheduled-tasks/{refresh_task}/runs"))
                .await
                .len()
                == 1
    })
    .await;
    // Two more sweeps change nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let left = items(&p, "/api/v1/webhook-deliveries?limit=100").await;
    assert_eq!(
        ids(&left),
        ids(&kept),
        "the waiting and the recent delivery"
    );
    assert!(left
        .iter()
        .any(|d| d["resource_id"] == waiting_ext.as_str() && d["state"] == "received"));
    let s1 = sends_of(&p, &order1).await;
    assert_eq!(
        (
            s1[0]["state"].as_str(),
            s1[0]["attempts"].as_array().unwrap().len()
        ),
        (Some("succeeded"), 0),
        "an old succeeded send keeps its state, not its attempts"
    );
    let s2 = sends_of(&p, &order2).await;
    assert_eq!(
        (
            s2[0]["state"].as_str(),
            s2[0]["attempts"].as_array().unwrap().len()
        ),
        (Some("failed"), 1),
        "a failed send (the Errors list) keeps its attempts"
    );
    assert_eq!(
        sends_of(&p, &order3).await[0]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let runs = items(&p, &format!("/api/v1/scheduled-tasks/{import_task}/runs")).await;
    assert_eq!(
        ids(&runs),
        std::slice::from_ref(&last_import),
        "a task's latest run stays"
    );
    let import = p
        .get(&format!("/api/v1/scheduled-tasks/{import_task}"))
        .await;
    assert_eq!(import["last_run"]["id"], last_import);
    let runs = items(&p, &format!("/api/v1/scheduled-tasks/{refresh_task}/runs")).await;
    assert_eq!(ids(&runs), [recent_refresh]);
    let pushes = items(
        &p,
        &format!("/api/v1/stock/pushes?channel_id={ch}&limit=100"),
    )
    .await;
    assert_eq!(pushes.len(), recent_pushes, "{pushes:?}");

    // Orders, timelines and stock stay.
    assert_eq!(p.all_orders().await.len(), 3);
    let timeline = p.get(&format!("/api/v1/orders/{order1}")).await["timeline"].clone();
    let kinds = |t: &Value| -> Vec<String> {
        t.as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(kinds(&timeline), kinds(&timeline1), "{timeline}");
    assert_eq!(timeline[0]["detail"], timeline1[0]["detail"]);
    assert!(kinds(&timeline).contains(&"status_send_attempt".to_owned()));
    let stock = p.get(&format!("/api/v1/stock/{sku}")).await;
    assert!(stock.to_string().contains("\"physical\":11"), "{stock}");
    assert!(
        p.metric("ponte_retention_deleted_total{record=\"deliveries\"}")
            .await
            >= 2.0
    );
}
