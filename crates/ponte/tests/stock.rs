//! Stock end to end (real binary, simulated Nuvemshop): stock set, order imported,
//! cancelled, invoiced, adjusted — the simulator shows the right stock for every
//! variant at each step; unknown SKUs are flagged; 20,000 changes over 2,000 SKUs cost
//! the coalesced minimum of calls. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{wait_for, Backend, Ponte, Sim, Storage};
use futures::stream::{self, StreamExt};
use ponte_sim::nuvemshop::{Method, NewLine, NewOrder, PaymentStatus};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const KEY: &str = "43180906929383000163550010000000261000010301";

async fn stock_channel(ponte: &Ponte, sim: &Sim, buffer: i64) -> (String, String) {
    let (status, ch) = ponte
        .post(
            "/api/v1/channels",
            &json!({
                "platform": "nuvemshop",
                "name": "Loja",
                "settings": {"store_id": sim.sim.config().store_id.to_string(), "api_base_url": sim.base_url,
                             "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6,
                             "send_stock": true, "stock_warehouses": ["SP", "RJ"], "debit_warehouse": "SP",
                             "stock_buffer": buffer},
                "credentials": {"access_token": sim.sim.config().access_token, "app_secret": sim.sim.config().app_secret}
            }),
        )
        .await;
    assert_eq!(status, 201, "{ch}");
    (
        ch["id"].as_str().unwrap().to_owned(),
        ch["webhook_url"].as_str().unwrap().to_owned(),
    )
}

async fn warehouses(ponte: &Ponte) {
    for code in ["SP", "RJ"] {
        let (s, w) = ponte
            .post("/api/v1/warehouses", &json!({"code": code, "name": code}))
            .await;
        assert_eq!(s, 201, "{w}");
    }
}

/// Waits until every channel value is pushed, then checks the simulator shows `want`.
async fn assert_sim_shows(ponte: &Ponte, sim: &Sim, ch: &str, want: &HashMap<(u64, u64), i64>) {
    wait_for(Duration::from_secs(30), || async {
        let s = ponte.get(&format!("/api/v1/channels/{ch}/stock")).await;
        s["pending"] == 0
    })
    .await;
    for ((p, v), n) in want {
        assert_eq!(sim.sim.variant_stock(*p, *v), Some(*n), "variant {v}");
    }
}

both_backends!(
    the_platform_shows_the_right_stock_at_each_step,
    twenty_thousand_changes_cost_the_coalesced_minimum
);

