//! Prices end to end (real binary, simulated Nuvemshop and VTEX): a bulk of price
//! changes reaches both channels (markup applied) with calls equal to the coalesced
//! minimum; bad rows are refused and nothing changes; a scheduled price fires; a
//! promotional window goes out (Nuvemshop: the promotion in force; VTEX: a fixed price
//! with its dateRange); a window opens and closes on its own (Nuvemshop is told at each
//! edge, VTEX keeps the window itself); a resync pushes every price again; 100,000
//! changes in one request reach three channels with the coalesced minimum of calls; the
//! `price_check` task reports a price changed on the platform and, when the channel says
//! so, pushes it again. SQLite and PostgreSQL; on PostgreSQL, scheduled prices fire
//! across two instances with one killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
// The shared VTEX harness re-exports helpers this file does not use.
#[allow(unused_imports)]
#[path = "common/vtex.rs"]
mod vtex_harness;

use chrono::{Duration as CDuration, SecondsFormat, Utc};
use common::{wait_for, Backend, Ponte, Sim, Storage};
use ponte_sim::nuvemshop::Method;
use serde_json::{json, Value};
use std::time::Duration;
use vtex_harness::{start_public, Vtex};

both_backends!(
    prices_reach_both_channels_coalesced_scheduled_and_refused,
    a_promotional_window_opens_and_closes_and_a_resync_pushes_again,
    a_hundred_thousand_changes_reach_three_channels,
    price_drift_is_reported_then_fixed
);

/// `cents` with a +10% markup, rounded half up.
fn marked(cents: i64) -> i64 {
    (cents * 11_000 + 5_000) / 10_000
}

fn decimal(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

async fn post_ok(ponte: &Ponte, path: &str, body: &Value) -> Value {
    let (s, v) = ponte.post(path, body).await;
    assert!((200..300).contains(&s), "{path}: {s} {v}");
    v
}

/// The Nuvemshop variant's (price, promotional_price) as the simulator keeps them.
fn nuvemshop_price(sim: &Sim, p: u64, v: u64) -> (Value, Value) {
    let v = sim.sim.variant(p, v).unwrap();
    (v["price"].clone(), v["promotional_price"].clone())
}

/// ponte with a Nuvemshop channel (+10% markup) listing `products` x `variants`
/// variants and a VTEX channel listing `vtex_n` SKUs, every listed SKU a product.
struct World {
    sim: Sim,
    vtex: Vtex,
    // Kept for the scenario's life (the data directory, the scratch database).
    storage: Storage,
    ponte: Ponte,
    /// Nuvemshop channel id.
    ns: String,
    /// (product id, variant id, SKU) of each Nuvemshop variant.
    catalogue: Vec<(u64, u64, String)>,
    /// (product id, SKU id, SKU) of each VTEX SKU.
    vtex_skus: Vec<(String, String, String)>,
}

/// A Nuvemshop channel to `sim` sending prices with a +10% markup, no request budget.
async fn prices_channel(ponte: &Ponte, sim: &Sim, name: &str) -> String {
    let cfg = sim.sim.config();
    let ch = post_ok(
        ponte,
        "/api/v1/channels",
        &json!({
            "platform": "nuvemshop",
            "name": name,
            "settings": {"store_id": cfg.store_id.to_string(), "api_base_url": sim.base_url,
                         "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6,
                         "send_prices": true, "price_markup_percent": 10},
            "credentials": {"access_token": cfg.access_token, "app_secret": cfg.app_secret}
        }),
    )
    .await;
    ch["id"].as_str().unwrap().to_owned()
}

/// Links each catalogue entry's SKU to its product and variant on `channel`.
async fn list(ponte: &Ponte, channel: &str, catalogue: &[(u64, u64, String)]) {
    let listings: Vec<Value> = catalogue
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p.to_string(), "variant_id": v.to_string()}))
        .collect();
    post_ok(
        ponte,
        &format!("/api/v1/channels/{channel}/listings"),
        &json!({ "listings": listings }),
    )
    .await;
}

