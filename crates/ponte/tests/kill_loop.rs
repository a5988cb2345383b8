//! Crash loop: the embedded (SQLite) server is SIGKILLed at random moments, round
//! after round, while it imports Nuvemshop webhooks, sends status updates for ERP
//! actions and pushes stock. It must start every time, and at the end everything it
//! acknowledged is there exactly once: each notified order imported once, each
//! separation sent (the simulator shows it PACKED), and the simulator's stock equal
//! to what ponte computes. The kill times come from a seeded generator: the seed is
//! printed, and `PONTE_KILL_SEED=<seed>` replays the same kill times and load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{wait_for, Ponte, Sim};
use futures::stream::{self, StreamExt};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method, NewLine, NewOrder, PaymentStatus};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

const ORDERS: usize = 300;
const ROUNDS: usize = 25;
const PRODUCTS: usize = 12;
const VARIANTS: usize = 3;
/// Every SKU's count in SP at the start.
const INITIAL: i64 = 1000;

/// An order created at the simulator: its id there, whether it is paid, and its lines.
struct Spec {
    ext: u64,
    paid: bool,
    lines: Vec<(String, u32)>,
}

/// What ponte acknowledged, and what was sent whether or not it was.
#[derive(Default)]
struct Acked {
    /// Orders with a 200 to a notification.
    delivered: BTreeSet<u64>,
    /// Orders (ponte id, platform id) with a 200 to a separation.
    separated: BTreeMap<String, String>,
    /// Per SKU, the deltas of movements answered 2xx.
    moved: HashMap<String, i64>,
    /// Per SKU, the deltas of every movement sent.
    sent: HashMap<String, i64>,
}

/// A client that tolerates the server dying under it: no answer is `None`.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(ponte: &Ponte) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Api {
            base: ponte.base.clone(),
            http,
        }
    }

    async fn get(&self, path: &str) -> Option<Value> {
        let r = (self.http.get(format!("{}{path}", self.base)))
            .bearer_auth(common::TOKEN)
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    async fn post(&self, path: &str, body: &Value) -> Option<u16> {
        let r = (self.http.post(format!("{}{path}", self.base)))
            .bearer_auth(common::TOKEN)
            .json(body)
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        // The answer counts once its body is read: the server may die in between.
        r.bytes().await.ok().map(|_| status)
    }
}

/// Starts ponte on `dir`: it must start, whatever the previous round left behind.
fn start(dir: &Path, round: usize, seed: u64) -> Ponte {
    Ponte::try_start(dir, "127.0.0.1:0", &[])
        .unwrap_or_else(|| panic!("ponte did not start for round {round} (PONTE_KILL_SEED={seed})"))
}