async fn the_platform_shows_the_right_stock_at_each_step(backend: Backend) {
    let sim = Sim::start(Sim::unlimited()).await;
    let storage = Storage::new(backend).await;
    let ponte = storage.start(&[]);
    warehouses(&ponte).await;
    // Three variants of the simulator's catalogue become products.
    let variants: Vec<(u64, u64, String)> = sim
        .sim
        .variant_skus()
        .into_iter()
        .filter_map(|(p, v, s)| s.map(|s| (p, v, s)))
        .take(4)
        .collect();
    // The fourth stays unknown to ponte (its order lines are unmapped).
    let other = variants[3].clone();
    let variants = &variants[..3];
    for (_, _, sku) in variants {
        let (s, p) = ponte
            .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
            .await;
        assert_eq!(s, 201, "{p}");
    }
    let (s, e) = ponte
        .post(
            "/api/v1/products",
            &json!({"sku": &variants[0].2, "name": "dup"}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("sku_exists")));
    let (s, e) = ponte
        .post(
            "/api/v1/products",
            &json!({"sku": "X1", "name": "x", "ean": "7891000315508"}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (422, Some("invalid_gtin")));

    let (ch, url) = stock_channel(&ponte, &sim, 0).await;
    let listings: Vec<Value> = variants
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p.to_string(), "variant_id": v.to_string()}))
        .collect();
    let (s, l) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/listings"),
            &json!({ "listings": listings }),
        )
        .await;
    assert_eq!(s, 200, "{l}");

    // 1. Stock set: SP 10 each, RJ 5 for the first.
    let mut rows: Vec<Value> = variants
        .iter()
        .map(
            |(_, _, sku)| json!({"sku": sku, "warehouse": "SP", "set": 10, "reason": "inventário"}),
        )
        .collect();
    rows.push(json!({"sku": &variants[0].2, "warehouse": "RJ", "set": 5}));
    let (s, r) = ponte
        .post("/api/v1/stock/movements", &json!({ "movements": rows }))
        .await;
    assert_eq!((s, r["recorded"].as_u64()), (201, Some(4)), "{r}");
    let key = |i: usize| (variants[i].0, variants[i].1);
    let mut want: HashMap<(u64, u64), i64> = [(key(0), 15), (key(1), 10), (key(2), 10)]
        .into_iter()
        .collect();
    assert_sim_shows(&ponte, &sim, &ch, &want).await;

    // Refusals change nothing.
    let (s, e) = ponte
        .post(
            "/api/v1/stock/movements",
            &json!({"movements": [{"sku": &variants[0].2, "warehouse": "SP", "set": 1}, {"sku": "NOPE", "warehouse": "SP", "delta": 1}]}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (422, Some("unknown_sku")), "{e}");
    let (s, e) = ponte
        .post(
            "/api/v1/stock/movements",
            &json!({"sku": &variants[0].2, "warehouse": "MG", "delta": 1}),
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (422, Some("unknown_warehouse")),
        "{e}"
    );
    let (s, _) = ponte
        .post(
            "/api/v1/stock/movements",
            &json!({"sku": &variants[0].2, "warehouse": "SP", "set": 1, "delta": 1}),
        )
        .await;
    assert_eq!(s, 422);

    // 2. An order for 2 of the first variant and 1 of an unknown SKU: reserved in SP.
    let line = |i: usize, q: u32| NewLine {
        variant_id: Some(variants[i].1),
        product_id: Some(variants[i].0),
        quantity: q,
        price_cents: Some(1000),
        name: None,
        sku: Some(variants[i].2.clone()),
    };
    let unknown = NewLine {
        variant_id: Some(other.1),
        product_id: Some(other.0),
        quantity: 1,
        price_cents: Some(1000),
        name: None,
        sku: Some("NAO-CADASTRADO".into()),
    };
    let o1 = sim.sim.create_order(NewOrder {
        payment_status: PaymentStatus::Paid,
        lines: vec![line(0, 2), unknown],
        ..NewOrder::default()
    });
    assert_eq!(sim.notify(&ponte.http, &url, "order/paid", o1).await, 200);
    ponte.settle(Duration::from_secs(30)).await;
    want.insert(key(0), 13);
    assert_sim_shows(&ponte, &sim, &ch, &want).await;
    let st = ponte.get(&format!("/api/v1/stock/{}", variants[0].2)).await;
    let sp = st["warehouses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["warehouse"] == "SP")
        .unwrap()
        .clone();
    assert_eq!(
        (
            sp["physical"].as_i64(),
            sp["reserved"].as_i64(),
            sp["available"].as_i64()
        ),
        (Some(10), Some(2), Some(8))
    );
    assert_eq!(st["channels"][0]["should_show"], 13, "{st}");
    assert_eq!(st["channels"][0]["last_pushed"], 13, "{st}");
    assert_eq!(st["channels"][0]["state"], "pushed", "{st}");
    let o1_id = ponte
        .all_orders()
        .await
        .iter()
        .find(|o| o["external_id"].as_str() == Some(&o1.to_string()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = ponte.get(&format!("/api/v1/orders/{o1_id}")).await;
    assert_eq!(
        detail["stock"]["unmapped_lines"][0]["sku"], "NAO-CADASTRADO",
        "{detail}"
    );
    assert_eq!(detail["stock"]["effects"][0]["reserved"], 2, "{detail}");
    let unmapped = ponte.get("/api/v1/unmapped-skus").await;
    assert_eq!(unmapped["items"][0]["sku"], "NAO-CADASTRADO", "{unmapped}");
    assert_eq!(unmapped["items"][0]["orders"], 1);

    // 3. Cancelled at the platform: released.
    sim.sim.cancel(o1, "customer").unwrap();
    assert_eq!(
        sim.notify(&ponte.http, &url, "order/cancelled", o1).await,
        200
    );
    ponte.settle(Duration::from_secs(30)).await;
    want.insert(key(0), 15);
    assert_sim_shows(&ponte, &sim, &ch, &want).await;

    // 4. Another order, invoiced by the ERP: the reservation becomes a debit.
    let o2 = sim.sim.create_order(NewOrder {
        payment_status: PaymentStatus::Paid,
        lines: vec![line(1, 3)],
        ..NewOrder::default()
    });
    assert_eq!(sim.notify(&ponte.http, &url, "order/paid", o2).await, 200);
    ponte.settle(Duration::from_secs(30)).await;
    want.insert(key(1), 7);
    assert_sim_shows(&ponte, &sim, &ch, &want).await;
    let orders = ponte.all_orders().await;
    let id = orders
        .iter()
        .find(|o| o["external_id"].as_str() == Some(&o2.to_string()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, r) = ponte
        .post(
            &format!("/api/v1/orders/{id}/invoice"),
            &json!({"number": "26", "series": "1", "issued_at": "2026-11-23T10:00:00Z",
                    "access_key": KEY, "total_cents": 3000}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let st = ponte.get(&format!("/api/v1/stock/{}", variants[1].2)).await;
    assert_eq!(st["physical"], 7, "{st}");
    assert_eq!(st["reserved"], 0, "{st}");
    assert_sim_shows(&ponte, &sim, &ch, &want).await;

    // 5. Adjusted: -4 in SP for the third variant.
    let (s, _) = ponte
        .post(
            "/api/v1/stock/movements",
            &json!({"sku": &variants[2].2, "warehouse": "SP", "delta": -4, "reason": "avaria"}),
        )
        .await;
    assert_eq!(s, 201);
    want.insert(key(2), 6);
    assert_sim_shows(&ponte, &sim, &ch, &want).await;

    // The push history of a SKU, and a resync pushes every listing again.
    let pushes = ponte
        .get(&format!(
            "/api/v1/stock/pushes?channel_id={ch}&sku={}",
            variants[0].2
        ))
        .await;
    assert!(pushes["items"].as_array().unwrap().len() >= 3, "{pushes}");
    assert_eq!(pushes["items"][0]["outcome"], "succeeded");
    sim.sim.clear_requests();
    let (s, r) = ponte
        .post(&format!("/api/v1/channels/{ch}/stock/resync"), &json!({}))
        .await;
    assert_eq!((s, r["resynced"].as_u64()), (202, Some(3)), "{r}");
    assert_sim_shows(&ponte, &sim, &ch, &want).await;
    let products: std::collections::HashSet<u64> = variants.iter().map(|v| v.0).collect();
    assert_eq!(
        sim.sim.request_count(&Method::PATCH, "/products/"),
        products.len(),
        "one call per product"
    );
}

async fn twenty_thousand_changes_cost_the_coalesced_minimum(backend: Backend) {
    let sim = Sim::start(Sim::unlimited()).await;
    let storage = Storage::new(backend).await;
    let ponte = storage.start(&[]);
    warehouses(&ponte).await;
    // 2,000 SKUs: 400 products of 5 variants.
    let catalogue = sim.sim.add_catalogue(400, 5);
    let created: Vec<u16> = stream::iter(&catalogue)
        .map(|(_, _, sku)| {
            let ponte = &ponte;
            async move {
                ponte
                    .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
                    .await
                    .0
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(created.iter().all(|s| *s == 201), "{created:?}");
    // The channel's stock settings come with its creation; listings after.
    let (ch, _) = stock_channel(&ponte, &sim, 2).await;
    let listings: Vec<Value> = catalogue
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p.to_string(), "variant_id": v.to_string()}))
        .collect();
    let (s, _) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/listings"),
            &json!({ "listings": listings }),
        )
        .await;
    assert_eq!(s, 200);
    wait_for(Duration::from_secs(60), || async {
        ponte.get(&format!("/api/v1/channels/{ch}/stock")).await["pending"] == 0
    })
    .await;
    sim.sim.clear_requests();
    // 20,000 changes in one request: ten per SKU, the last one wins.
    let mut rows = vec![];
    for round in 0..10 {
        for (i, (_, _, sku)) in catalogue.iter().enumerate() {
            rows.push(
                json!({"sku": sku, "warehouse": if round % 2 == 0 { "SP" } else { "RJ" },
                             "set": (i % 50) as i64 + round}),
            );
        }
    }
    let (s, r) = ponte
        .post("/api/v1/stock/movements", &json!({ "movements": rows }))
        .await;
    assert_eq!((s, r["recorded"].as_u64()), (201, Some(20_000)), "{r}");
    wait_for(Duration::from_secs(120), || async {
        ponte.get(&format!("/api/v1/channels/{ch}/stock")).await["pending"] == 0
    })
    .await;
    let calls = sim.sim.request_count(&Method::PATCH, "/products/");
    assert_eq!(calls, 400, "one call per product: the coalesced minimum");
    for (i, (p, v, _)) in catalogue.iter().enumerate() {
        // SP last set in round 8, RJ in round 9; buffer 2.
        let want = (i % 50) as i64 + 8 + (i % 50) as i64 + 9 - 2;
        assert_eq!(sim.sim.variant_stock(*p, *v), Some(want), "variant {v}");
    }
}