async fn world(backend: Backend, products: usize, variants: usize, vtex_n: usize) -> World {
    let sim = Sim::start(Sim::unlimited()).await;
    let vtex = Vtex::start().await;
    let storage = Storage::new(backend).await;
    let env = storage.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ponte = start_public(storage.dir.path(), &env);

    let catalogue = sim.sim.add_catalogue(products, variants);
    let vtex_skus: Vec<(String, String, String)> = vtex
        .sim
        .skus()
        .into_iter()
        .take(vtex_n)
        .map(|s| (s.product_id.clone(), s.id.clone(), format!("VTEX-{}", s.id)))
        .collect();
    for sku in catalogue
        .iter()
        .map(|(_, _, s)| s)
        .chain(vtex_skus.iter().map(|(_, _, s)| s))
    {
        post_ok(
            &ponte,
            "/api/v1/products",
            &json!({"sku": sku, "name": sku}),
        )
        .await;
    }
    let ns = prices_channel(&ponte, &sim, "Loja").await;
    let vx = vtex
        .channel(&ponte, &json!({"send_prices": true, "sales_channel": "1"}))
        .await;
    let vx = vx["id"].as_str().unwrap().to_owned();
    list(&ponte, &ns, &catalogue).await;
    let listings: Vec<Value> = vtex_skus
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p, "variant_id": v}))
        .collect();
    post_ok(
        &ponte,
        &format!("/api/v1/channels/{vx}/listings"),
        &json!({ "listings": listings }),
    )
    .await;
    sim.sim.clear_requests();
    vtex.sim.clear_requests();
    World {
        sim,
        vtex,
        storage,
        ponte,
        ns,
        catalogue,
        vtex_skus,
    }
}