/// Products, warehouse, channel with stock, listings and the initial count.
async fn setup(ponte: &Ponte, sim: &Sim) -> (String, Vec<(u64, u64, String)>) {
    let (s, w) = ponte
        .post("/api/v1/warehouses", &json!({"code": "SP", "name": "SP"}))
        .await;
    assert_eq!(s, 201, "{w}");
    let catalogue = sim.sim.add_catalogue(PRODUCTS, VARIANTS);
    for (_, _, sku) in &catalogue {
        let (s, p) = ponte
            .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
            .await;
        assert_eq!(s, 201, "{p}");
    }
    let cfg = sim.sim.config();
    let (s, ch) = ponte
        .post(
            "/api/v1/channels",
            &json!({
                "platform": "nuvemshop",
                "name": "Loja",
                "settings": {"store_id": cfg.store_id.to_string(), "api_base_url": sim.base_url,
                             "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6,
                             "send_stock": true, "stock_warehouses": ["SP"], "debit_warehouse": "SP"},
                "credentials": {"access_token": cfg.access_token, "app_secret": cfg.app_secret}
            }),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    let ch = ch["id"].as_str().unwrap().to_owned();
    let listings: Vec<Value> = catalogue
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
    let rows: Vec<Value> = catalogue
        .iter()
        .map(|(_, _, sku)| json!({"sku": sku, "warehouse": "SP", "set": INITIAL}))
        .collect();
    let (s, r) = ponte
        .post("/api/v1/stock/movements", &json!({ "movements": rows }))
        .await;
    assert_eq!(s, 201, "{r}");
    (ch, catalogue)
}

/// The simulator's orders: 1 or 2 lines of the catalogue each, most of them paid.
fn orders(sim: &Sim, catalogue: &[(u64, u64, String)], rng: &mut StdRng) -> Vec<Spec> {
    (0..ORDERS)
        .map(|_| {
            let paid = rng.gen_bool(0.8);
            let n = rng.gen_range(1..=2);
            let picked: Vec<&(u64, u64, String)> = catalogue.choose_multiple(rng, n).collect();
            let lines: Vec<(String, u32)> = (picked.iter())
                .map(|(_, _, sku)| (sku.clone(), rng.gen_range(1..=3)))
                .collect();
            let ext = sim.sim.create_order(NewOrder {
                payment_status: if paid {
                    PaymentStatus::Paid
                } else {
                    PaymentStatus::Pending
                },
                lines: picked
                    .iter()
                    .zip(&lines)
                    .map(|((p, v, sku), (_, q))| NewLine {
                        variant_id: Some(*v),
                        product_id: Some(*p),
                        quantity: *q,
                        price_cents: Some(1000),
                        name: None,
                        sku: Some(sku.clone()),
                    })
                    .collect(),
                ..NewOrder::default()
            });
            Spec { ext, paid, lines }
        })
        .collect()
}

/// Runs `each` on every item, the i-th starting `i * step` from now: the load spans
/// the moments a kill may come at.
async fn paced<T, R, F>(items: Vec<T>, step: Duration, each: impl Fn(T) -> F) -> Vec<R>
where
    F: std::future::Future<Output = R>,
{
    let each = &each;
    stream::iter(items.into_iter().enumerate())
        .map(|(i, x)| async move {
            tokio::time::sleep(step * u32::try_from(i).unwrap()).await;
            each(x).await
        })
        .buffer_unordered(64)
        .collect()
        .await
}

/// Notifies `ids`, the i-th after `i * step`; the ones answered 200.
async fn notify(sim: &Sim, api: &Api, channel: &str, ids: &[u64], step: Duration) -> Vec<u64> {
    let url = format!("{}/webhooks/{channel}", api.base);
    let url = &url;
    let answers = paced(ids.to_vec(), step, |id| async move {
        (id, sim.notify(&api.http, url, "order/paid", id).await)
    });
    (answers.await.into_iter())
        .filter_map(|(id, s)| (s == 200).then_some(id))
        .collect()
}

/// Separation on up to `n` imported paid orders ponte lists now; the ones answered 200.
async fn separate(
    api: &Api,
    paid: &BTreeSet<String>,
    n: usize,
    seed: u64,
) -> Vec<(String, String)> {
    let Some(page) = api.get("/api/v1/orders?limit=500").await else {
        return vec![];
    };
    let mut candidates: Vec<(String, String)> = (page["items"].as_array().unwrap().iter())
        .filter(|o| paid.contains(o["external_id"].as_str().unwrap()))
        .filter(|o| matches!(o["status"].as_str(), Some("approved" | "in_separation")))
        .map(|o| {
            let id = o["id"].as_str().unwrap().to_owned();
            (id, o["external_id"].as_str().unwrap().to_owned())
        })
        .collect();
    candidates.shuffle(&mut StdRng::seed_from_u64(seed));
    candidates.truncate(n);
    let answers = paced(
        candidates,
        Duration::from_millis(25),
        |(id, ext)| async move {
            let path = format!("/api/v1/orders/{id}/separation");
            let s = api.post(&path, &json!({})).await;
            (s == Some(200)).then_some((id, ext))
        },
    );
    answers.await.into_iter().flatten().collect()
}

/// Stock movements of a few rows each (positive deltas in SP): (rows, answered 2xx).
async fn move_stock(
    api: &Api,
    batches: Vec<Vec<(String, i64)>>,
) -> Vec<(Vec<(String, i64)>, bool)> {
    paced(batches, Duration::from_millis(50), |rows| async move {
        let body: Vec<Value> = (rows.iter())
            .map(|(sku, d)| json!({"sku": sku, "warehouse": "SP", "delta": d, "reason": "kill loop"}))
            .collect();
        let s = api
            .post("/api/v1/stock/movements", &json!({ "movements": body }))
            .await;
        (rows, s.is_some_and(|s| (200..300).contains(&s)))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_doubles_nothing() {
    let seed: u64 = std::env::var("PONTE_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("kill_loop: PONTE_KILL_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;

    let mut ponte = start(dir.path(), 0, seed);
    let (ch, catalogue) = setup(&ponte, &sim).await;
    let specs = orders(&sim, &catalogue, &mut rng);
    let paid: BTreeSet<String> = (specs.iter())
        .filter(|s| s.paid)
        .map(|s| s.ext.to_string())
        .collect();
    let ids: Vec<u64> = specs.iter().map(|s| s.ext).collect();
    ponte.terminate();

    let mut acked = Acked::default();
    let per_round = ORDERS.div_ceil(ROUNDS);
    for round in 0..ROUNDS {
        // Slow answers keep fetches and sends in flight (both are safe to repeat).
        for _ in 0..2 {
            let id = ids[rng.gen_range(0..ids.len())];
            let slow = FaultKind::Delay(Duration::from_millis(150));
            sim.sim.inject(
                Fault::new(format!("/orders/{id}"), 1, slow.clone()).with_method(Method::GET),
            );
            sim.sim
                .inject(Fault::new("/fulfillment-orders/", 1, slow).with_method(Method::PATCH));
        }
        let mut ponte = start(dir.path(), round + 1, seed);
        let api = Api::new(&ponte);
        // This round's slice of orders, and a few earlier ones again (duplicates).
        let mut slice: Vec<u64> = ids
            .iter()
            .skip(round * per_round)
            .take(per_round)
            .copied()
            .collect();
        for _ in 0..4 {
            slice.push(ids[rng.gen_range(0..ids.len().min((round + 1) * per_round))]);
        }
        let batches: Vec<Vec<(String, i64)>> = (0..6)
            .map(|_| {
                (0..rng.gen_range(1..=4))
                    .map(|_| {
                        let sku = catalogue[rng.gen_range(0..catalogue.len())].2.clone();
                        (sku, rng.gen_range(1..=5))
                    })
                    .collect()
            })
            .collect();
        let kill_after = Duration::from_millis(rng.gen_range(20..=400));
        let action_seed = rng.gen();
        let load = async {
            tokio::join!(
                notify(&sim, &api, &ch, &slice, Duration::from_millis(20)),
                separate(&api, &paid, 12, action_seed),
                move_stock(&api, batches),
            )
        };
        let kill = async {
            tokio::time::sleep(kill_after).await;
            ponte.kill();
        };
        let ((delivered, separated, moved), ()) = tokio::join!(load, kill);
        acked.delivered.extend(delivered);
        acked.separated.extend(separated);
        for (rows, ok) in moved {
            for (sku, d) in rows {
                *acked.sent.entry(sku.clone()).or_default() += d;
                if ok {
                    *acked.moved.entry(sku).or_default() += d;
                }
            }
        }
    }
    eprintln!(
        "kill_loop: {ROUNDS} kills; acknowledged {} of {ORDERS} orders' notifications, {} separations",
        acked.delivered.len(),
        acked.separated.len(),
    );

    // One more start; the platform retries every notification never acknowledged.
    let ponte = start(dir.path(), ROUNDS + 1, seed);
    let api = Api::new(&ponte);
    let unacked: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !acked.delivered.contains(id))
        .collect();
    let resent = notify(&sim, &api, &ch, &unacked, Duration::ZERO).await;
    assert_eq!(resent.len(), unacked.len());
    ponte.settle(Duration::from_secs(60)).await;
    // A send whose attempts were all cut short by kills is failed, as documented (an
    // interrupted attempt counts: its result is unknown); the operator resends it.
    let failed = ponte
        .get("/api/v1/status-sends?state=failed&limit=500")
        .await;
    let failed = failed["items"].as_array().unwrap();
    for s in failed {
        let attempts = s["attempts"].as_array().unwrap();
        assert!(
            attempts.iter().all(|a| a["outcome"] == "interrupted"),
            "a send failed for another reason than kills: {s} (PONTE_KILL_SEED={seed})"
        );
    }
    eprintln!(
        "kill_loop: {} sends failed by interruptions alone",
        failed.len()
    );
    if !failed.is_empty() {
        let (s, r) = ponte
            .post(
                "/api/v1/status-sends/resend",
                &json!({"channel_id": ch, "all_failed": true}),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        ponte.settle(Duration::from_secs(60)).await;
    }
    wait_for(Duration::from_secs(60), || async {
        ponte.get(&format!("/api/v1/channels/{ch}/stock")).await["pending"] == 0
    })
    .await;

    // Every order imported exactly once.
    let orders = ponte.all_orders().await;
    let mut got: Vec<String> = (orders.iter())
        .map(|o| o["external_id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want: Vec<String> = ids.iter().map(u64::to_string).collect();
    want.sort();
    assert_eq!(got, want, "every order once (PONTE_KILL_SEED={seed})");
    for o in &orders {
        let d = ponte
            .get(&format!("/api/v1/orders/{}", o["id"].as_str().unwrap()))
            .await;
        let imported = (d["timeline"].as_array().unwrap().iter())
            .filter(|e| e["kind"] == "imported")
            .count();
        assert_eq!(
            imported, 1,
            "order {} (PONTE_KILL_SEED={seed})",
            o["external_id"]
        );
    }

    // Every acknowledged separation sent once and shown by the platform; no send failed.
    for (id, ext) in &acked.separated {
        let sends = ponte
            .get(&format!("/api/v1/status-sends?order_id={id}&limit=100"))
            .await;
        let sends = sends["items"].as_array().unwrap();
        assert_eq!(
            sends.len(),
            1,
            "order {ext}: {sends:?} (PONTE_KILL_SEED={seed})"
        );
        assert_eq!(sends[0]["kind"], "separation", "{sends:?}");
        assert_eq!(
            sends[0]["state"], "succeeded",
            "{sends:?} (PONTE_KILL_SEED={seed})"
        );
        let fo = sim.sim.fulfillment_order(ext.parse().unwrap()).unwrap();
        assert_eq!(fo["status"], "PACKED", "order {ext}: {fo}");
    }
    let all = ponte.get("/api/v1/status-sends?limit=500").await;
    for s in all["items"].as_array().unwrap() {
        assert_eq!(s["state"], "succeeded", "{s} (PONTE_KILL_SEED={seed})");
    }

    // Stock: reservations of every order once, acknowledged movements kept, and the
    // platform showing what ponte computes.
    let mut reserved: HashMap<&str, i64> = HashMap::new();
    for s in &specs {
        for (sku, q) in &s.lines {
            *reserved.entry(sku.as_str()).or_default() += i64::from(*q);
        }
    }
    for (p, v, sku) in &catalogue {
        let st = ponte.get(&format!("/api/v1/stock/{sku}")).await;
        let sp = &st["warehouses"][0];
        let physical = sp["physical"].as_i64().unwrap();
        let floor = INITIAL + acked.moved.get(sku).copied().unwrap_or(0);
        let ceiling = INITIAL + acked.sent.get(sku).copied().unwrap_or(0);
        assert!(
            (floor..=ceiling).contains(&physical),
            "{sku}: physical {physical} outside {floor}..={ceiling} (PONTE_KILL_SEED={seed})"
        );
        let want_reserved = reserved.get(sku.as_str()).copied().unwrap_or(0);
        assert_eq!(
            sp["reserved"], want_reserved,
            "{st} (PONTE_KILL_SEED={seed})"
        );
        let shown = &st["channels"][0];
        let should = (physical - want_reserved).max(0);
        assert_eq!(shown["should_show"], should, "{st}");
        assert_eq!(shown["last_pushed"], should, "{st}");
        assert_eq!(
            sim.sim.variant_stock(*p, *v),
            Some(should),
            "{sku} at the platform (PONTE_KILL_SEED={seed})"
        );
    }
}
