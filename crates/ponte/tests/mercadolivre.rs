//! Mercado Livre end to end (real binary, simulated ML seller): notifications import
//! orders (duplicates change nothing), the scheduled import recovers a lost one from
//! `missed_feeds`, packs and fraud-flagged orders, the ME2 NF-e upload that unlocks
//! the label, ME1 shipped and delivered, and tokens renewed once across two
//! instances on PostgreSQL in the middle of a burst.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/vtex.rs"]
mod vtex_harness;

use common::{Backend, Ponte, Storage};
use ponte_sim::mercadolivre::{MlConfig, MlSim, NewMlItem, NewMlOrder, ServerHandle};
use serde_json::{json, Value};
use std::time::Duration;
use vtex_harness::{imported, orders_of, run_now, settled_sends, start_public, task, until};

const KEY: &str = "43180906929383000163550010000000261000010301";
const WAIT: Duration = Duration::from_secs(30);

struct Ml {
    sim: MlSim,
    server: ServerHandle,
}

impl Ml {
    async fn start(config: MlConfig) -> Ml {
        let sim = MlSim::new(MlConfig {
            notify_retry_base: Duration::from_millis(100),
            ..config
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        Ml { sim, server }
    }

    /// Creates the channel and points the simulator's callback at its webhook URL.
    async fn channel(&self, p: &Ponte) -> String {
        self.channel_with(p, json!({})).await
    }

    /// As [`Ml::channel`], with more settings.
    async fn channel_with(&self, p: &Ponte, more: Value) -> String {
        let cfg = self.sim.config();
        let mut settings = json!({"seller_id": cfg.seller_id, "api_base_url": self.server.base_url(),
                                  "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6});
        for (k, v) in more.as_object().unwrap() {
            settings[k] = v.clone();
        }
        let (s, ch) = p
            .post(
                "/api/v1/channels",
                &json!({
                    "platform": "mercadolivre",
                    "name": "Mercado Livre",
                    "settings": settings,
                    "credentials": {"client_id": cfg.client_id, "client_secret": cfg.client_secret,
                                    "refresh_token": self.sim.current_refresh_token()},
                }),
            )
            .await;
        assert_eq!(s, 201, "{ch}");
        self.sim
            .set_callback_url(Some(ch["webhook_url"].as_str().unwrap().to_owned()));
        ch["id"].as_str().unwrap().to_owned()
    }
}

/// One line at 476.10 plus 23.90 shipping: 500.00, the NF-e fixture's total.
fn order(mode: &str, pack: Option<u64>, tags: &[&str]) -> NewMlOrder {
    NewMlOrder {
        items: vec![NewMlItem {
            item_id: "MLB1000000001".into(),
            variation_id: None,
            seller_sku: Some("SKU-1".into()),
            title: "Produto".into(),
            quantity: 1,
            unit_price_cents: 47_610,
        }],
        shipping_cost_cents: 2_390,
        mode: mode.into(),
        logistic_type: if mode == "me2" { "drop_off" } else { "default" }.into(),
        pack_id: pack,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..NewMlOrder::default()
    }
}

fn nfe_xml() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
    );
    std::fs::read_to_string(path).unwrap()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn notifications(p: &Ponte, ml: &Ml) {
    let ch = ml.channel(p).await;
    // A paid order: notified, fetched in the background with billing data.
    let a = ml.sim.create_order(order("me2", None, &[])).to_string();
    let o = imported(p, &a, WAIT).await;
    assert_eq!(o["status"], "approved", "{o}");
    let full = p.get(&format!("/api/v1/orders/{}", id_of(&o))).await;
    assert_eq!(
        full["customer"]["document"]["normalized"], "52998224725",
        "{full}"
    );
    assert_eq!(full["totals"]["total_cents"], 50_000, "{full}");

    // Duplicated and out-of-order notifications: one order, newest state.
    ml.sim
        .set_status(a.parse().unwrap(), "partially_refunded")
        .unwrap();
    let body = json!({"resource": format!("/orders/{a}"), "user_id": ml.sim.config().seller_id.parse::<u64>().unwrap(),
                      "topic": "orders_v2", "application_id": ml.sim.config().client_id.parse::<u64>().unwrap(),
                      "attempts": 3, "sent": "2019-10-30T16:19:20.129Z", "received": "2019-10-30T16:19:20.106Z"});
    let url = format!("{}/webhooks/{ch}", p.base);
    for _ in 0..3 {
        let r = p.http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    // Another seller's notification is refused.
    let mut other = body.clone();
    other["user_id"] = json!(1);
    let r = p.http.post(&url).json(&other).send().await.unwrap();
    assert_eq!(
        r.status().as_u16(),
        403,
        "refused: not this channel's seller"
    );
    p.settle(WAIT).await;
    assert_eq!(orders_of(p, &a).await.len(), 1);

    // A pack of two orders: both kept, each with its pack_id.
    let b = ml
        .sim
        .create_order(order("me2", Some(2_000_010_703_698_453), &[]));
    let c = ml
        .sim
        .create_order(order("me2", Some(2_000_010_703_698_453), &[]));
    for id in [b, c] {
        imported(p, &id.to_string(), WAIT).await;
    }
    // A fraud-flagged order: imported, held in review.
    let f = ml
        .sim
        .create_order(order("me1", None, &["fraud_risk_detected"]))
        .to_string();
    let o = imported(p, &f, WAIT).await;
    assert_eq!(o["status"], "payment_in_review", "{o}");
    let full = p.get(&format!("/api/v1/orders/{}", id_of(&o))).await;
    assert_eq!(full["flags"], json!(["fraud_risk"]), "{full}");

    // A lost notification: only missed_feeds has it; the scheduled import reads it.
    ml.sim.drop_next_notifications(1);
    let lost = ml.sim.create_order(order("me2", None, &[])).to_string();
    until(WAIT, "the notification lost", || async {
        (ml.sim.missed_count() >= 1).then_some(())
    })
    .await;
    p.settle(WAIT).await;
    assert!(orders_of(p, &lost).await.is_empty());
    let import = id_of(&task(p, &ch, "import_orders").await);
    let run = run_now(p, &import).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    imported(p, &lost, WAIT).await;
    assert_eq!(p.all_orders().await.len(), 5, "no duplicates");
}

async fn sends(p: &Ponte, ml: &Ml) {
    ml.channel(p).await;
    // ME2: the NF-e XML is uploaded to the shipment, which leaves invoice_pending.
    let me2 = ml.sim.create_order(order("me2", None, &[]));
    let oid = id_of(&imported(p, &me2.to_string(), WAIT).await);
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/invoice"),
            &json!({"number": "26", "series": "1", "access_key": KEY, "issued_at": "2018-09-25T03:00:00Z",
                    "total_cents": 50000, "xml": nfe_xml()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    until(WAIT, "label unlocked", || async {
        (ml.sim.shipment_of(me2).unwrap()["substatus"] == "ready_to_print").then_some(())
    })
    .await;
    let sid = ml.sim.shipment_of(me2).unwrap()["id"].as_u64().unwrap();
    assert!(ml.sim.invoice_xml(sid).unwrap().contains("<nfeProc"));
    // ME2 shipping is ML's own: recorded, not sent.
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/shipment"),
            &json!({"tracking_code": "BR1", "shipped_at": "2026-11-23T12:00:00Z"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let sends = settled_sends(p, &oid, 2).await;
    assert!(sends.iter().all(|s| s["state"] == "succeeded"), "{sends:?}");

    // ME1: shipped and delivered as seller notifications.
    let me1 = ml.sim.create_order(order("me1", None, &[]));
    let oid = id_of(&imported(p, &me1.to_string(), WAIT).await);
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/invoice"),
            &json!({"number": "26", "series": "1", "access_key": KEY, "issued_at": "2018-09-25T03:00:00Z",
                    "total_cents": 50000, "xml": nfe_xml()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    for (path, body) in [
        (
            "shipment",
            json!({"tracking_code": "BR123456789BR", "tracking_url": "https://rastreamento.correios.com.br/?o=BR123456789BR", "shipped_at": "2026-11-23T12:00:00Z"}),
        ),
        ("delivery", json!({"delivered_at": "2026-11-24T10:00:00Z"})),
    ] {
        let (s, b) = p.post(&format!("/api/v1/orders/{oid}/{path}"), &body).await;
        assert_eq!(s, 200, "{b}");
    }
    let sends = settled_sends(p, &oid, 3).await;
    assert!(sends.iter().all(|s| s["state"] == "succeeded"), "{sends:?}");
    let notes = ml.sim.seller_notifications();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0].1["tracking_number"], "BR123456789BR");
    assert_eq!(ml.sim.shipment_of(me1).unwrap()["status"], "delivered");
    assert_eq!(
        ml.sim.fiscal_documents(&me1.to_string()),
        1,
        "NF-e attached to the order"
    );
}

async fn notifications_and_missed_feeds(backend: Backend) {
    let storage = Storage::new(backend).await;
    let p = start_public_on(&storage);
    let ml = Ml::start(MlConfig::default()).await;
    notifications(&p, &ml).await;
    ml.server.shutdown().await;
}

async fn status_sends(backend: Backend) {
    let storage = Storage::new(backend).await;
    let p = start_public_on(&storage);
    let ml = Ml::start(MlConfig::default()).await;
    sends(&p, &ml).await;
    ml.server.shutdown().await;
}

fn start_public_on(storage: &Storage) -> Ponte {
    let env = storage.env();
    let all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_public(storage.dir.path(), &all)
}

both_backends!(notifications_and_missed_feeds, status_sends);

/// When ML notifies only `shipments` (whether it also sends `orders_v2` for a shipment
/// change is not documented), the shipment's order is read again and moves on.
#[tokio::test]
async fn a_shipments_notification_alone_moves_the_order() {
    let storage = Storage::new(Backend::Sqlite).await;
    let p = start_public_on(&storage);
    let ml = Ml::start(MlConfig {
        shipment_notifies_order: false,
        ..MlConfig::default()
    })
    .await;
    ml.channel(&p).await;
    let id = ml.sim.create_order(order("me2", None, &[]));
    let o = imported(&p, &id.to_string(), WAIT).await;
    assert_eq!(o["status"], "approved", "{o}");
    for (state, want) in [("shipped", "shipped"), ("delivered", "delivered")] {
        ml.sim.set_shipment(id, state, None).unwrap();
        until(WAIT, want, || async {
            let o = orders_of(&p, &id.to_string()).await;
            (o[0]["status"] == want).then_some(())
        })
        .await;
    }
    p.settle(WAIT).await;
    assert_eq!(p.all_orders().await.len(), 1, "stored under the order's id");
    let sid = ml.sim.shipment_of(id).unwrap()["id"].as_u64().unwrap();
    let d = p
        .get(&format!(
            "/api/v1/webhook-deliveries?resource_id=shipment:{sid}"
        ))
        .await;
    let items = d["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{d}");
    assert!(items.iter().all(|d| d["state"] == "processed"), "{d}");
    ml.server.shutdown().await;
}

/// The seller revokes ponte's grant: the refresh answers `invalid_grant`, the channel
/// shows that the seller must reconnect and the send waits; new credentials clear it
/// and the held send goes out.
#[tokio::test]
async fn a_revoked_grant_asks_to_reconnect_and_holds_the_work() {
    let storage = Storage::new(Backend::Sqlite).await;
    let p = start_public_on(&storage);
    let ml = Ml::start(MlConfig::default()).await;
    let ch = ml.channel(&p).await;
    let id = ml.sim.create_order(order("me1", None, &[]));
    let oid = id_of(&imported(&p, &id.to_string(), WAIT).await);
    assert!(p.get(&format!("/api/v1/channels/{ch}")).await["credentials_problem"].is_null());

    ml.sim.revoke_grant();
    ml.sim.expire_access_tokens();
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/shipment"),
            &json!({"tracking_code": "BR1", "tracking_url": "https://rastreamento.correios.com.br/?o=BR1",
                    "shipped_at": "2026-11-23T12:00:00Z"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let problem = until(WAIT, "the refusal shown", || async {
        let c = p.get(&format!("/api/v1/channels/{ch}")).await;
        let pr = c["credentials_problem"].clone();
        (!pr.is_null()).then_some(pr)
    })
    .await;
    assert_eq!(problem["action"], "reconnect", "{problem}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{problem}"
    );
    assert!(ml.sim.seller_notifications().is_empty(), "nothing sent");

    // The seller authorizes again; the operator pastes the new refresh token.
    let refresh = ml.sim.reauthorize();
    let cfg = ml.sim.config();
    let (s, b) = p
        .patch(
            &format!("/api/v1/channels/{ch}"),
            &json!({"credentials": {"client_id": cfg.client_id, "client_secret": cfg.client_secret,
                                    "refresh_token": refresh}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(p.get(&format!("/api/v1/channels/{ch}")).await["credentials_problem"].is_null());
    let sends = settled_sends(&p, &oid, 1).await;
    assert_eq!(sends[0]["state"], "succeeded", "{sends:?}");
    assert_eq!(ml.sim.seller_notifications().len(), 1);
    ml.server.shutdown().await;
}

async fn stock_product(p: &Ponte, sku: &str) {
    let (s, b) = p
        .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
        .await;
    assert_eq!(s, 201, "{b}");
}

/// Sets each `(sku, n)` at warehouse SP (none: nothing set) and waits until the
/// channel has nothing pending.
async fn set_stock(p: &Ponte, ch: &str, rows: &[(&str, i64)]) {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(sku, n)| json!({"sku": sku, "warehouse": "SP", "set": n}))
        .collect();
    if !rows.is_empty() {
        let (s, b) = p
            .post("/api/v1/stock/movements", &json!({ "movements": rows }))
            .await;
        assert_eq!(s, 201, "{b}");
    }
    until(WAIT, "stock pushed", || async {
        let s = p.get(&format!("/api/v1/channels/{ch}/stock")).await;
        (s["pending"] == 0).then_some(())
    })
    .await;
}

/// Stock reaches a plain item, two variations of another (one call), and on a
/// multi-origin account a user product whose `x-version` went stale between ponte's
/// read and write (409: read again, then written).
#[tokio::test]
async fn stock_reaches_items_variations_and_user_products() {
    let storage = Storage::new(Backend::Sqlite).await;
    let p = start_public_on(&storage);
    let (s, b) = p
        .post("/api/v1/warehouses", &json!({"code": "SP", "name": "SP"}))
        .await;
    assert_eq!(s, 201, "{b}");
    for sku in ["SKU-1", "SKU-2", "SKU-3", "SKU-4"] {
        stock_product(&p, sku).await;
    }
    let stock = json!({"send_stock": true, "stock_warehouses": ["SP"], "debit_warehouse": "SP"});

    let plain = Ml::start(MlConfig::default()).await;
    plain.sim.add_item("MLB1", 0, &[]);
    plain.sim.add_item("MLB2", 0, &[(11, 0), (12, 0)]);
    let ch = plain.channel_with(&p, stock.clone()).await;
    let listings = json!({"listings": [
        {"sku": "SKU-1", "product_id": "MLB1", "variant_id": "MLB1"},
        {"sku": "SKU-2", "product_id": "MLB2", "variant_id": "11"},
        {"sku": "SKU-3", "product_id": "MLB2", "variant_id": "12"},
    ]});
    let (s, b) = p
        .post(&format!("/api/v1/channels/{ch}/listings"), &listings)
        .await;
    assert_eq!(s, 200, "{b}");
    // The new listings' values (0) go out first; then the stock set, in one call per item.
    set_stock(&p, &ch, &[]).await;
    let put = ponte_sim::mercadolivre::Method::PUT;
    let before = plain.sim.request_count(&put, "/items/MLB2");
    set_stock(&p, &ch, &[("SKU-1", 9), ("SKU-2", 7), ("SKU-3", 8)]).await;
    assert_eq!(plain.sim.item_quantity("MLB1", None), Some(9));
    assert_eq!(plain.sim.item_quantity("MLB2", Some(11)), Some(7));
    assert_eq!(plain.sim.item_quantity("MLB2", Some(12)), Some(8));
    let puts = plain.sim.request_count(&put, "/items/MLB2") - before;
    assert_eq!(puts, 1, "both variations in one call");

    let multi = Ml::start(MlConfig {
        seller_id: "777".into(),
        warehouse_management: true,
        ..MlConfig::default()
    })
    .await;
    multi.sim.add_user_product("MLB3", "MLBU3", "9876543", 4);
    let mut settings = stock;
    settings["warehouse_management"] = json!(true);
    settings["stock_store_id"] = json!("9876543");
    let ch = multi.channel_with(&p, settings).await;
    let listings =
        json!({"listings": [{"sku": "SKU-4", "product_id": "MLB3", "variant_id": "MLB3"}]});
    let (s, b) = p
        .post(&format!("/api/v1/channels/{ch}/listings"), &listings)
        .await;
    assert_eq!(s, 200, "{b}");
    multi.sim.inject(ponte_sim::mercadolivre::Fault::new(
        "/stock/type/seller_warehouse",
        1,
        ponte_sim::mercadolivre::FaultKind::Status(409),
    ));
    set_stock(&p, &ch, &[("SKU-4", 12)]).await;
    assert_eq!(
        multi.sim.user_product_quantity("MLBU3", "9876543"),
        Some(12)
    );
    let pushes = p
        .get(&format!("/api/v1/stock/pushes?channel_id={ch}&sku=SKU-4"))
        .await;
    assert_eq!(pushes["items"][0]["outcome"], "succeeded", "{pushes}");
    plain.server.shutdown().await;
    multi.server.shutdown().await;
}

/// Two instances share one PostgreSQL; the access token expires in the middle of a
/// burst of notifications delivered to both: ML sees one refresh, every order is
/// imported, and the stored pair is the rotated one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_renew_the_token_once() {
    let storage = Storage::new(Backend::Postgres).await;
    let a = start_public_on(&storage);
    let dir_b = tempfile::tempdir().unwrap();
    let env = storage.env();
    let all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let b = storage.start_in(dir_b.path(), &all);
    let ml = Ml::start(MlConfig::default()).await;
    let ch = ml.channel(&a).await;
    let first = ml.sim.create_order(order("me2", None, &[])).to_string();
    imported(&a, &first, WAIT).await;
    assert_eq!(
        ml.sim.refreshes(),
        1,
        "no access token given: the first call renewed"
    );

    // The burst: half the notifications to each instance.
    ml.sim.set_callback_url(None);
    ml.sim.expire_access_tokens();
    let mut ids = vec![];
    for i in 0..20 {
        let id = ml.sim.create_order(order("me2", None, &[]));
        ids.push(id.to_string());
        let body = json!({"resource": format!("/orders/{id}"), "user_id": ml.sim.config().seller_id.parse::<u64>().unwrap(),
                          "topic": "orders_v2", "application_id": ml.sim.config().client_id.parse::<u64>().unwrap(),
                          "attempts": 1, "sent": "2026-01-01T00:00:00.000Z", "received": "2026-01-01T00:00:00.000Z"});
        let p = if i % 2 == 0 { &a } else { &b };
        let r = p
            .http
            .post(format!("{}/webhooks/{ch}", p.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    for id in &ids {
        imported(&a, id, WAIT).await;
    }
    assert_eq!(ml.sim.refreshes(), 2, "one refresh across both instances");
    // The stored refresh token is the rotated one: the next renewal uses it.
    drop(b);
    ml.sim.expire_access_tokens();
    let later = ml.sim.create_order(order("me2", None, &[])).to_string();
    let body = json!({"resource": format!("/orders/{later}"), "user_id": ml.sim.config().seller_id.parse::<u64>().unwrap(),
                      "topic": "orders_v2", "application_id": ml.sim.config().client_id.parse::<u64>().unwrap()});
    let r = a
        .http
        .post(format!("{}/webhooks/{ch}", a.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    imported(&a, &later, WAIT).await;
    assert_eq!(ml.sim.refreshes(), 3);
    ml.server.shutdown().await;
}