async fn prices_reach_both_channels_coalesced_scheduled_and_refused(backend: Backend) {
    // 30 Nuvemshop products of 3 variants, and 5 VTEX SKUs.
    let World {
        sim,
        vtex,
        storage: _storage,
        ponte,
        catalogue,
        vtex_skus,
        ..
    } = world(backend, 30, 3, 5).await;

    // 1. Ten changes per SKU in one request: the last one wins, one call per
    // Nuvemshop product and per VTEX SKU.
    let all: Vec<&String> = catalogue
        .iter()
        .map(|(_, _, s)| s)
        .chain(vtex_skus.iter().map(|(_, _, s)| s))
        .collect();
    let final_price = |i: usize| 1000 + i as i64 * 10 + 9;
    let mut rows = vec![];
    for round in 0..10 {
        for (i, sku) in all.iter().enumerate() {
            rows.push(json!({"sku": sku, "price_cents": 1000 + i as i64 * 10 + round}));
        }
    }
    let w = post_ok(&ponte, "/api/v1/prices", &json!({ "prices": rows })).await;
    assert_eq!(w["applied"], 10 * all.len(), "{w}");
    wait_for(Duration::from_secs(60), || async {
        catalogue.iter().enumerate().all(|(i, (p, v, _))| {
            nuvemshop_price(&sim, *p, *v).0 == json!(decimal(marked(final_price(i))))
        }) && vtex_skus.iter().enumerate().all(|(j, (_, id, _))| {
            let want = final_price(catalogue.len() + j) as f64 / 100.0;
            vtex.sim
                .price(id)
                .is_some_and(|p| p["basePrice"] == json!(want))
        })
    })
    .await;
    assert_eq!(
        sim.sim.request_count(&Method::PATCH, "/products/"),
        30,
        "one call per product: the coalesced minimum"
    );
    assert_eq!(
        vtex.sim.request_count(&Method::PUT, "/pricing/prices/"),
        5,
        "one call per VTEX SKU"
    );
    let first = &catalogue[0].2;
    let p = ponte.get(&format!("/api/v1/prices/{first}")).await;
    assert_eq!(p["current"]["price_cents"], final_price(0), "{p}");
    assert_eq!(
        p["channels"][0]["should_show"]["price_cents"],
        marked(final_price(0))
    );
    wait_for(Duration::from_secs(10), || async {
        ponte.get(&format!("/api/v1/prices/{first}")).await["channels"][0]["state"] == "pushed"
    })
    .await;

    // 2. A bulk with a bad row is refused, naming it; nothing changes anywhere.
    let (s, e) = ponte
        .post(
            "/api/v1/prices",
            &json!({"prices": [{"sku": first, "price_cents": 1}, {"sku": first, "price_cents": 500, "promotional_price_cents": 600}]}),
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (422, Some("promotional_above_regular")),
        "{e}"
    );
    assert!(e["detail"].as_str().unwrap().contains("row 1"), "{e}");
    let (s, e) = ponte
        .post("/api/v1/prices", &json!({"prices": [{"sku": first, "price_cents": 1}, {"sku": "NOPE", "price_cents": 1}]}))
        .await;
    assert_eq!((s, e["code"].as_str()), (422, Some("unknown_sku")), "{e}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.sim.request_count(&Method::PATCH, "/products/"), 30);
    let p = ponte.get(&format!("/api/v1/prices/{first}")).await;
    assert_eq!(p["current"]["price_cents"], final_price(0), "{p}");

    // 3. A scheduled price fires at its time.
    let (p0, v0, _) = catalogue[0].clone();
    let at = Utc::now() + CDuration::seconds(2);
    let w = post_ok(
        &ponte,
        "/api/v1/prices",
        &json!({"sku": first, "price_cents": 5000,
                "effective_at": at.to_rfc3339_opts(SecondsFormat::Millis, true)}),
    )
    .await;
    assert_eq!(w["scheduled"].as_array().unwrap().len(), 1, "{w}");
    let listed = ponte.get("/api/v1/prices/scheduled").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        nuvemshop_price(&sim, p0, v0).0,
        json!(decimal(marked(final_price(0))))
    );
    wait_for(Duration::from_secs(15), || async {
        nuvemshop_price(&sim, p0, v0).0 == json!(decimal(marked(5000)))
    })
    .await;
    assert!(Utc::now() >= at, "not before its time");
    let listed = ponte.get("/api/v1/prices/scheduled").await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");

    // 4. A promotional window: Nuvemshop gets the promotion in force, VTEX a fixed
    // price with its window on the trade policy.
    let from = Utc::now() - CDuration::hours(1);
    let until = Utc::now() + CDuration::days(1);
    let (_, vid, vsku) = vtex_skus[0].clone();
    let window = |sku: &str| {
        json!({"sku": sku, "price_cents": 2000, "promotional_price_cents": 1500,
               "promotional_from": from.to_rfc3339_opts(SecondsFormat::Secs, true),
               "promotional_until": until.to_rfc3339_opts(SecondsFormat::Secs, true)})
    };
    post_ok(
        &ponte,
        "/api/v1/prices",
        &json!({"prices": [window(first), window(&vsku)]}),
    )
    .await;
    wait_for(Duration::from_secs(15), || async {
        nuvemshop_price(&sim, p0, v0)
            == (json!(decimal(marked(2000))), json!(decimal(marked(1500))))
            && vtex
                .sim
                .price(&vid)
                .is_some_and(|p| p["fixedPrices"][0]["value"] == json!(15.0))
    })
    .await;
    let vp = vtex.sim.price(&vid).unwrap();
    assert_eq!(vp["basePrice"], json!(20.0), "{vp}");
    assert_eq!(vp["fixedPrices"][0]["tradePolicyId"], "1", "{vp}");
    assert_eq!(
        vp["fixedPrices"][0]["dateRange"]["to"],
        until.to_rfc3339_opts(SecondsFormat::Secs, true),
        "{vp}"
    );
}

async fn a_promotional_window_opens_and_closes_and_a_resync_pushes_again(backend: Backend) {
    let w = world(backend, 1, 2, 1).await;
    let (sim, ponte) = (&w.sim, &w.ponte);
    let (p0, v0, sku) = w.catalogue[0].clone();
    let (_, vid, vsku) = w.vtex_skus[0].clone();
    // A window opening in 3 s and closing 3 s later, on both channels.
    let from = Utc::now() + CDuration::seconds(3);
    let until = from + CDuration::seconds(3);
    let window = |sku: &str| {
        json!({"sku": sku, "price_cents": 2000, "promotional_price_cents": 1500,
               "promotional_from": from.to_rfc3339_opts(SecondsFormat::Millis, true),
               "promotional_until": until.to_rfc3339_opts(SecondsFormat::Millis, true)})
    };
    let second = &w.catalogue[1].2;
    let rows = json!({"prices": [window(&sku), window(&vsku),
        {"sku": second, "price_cents": 1000}]});
    post_ok(ponte, "/api/v1/prices", &rows).await;
    let regular = (json!(decimal(marked(2000))), Value::Null);
    let promoted = (json!(decimal(marked(2000))), json!(decimal(marked(1500))));
    wait_for(Duration::from_secs(10), || async {
        nuvemshop_price(sim, p0, v0) == regular
    })
    .await;
    assert!(
        Utc::now() < from,
        "the first push came before the window opened"
    );

    // The window opens: Nuvemshop is told the promotion, at its time, without a write.
    wait_for(Duration::from_secs(10), || async {
        nuvemshop_price(sim, p0, v0) == promoted
    })
    .await;
    assert!(Utc::now() >= from, "not before the window opens");
    // It closes: the regular price again.
    wait_for(Duration::from_secs(10), || async {
        nuvemshop_price(sim, p0, v0) == regular
    })
    .await;
    assert!(Utc::now() >= until, "not before the window closes");
    let p = ponte.get(&format!("/api/v1/prices/{sku}")).await;
    let ns = p["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_id"] == w.ns.as_str())
        .unwrap()
        .clone();
    wait_for(Duration::from_secs(10), || async {
        let p = ponte.get(&format!("/api/v1/prices/{sku}")).await;
        p["channels"][0]["state"] == "pushed"
    })
    .await;
    assert!(ns["last_attempt_at"].is_string(), "{p}");
    assert_eq!(
        sim.sim.request_count(&Method::PATCH, "/products/"),
        3,
        "the product once per edge and once at first: {:?}",
        sim.sim.requests()
    );
    let history = ponte
        .get(&format!(
            "/api/v1/prices/pushes?channel_id={}&sku={sku}",
            w.ns
        ))
        .await;
    let outcomes: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["succeeded"; 3], "{history}");
    assert_eq!(
        history["items"][0]["items"][0]["price"]["promotional_price"],
        marked(1500),
        "the price as ponte holds it, the window with it: {history}"
    );
    // VTEX keeps the window itself (a fixed price with its dateRange): told once.
    assert_eq!(
        w.vtex.sim.request_count(&Method::PUT, "/pricing/prices/"),
        1
    );
    assert_eq!(
        w.vtex.sim.price(&vid).unwrap()["fixedPrices"][0]["value"],
        json!(15.0)
    );

    // The platform drifts (an edit in its admin); a resync puts ponte's prices back.
    sim.sim.set_variant_price(p0, v0, Some(1), Some(1)).unwrap();
    let (p1, v1, _) = w.catalogue[1].clone();
    sim.sim.set_variant_price(p1, v1, None, None).unwrap();
    sim.sim.clear_requests();
    let (s, r) = ponte
        .post(
            &format!("/api/v1/channels/{}/prices/resync", w.ns),
            &json!({}),
        )
        .await;
    assert_eq!((s, r["resynced"].as_u64()), (202, Some(2)), "{r}");
    wait_for(Duration::from_secs(10), || async {
        nuvemshop_price(sim, p0, v0) == regular
            && nuvemshop_price(sim, p1, v1).0 == json!(decimal(marked(1000)))
    })
    .await;
    assert_eq!(
        sim.sim.request_count(&Method::PATCH, "/products/"),
        1,
        "one call for the product"
    );
    wait_for(Duration::from_secs(10), || async {
        let c = ponte
            .get(&format!("/api/v1/channels/{}/prices", w.ns))
            .await;
        c["pending"] == 0 && c["pushed"] == 2
    })
    .await;
    let (s, _) = ponte
        .post(
            &format!(
                "/api/v1/channels/{}/prices/resync",
                ponte_core::ChannelId::new()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(s, 404);
}

/// 100,000 rows in one request over 1,005 SKUs listed on two Nuvemshop stores and VTEX:
/// every channel shows each SKU's last row, with one call per Nuvemshop product and per
/// VTEX SKU.
async fn a_hundred_thousand_changes_reach_three_channels(backend: Backend) {
    let w = world(backend, 200, 5, 5).await;
    let other = Sim::start(ponte_sim::nuvemshop::SimConfig {
        store_id: 654_321,
        ..Sim::unlimited()
    })
    .await;
    assert_eq!(
        other.sim.add_catalogue(200, 5),
        w.catalogue,
        "the second store has the same catalogue"
    );
    let second = prices_channel(&w.ponte, &other, "Loja 2").await;
    list(&w.ponte, &second, &w.catalogue).await;
    other.sim.clear_requests();

    let skus: Vec<&String> = w
        .catalogue
        .iter()
        .map(|(_, _, s)| s)
        .chain(w.vtex_skus.iter().map(|(_, _, s)| s))
        .collect();
    let rows: Vec<Value> = (0..100_000)
        .map(|k| json!({"sku": skus[k % skus.len()], "price_cents": 1000 + k as i64}))
        .collect();
    // Each SKU's last row: the highest k below 100,000 with k % n == i.
    let last = |i: usize| 1000 + (99_999 - (99_999 - i) % skus.len()) as i64;
    let r = post_ok(&w.ponte, "/api/v1/prices", &json!({ "prices": rows })).await;
    assert_eq!(r["applied"], 100_000, "{r}");
    let n = w.catalogue.len();
    wait_for(Duration::from_secs(180), || async {
        w.catalogue.iter().enumerate().all(|(i, (p, v, _))| {
            let want = json!(decimal(marked(last(i))));
            nuvemshop_price(&w.sim, *p, *v).0 == want && nuvemshop_price(&other, *p, *v).0 == want
        }) && w.vtex_skus.iter().enumerate().all(|(j, (_, id, _))| {
            let want = last(n + j) as f64 / 100.0;
            w.vtex
                .sim
                .price(id)
                .is_some_and(|p| p["basePrice"] == json!(want))
        })
    })
    .await;
    for store in [&w.sim, &other] {
        assert_eq!(
            store.sim.request_count(&Method::PATCH, "/products/"),
            200,
            "one call per product: the coalesced minimum"
        );
    }
    assert_eq!(
        w.vtex.sim.request_count(&Method::PUT, "/pricing/prices/"),
        5,
        "one call per VTEX SKU"
    );
}

/// Two instances on one PostgreSQL database; scheduled prices come due over a few
/// seconds and one instance is SIGKILLed while they do: every price reaches the store,
/// none before its time, each product pushed once (twice at most for a push the
/// killed instance had in flight), none left scheduled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_prices_fire_across_two_instances_one_killed() {
    let World {
        sim,
        storage,
        ponte: mut first,
        catalogue,
        ..
    } = world(Backend::Postgres, 30, 1, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let env = storage.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut second = start_public(dir.path(), &env);
    // The monotonic origin first: a push is compared with its due time leniently by
    // the few microseconds between the two readings, never strictly.
    let origin = {
        let instant = std::time::Instant::now();
        (Utc::now(), instant)
    };
    // One scheduled price per product, due 3 s ahead and every 100 ms after.
    let due: Vec<chrono::DateTime<Utc>> = (0..catalogue.len())
        .map(|i| origin.0 + CDuration::milliseconds(3000 + 100 * i as i64))
        .collect();
    let rows: Vec<Value> = catalogue
        .iter()
        .zip(&due)
        .map(|((_, _, sku), at)| {
            json!({"sku": sku, "price_cents": 7000,
                   "effective_at": at.to_rfc3339_opts(SecondsFormat::Millis, true)})
        })
        .collect();
    let w = post_ok(&second, "/api/v1/prices", &json!({ "prices": rows })).await;
    assert_eq!(
        w["scheduled"].as_array().unwrap().len(),
        catalogue.len(),
        "{w}"
    );
    // Killed a second into the run of due prices.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    first.kill();
    wait_for(Duration::from_secs(60), || async {
        catalogue
            .iter()
            .all(|(p, v, _)| nuvemshop_price(&sim, *p, *v).0 == json!(decimal(marked(7000))))
    })
    .await;
    let listed = second.get("/api/v1/prices/scheduled").await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
    let log = sim.sim.requests();
    for ((p, _, _), at) in catalogue.iter().zip(&due) {
        let path = format!("/products/{p}/variants");
        let pushes: Vec<_> = log
            .iter()
            .filter(|r| r.method == Method::PATCH && r.path.ends_with(&path))
            .collect();
        assert!(
            (1..=2).contains(&pushes.len()),
            "product {p}: {} pushes",
            pushes.len()
        );
        let due_in = (*at - origin.0).to_std().unwrap();
        assert!(
            pushes
                .iter()
                .all(|r| r.at.duration_since(origin.1) >= due_in),
            "product {p} pushed before its time"
        );
    }
    second.kill();
}

/// Runs the channel's `price_check` task now and waits for the run's end.
async fn price_check(ponte: &Ponte, channel: &str) -> Value {
    let list = ponte
        .get(&format!("/api/v1/scheduled-tasks?channel_id={channel}"))
        .await;
    let task = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "price_check")
        .cloned()
        .unwrap_or_else(|| panic!("no price_check task in {list}"));
    let id = task["id"].as_str().unwrap();
    let (s, run) = ponte
        .post(&format!("/api/v1/scheduled-tasks/{id}/run"), &json!({}))
        .await;
    assert_eq!(s, 202, "{run}");
    let run = run["id"].as_str().unwrap().to_owned();
    wait_for(Duration::from_secs(30), || async {
        let out = ponte.get(&format!("/api/v1/task-runs/{run}")).await;
        out["state"] == "succeeded" || out["state"] == "failed"
    })
    .await;
    ponte.get(&format!("/api/v1/task-runs/{run}")).await
}

async fn price_drift_is_reported_then_fixed(backend: Backend) {
    let w = world(backend, 1, 2, 1).await;
    let (sim, ponte) = (&w.sim, &w.ponte);
    let (p0, v0, sku) = w.catalogue[0].clone();
    let rows: Vec<Value> = w
        .catalogue
        .iter()
        .map(|(_, _, s)| json!({"sku": s, "price_cents": 1000}))
        .collect();
    post_ok(ponte, "/api/v1/prices", &json!({ "prices": rows })).await;
    let pushed = || async {
        ponte.get(&format!("/api/v1/prices/{sku}")).await["channels"][0]["state"] == "pushed"
    };
    wait_for(Duration::from_secs(15), pushed).await;
    // Nothing drifted: every price read back matches.
    let run = price_check(ponte, &w.ns).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["seen"], 2, "{run}");
    assert_eq!(run["counts"]["unchanged"], 2, "{run}");
    // Someone changes a price in the store: reported, not fixed (the default).
    sim.sim.set_variant_price(p0, v0, Some(999), None).unwrap();
    let run = price_check(ponte, &w.ns).await;
    assert_eq!(run["counts"]["flagged"], 1, "{run}");
    assert_eq!(run["counts"]["enqueued"], 0, "{run}");
    let p = ponte.get(&format!("/api/v1/prices/{sku}")).await;
    let ch = &p["channels"][0];
    assert!(
        ch["last_error"]
            .as_str()
            .unwrap()
            .contains("drift: the channel shows price 999"),
        "{p}"
    );
    assert_eq!(ch["state"], "pushed", "{p}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(nuvemshop_price(sim, p0, v0).0, json!("9.99"));
    // With price_check_fix the drifted price is pushed again.
    let (s, v) = ponte
        .patch(
            &format!("/api/v1/channels/{}", w.ns),
            &json!({"settings": {"price_check_fix": true}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let run = price_check(ponte, &w.ns).await;
    assert_eq!(
        (&run["counts"]["flagged"], &run["counts"]["enqueued"]),
        (&json!(1), &json!(1)),
        "{run}"
    );
    wait_for(Duration::from_secs(15), || async {
        nuvemshop_price(sim, p0, v0).0 == json!(decimal(marked(1000)))
    })
    .await;
    wait_for(Duration::from_secs(10), || async {
        let p = ponte.get(&format!("/api/v1/prices/{sku}")).await;
        p["channels"][0]["state"] == "pushed" && p["channels"][0]["last_error"].is_null()
    })
    .await;
}
