//! VTEX end to end (real binary, simulated VTEX account): the hook ponte registers
//! delivers orders; the feed catches what the hook lost; duplicate and late
//! notifications change nothing; status sends, the refused cancel of an invoiced order,
//! stock pushes through a lock, and the subscription's life (polling-only, removed,
//! re-registered, repaired). Also one Nuvemshop subscription check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/vtex.rs"]
mod vtex_harness;

use common::{wait_for, Ponte, Sim};
use ponte_sim::vtex::{lock_fault, Fault, FaultKind, Method, OrderStatus, VtexConfig};
use serde_json::{json, Value};
use std::time::Duration;
use vtex_harness::{
    imported, orders_of, outcomes, run_now, settled_sends, start_public, task, until, Vtex,
};

const KEY: &str = "43180906929383000163550010000000261000010301";
const WAIT: Duration = Duration::from_secs(30);

fn nfe_xml() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
    );
    std::fs::read_to_string(path).unwrap()
}

/// The NF-e fixture as an ERP invoice action (total 500.00, as [`Vtex::order`]).
fn invoice_body(with_xml: bool) -> Value {
    let mut b = json!({"number": "26", "series": "1", "access_key": KEY, "issued_at": "2018-09-25T03:00:00Z",
                       "total_cents": 50000, "xml_url": "https://erp.example.com/nfe/26.xml"});
    if with_xml {
        b["xml"] = json!(nfe_xml());
    }
    b
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The order's first `Output` package at the simulator.
fn package(vtex: &Vtex, ext: &str) -> Value {
    vtex.sim.order(ext).unwrap()["packageAttachment"]["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["type"] == "Output")
        .cloned()
        .unwrap_or(Value::Null)
}

async fn wait_sim_status(vtex: &Vtex, ext: &str, want: OrderStatus) {
    until(WAIT, &format!("order {ext} {want} at VTEX"), || async {
        (vtex.sim.status(ext) == Some(want)).then_some(())
    })
    .await;
}

async fn subscription(p: &Ponte, ch: &str) -> Value {
    p.get(&format!("/api/v1/channels/{ch}")).await["subscription"].clone()
}

async fn check(p: &Ponte, ch: &str) -> Value {
    let (s, b) = p
        .post(
            &format!("/api/v1/channels/{ch}/subscription/check"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// No credential, by key or by value, in a channel answer.
fn assert_no_credentials(vtex: &Vtex, secret: &str, answer: &Value) {
    let text = answer.to_string();
    for leak in [
        "app_token",
        "hook_secret",
        "credentials",
        vtex.sim.config().app_token.as_str(),
        secret,
    ] {
        assert!(!text.contains(leak), "{leak:?} in a channel answer: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registered_hook_delivers_orders_that_are_imported_whole() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let ch = vtex.channel(&p, &json!({})).await;
    let id = id_of(&ch);
    let url = ch["webhook_url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{}/webhooks/{id}", p.base), "public URL used");

    // Creating the channel configured the hook: ponte's URL, the secret header, every
    // status of the workflow.
    let hook = vtex.sim.hook_config().expect("hook configured at creation");
    assert_eq!(hook["hook"]["url"], json!(url), "{hook}");
    let secret = vtex.hook_secret();
    assert!(secret.len() >= 16, "{hook}");
    assert_eq!(hook["filter"]["type"], "FromWorkflow", "{hook}");
    let statuses = hook["filter"]["status"].as_array().unwrap();
    for s in [
        "payment-approved",
        "ready-for-handling",
        "handling",
        "invoiced",
        "canceled",
    ] {
        assert!(statuses.contains(&json!(s)), "{s} not in {hook}");
    }
    let sub = subscription(&p, &id).await;
    assert_eq!(sub["state"], "active", "{sub}");
    assert_eq!(sub["url"], json!(url), "{sub}");
    assert!(sub["registered"]
        .as_array()
        .unwrap()
        .contains(&json!("ready-for-handling")));
    // VTEX keeps a hook only when its ping got 200: ponte acknowledged it and did
    // nothing else with it.
    let d = p
        .get(&format!("/api/v1/webhook-deliveries?channel_id={id}"))
        .await;
    let pings: Vec<&Value> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["body"]
                .as_str()
                .unwrap_or_default()
                .contains("hookConfig")
        })
        .collect();
    assert!(!pings.is_empty(), "the ping is recorded: {d}");
    assert!(pings.iter().all(|d| d["state"] == "ignored"), "{d}");

    // Orders created and paid at VTEX arrive by the hook alone.
    let paid: Vec<String> = (0..3).map(|_| vtex.order(true)).collect();
    let unpaid = vtex.order(false);
    for ext in &paid {
        let o = imported(&p, ext, WAIT).await;
        assert_eq!(o["channel_id"], json!(id));
    }
    p.settle(WAIT).await;
    let o = imported(&p, &paid[0], WAIT).await;
    assert_eq!(o["status"], "approved", "{o}");
    assert_eq!(o["platform_status"]["status"], "ready-for-handling", "{o}");
    assert_eq!(o["totals"]["total_cents"], 50_000, "{o}");
    assert_eq!(o["totals"]["subtotal_cents"], 47_610, "{o}");
    assert_eq!(o["totals"]["shipping_cents"], 2_390, "{o}");
    let items = o["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{o}");
    let sku1 = vtex.sim.skus().into_iter().find(|s| s.id == "1").unwrap();
    assert_eq!(items[0]["variant_id"], "1", "{o}");
    assert_eq!(items[0]["sku"], json!(sku1.ref_id), "{o}");
    assert_eq!(items[0]["quantity"], 1, "{o}");
    assert_eq!(items[0]["unit_price_cents"], 47_610, "{o}");
    assert_eq!(o["customer"]["document"]["raw"], "52998224725", "{o}");
    assert_eq!(o["customer"]["document"]["kind"], "cpf", "{o}");
    assert_eq!(o["customer"]["name"], "Maria Silva", "{o}");
    assert!(
        !o["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("invalid_document")),
        "{o}"
    );
    // Awaiting payment: not imported (paid_only) until paid.
    assert!(orders_of(&p, &unpaid).await.is_empty());
    vtex.sim.approve_payment(&unpaid).unwrap();
    let o = imported(&p, &unpaid, WAIT).await;
    assert_eq!(o["status"], "approved", "{o}");

    // Every notification of these orders was delivered once and answered 200.
    // Four orders, three changes each (created awaiting payment, approved, ready).
    let deliveries = until(WAIT, "12 hook deliveries", || async {
        let d = vtex.sim.hook_deliveries();
        (d.len() >= 12).then_some(d)
    })
    .await;
    p.settle(WAIT).await;
    assert_eq!(deliveries.len(), 12, "{deliveries:?}");
    for d in &deliveries {
        assert!(!d.dropped, "{d:?}");
        assert_eq!((d.attempt, d.status), (1, Some(200)), "{d:?}");
    }
    for ext in paid.iter().chain([&unpaid]) {
        assert!(
            deliveries.iter().any(|d| &d.order_id == ext),
            "{ext}: no hook"
        );
        assert_eq!(orders_of(&p, ext).await.len(), 1, "{ext}");
    }
}

/// Bad hook deliveries and bad channel settings get a clear code and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hook_deliveries_and_settings_are_refused_and_change_nothing() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let ch = vtex.channel(&p, &json!({"import_policy": "all"})).await;
    let id = id_of(&ch);
    let url = ch["webhook_url"].as_str().unwrap().to_owned();
    let secret = vtex.hook_secret();
    let ext = vtex.order(true);
    // Its three notifications delivered and stored before counting.
    until(WAIT, "3 hook deliveries", || async {
        (vtex.sim.hook_deliveries().len() >= 3).then_some(())
    })
    .await;
    p.settle(WAIT).await;
    let before = p
        .get(&format!("/api/v1/webhook-deliveries?channel_id={id}"))
        .await["items"]
        .as_array()
        .unwrap()
        .len();
    let good = vtex
        .sim
        .sample_notification(&ext, "ready-for-handling", "payment-approved");
    let header = ponte_channels::vtex::hook::SECRET_HEADER;
    let post = |secret: Option<String>, body: Vec<u8>| {
        let mut r = p.http.post(&url).header("Content-Type", "application/json");
        if let Some(s) = secret {
            r = r.header(header, s);
        }
        async move {
            let r = r.body(body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let body = serde_json::to_vec(&good).unwrap();
    let mut other_account = good.clone();
    other_account["Origin"]["Account"] = json!("anotherstore");
    let cases = [
        (None, body.clone(), 401, "missing_signature"),
        (
            Some("not-the-secret".to_owned()),
            body.clone(),
            401,
            "invalid_signature",
        ),
        (
            Some(secret.clone()),
            serde_json::to_vec(&other_account).unwrap(),
            403,
            "store_mismatch",
        ),
        (
            Some(secret.clone()),
            b"{\"OrderId\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            Some(secret.clone()),
            vec![b' '; 70 * 1024],
            413,
            "payload_too_large",
        ),
    ];
    for (secret, body, status, code) in cases {
        let (s, b) = post(secret, body).await;
        assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{b}");
    }
    let after = p
        .get(&format!("/api/v1/webhook-deliveries?channel_id={id}"))
        .await["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before, "no refused delivery is stored");
    assert_eq!(orders_of(&p, &ext).await.len(), 1);

    // Settings and credentials the channel cannot work with.
    for (extra, code) in [
        (json!({"account": "not an account"}), "invalid_settings"),
        (json!({"store_id": "123"}), "unknown_setting"),
        (json!({"api_base_url": "ftp://x"}), "invalid_settings"),
        (json!({"rate_limit_per_sec": 0}), "invalid_settings"),
    ] {
        let (s, b) = p.post("/api/v1/channels", &vtex.channel_body(&extra)).await;
        assert_eq!((s, b["code"].as_str()), (422, Some(code)), "{extra}: {b}");
    }
    let mut no_token = vtex.channel_body(&json!({}));
    no_token["credentials"] = json!({"app_key": "k"});
    let (s, b) = p.post("/api/v1/channels", &no_token).await;
    assert_eq!(s, 422, "{b}");
    let channels = p.get("/api/v1/channels").await;
    assert_eq!(channels["items"].as_array().unwrap().len(), 1, "{channels}");

    // A second channel on the same account and appKey would take the first one's hook
    // and feed: refused, on creation and on a credentials change.
    let (s, b) = p
        .post("/api/v1/channels", &vtex.channel_body(&json!({})))
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("credentials_in_use")),
        "{b}"
    );
    let mut other_key = vtex.channel_body(&json!({}));
    other_key["credentials"]["app_key"] = json!("vtexappkey-simstore-OTHER");
    let (s, second) = p.post("/api/v1/channels", &other_key).await;
    assert_eq!(s, 201, "{second}");
    let same = vtex.channel_body(&json!({}))["credentials"].clone();
    let (s, b) = p
        .patch(
            &format!("/api/v1/channels/{}", id_of(&second)),
            &json!({"credentials": same}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("credentials_in_use")),
        "{b}"
    );
    assert_eq!(vtex.sim.hook_config().unwrap()["hook"]["url"], json!(url));
    assert_eq!(
        vtex.hook_secret(),
        secret,
        "the first channel's hook is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_imports_what_the_hook_lost_and_is_committed() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let ch = id_of(&vtex.channel(&p, &json!({})).await);
    let import = id_of(&task(&p, &ch, "import_orders").await);
    vtex.sim.set_drop_hook_notifications(true);

    // Creating the channel configured the feed; the first run finds it empty.
    let feed = vtex.sim.feed_config().expect("ponte configured the feed");
    assert_eq!(feed["filter"]["type"], "FromWorkflow", "{feed}");
    let first = run_now(&p, &import).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    assert_eq!(first["counts"]["seen"], 0, "{first}");

    // Orders change while the hook loses every notification.
    let paid: Vec<String> = (0..5).map(|_| vtex.order(true)).collect();
    let unpaid = vtex.order(false);
    assert!(
        vtex.sim.feed_len() >= 16,
        "feed {:?}: {:?}; requests {:?}",
        vtex.sim.feed_config(),
        vtex.sim.feed_events(),
        vtex.sim
            .requests()
            .iter()
            .map(|r| format!("{} {}?{} {}", r.method, r.path, r.query, r.status))
            .collect::<Vec<_>>()
    );
    // The simulator's hook worker drops them as it takes them.
    let lost = until(WAIT, "16 notifications dropped", || async {
        let d = vtex.sim.hook_deliveries();
        (d.len() >= 16).then_some(d)
    })
    .await;
    assert!(lost.iter().all(|d| d.dropped), "{lost:?}");
    p.settle(WAIT).await;
    assert!(p.all_orders().await.is_empty(), "nothing came by the hook");

    let second = run_now(&p, &import).await;
    assert_eq!(second["state"], "succeeded", "{second}");
    assert_eq!(second["counts"]["created"], 5, "{second}");
    for ext in &paid {
        let o = imported(&p, ext, WAIT).await;
        assert_eq!(o["status"], "approved", "{o}");
    }
    assert!(orders_of(&p, &unpaid).await.is_empty(), "paid_only");
    // Every event was committed after its page was stored.
    assert_eq!(vtex.sim.feed_len(), 0, "{:?}", vtex.sim.feed_events());

    // A second run finds nothing new.
    let third = run_now(&p, &import).await;
    assert_eq!(third["state"], "succeeded", "{third}");
    assert_eq!(third["counts"]["created"], 0, "{third}");
    assert_eq!(third["counts"]["updated"], 0, "{third}");
    assert_eq!(p.all_orders().await.len(), 5);

    // Later changes come the same way, to the same orders.
    vtex.sim.approve_payment(&unpaid).unwrap();
    vtex.sim
        .set_status(&paid[0], OrderStatus::Handling)
        .unwrap();
    let fourth = run_now(&p, &import).await;
    assert_eq!(fourth["state"], "succeeded", "{fourth}");
    let o = imported(&p, &unpaid, WAIT).await;
    assert_eq!(o["status"], "approved", "{o}");
    let o = imported(&p, &paid[0], WAIT).await;
    assert_eq!(o["status"], "in_separation", "{o}");
    assert_eq!(vtex.sim.feed_len(), 0, "{:?}", vtex.sim.feed_events());
    let all = p.all_orders().await;
    assert_eq!(all.len(), 6, "no duplicates");
    let mut ext: Vec<&str> = all
        .iter()
        .map(|o| o["external_id"].as_str().unwrap())
        .collect();
    ext.sort_unstable();
    ext.dedup();
    assert_eq!(ext.len(), 6, "no duplicates");
}

/// Each feed page fetches up to 10 orders on one request token; the fetches are charged
/// to the channel's budget after the page, so ponte told 16 requests/s (burst 8) stays
/// within an account that allows 20 order reads/s (bucket 30). Charging one token per
/// page would read about 10 times faster and meet 429s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_order_fetches_are_charged_to_the_channel_budget() {
    let vtex = Vtex::start_with(VtexConfig {
        orders_get_limit: Some((30, 20.0)),
        ..Vtex::config()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let extra =
        json!({"import_policy": "all", "rate_limit_per_sec": 16.0, "rate_limit_burst": 8.0});
    let ch = id_of(&vtex.channel(&p, &extra).await);
    let import = id_of(&task(&p, &ch, "import_orders").await);
    vtex.sim.set_drop_hook_notifications(true);
    let first = run_now(&p, &import).await;
    assert_eq!(first["state"], "succeeded", "{first}");

    let ids = vtex.sim.generate_orders(60, 7);
    vtex.sim.clear_requests();
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(vtex.sim.feed_len(), 0, "every event committed");
    let requests = vtex.sim.requests();
    let limited: Vec<String> = requests
        .iter()
        .filter(|r| r.status == 429)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(limited.is_empty(), "over the account's limit: {limited:?}");
    let reads = requests
        .iter()
        .filter(|r| r.path.starts_with("/api/oms/pvt/orders/"))
        .count();
    assert!(reads >= 60, "{reads} order reads");
    // Besides the hook and feed checks every scheduled run starts with.
    let polling = requests
        .iter()
        .filter(|r| r.path == "/api/orders/feed" || r.path.starts_with("/api/oms/"))
        .count();
    assert_eq!(
        run["counts"]["calls"].as_u64().unwrap(),
        polling as u64,
        "the run counts every request it made: {run}"
    );
    let table = ponte_channels::vtex::default_status_table();
    let mut want: Vec<String> = ids
        .iter()
        .filter_map(|id| ponte_channels::vtex::read_order(vtex.sim.order(id)?, &[]).ok())
        .filter(|m| {
            let s = table.status_of(&[], &m.data.platform_status);
            s.as_str() != "cancelled" && !m.closed_at_platform
        })
        .map(|m| m.data.external_id)
        .collect();
    want.sort();
    let mut got: Vec<String> = p
        .all_orders()
        .await
        .iter()
        .map(|o| o["external_id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, want, "every importable order, once");
}

/// Without a public URL the feed is the only way in: it is set up when the channel is
/// created, so orders placed before the first scheduled run are not missed, and it
/// follows the channel's sales channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_only_channel_has_its_feed_from_creation() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = Ponte::start(dir.path(), &[]);
    let ch = id_of(&vtex.channel(&p, &json!({})).await);
    assert!(vtex.sim.hook_config().is_none(), "no public URL, no hook");
    let feed = vtex.sim.feed_config().expect("feed configured at creation");
    assert_eq!(feed["filter"]["type"], "FromWorkflow", "{feed}");

    let paid: Vec<String> = (0..3).map(|_| vtex.order(true)).collect();
    let import = id_of(&task(&p, &ch, "import_orders").await);
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["created"], 3, "{run}");
    for ext in &paid {
        assert_eq!(orders_of(&p, ext).await.len(), 1, "{ext}");
    }

    // Only one sales channel from now on: the feed's filter follows.
    let (s, b) = p
        .patch(
            &format!("/api/v1/channels/{ch}"),
            &json!({"settings": {"sales_channel": "2"}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let feed = vtex.sim.feed_config().unwrap();
    assert_eq!(feed["filter"]["type"], "FromOrders", "{feed}");
    assert_eq!(
        feed["filter"]["expression"], "salesChannel = \"2\"",
        "{feed}"
    );
    // Unchanged settings: nothing is written again.
    vtex.sim.clear_requests();
    let (s, _) = p
        .patch(
            &format!("/api/v1/channels/{ch}"),
            &json!({"name": "Loja VTEX 2"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        vtex.sim
            .request_count(&Method::POST, "/api/orders/feed/config"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_sync_imports_the_history_from_the_order_listing() {
    let vtex = Vtex::start().await;
    // Orders placed before the channel existed: no hook, no feed has them.
    let history: Vec<String> = (0..40).map(|_| vtex.order(true)).collect();
    let dir = tempfile::tempdir().unwrap();
    let p = Ponte::start(dir.path(), &[]);
    let ch = id_of(&vtex.channel(&p, &json!({})).await);
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
    assert_eq!(done["counts"]["created"], 40, "{done}");
    for ext in &history {
        assert_eq!(orders_of(&p, ext).await.len(), 1, "{ext}");
    }
    // The listing needs no commit and leaves the feed (set up at creation) alone.
    assert_eq!(
        vtex.sim
            .requests()
            .iter()
            .filter(|r| r.path == "/api/orders/feed")
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_and_late_notifications_leave_one_order_in_the_platforms_state() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let ch = vtex.channel(&p, &json!({})).await;
    let url = ch["webhook_url"].as_str().unwrap().to_owned();
    let secret = vtex.hook_secret();
    let ext = vtex.order(true);
    imported(&p, &ext, WAIT).await;
    p.settle(WAIT).await;

    // The same notification several times, then an older state after the newer one.
    let newer = vtex
        .sim
        .sample_notification(&ext, "ready-for-handling", "payment-approved");
    for _ in 0..4 {
        assert_eq!(
            Vtex::post_notification(&p.http, &url, &secret, &newer).await,
            200
        );
    }
    let older = vtex
        .sim
        .sample_notification(&ext, "payment-pending", "order-created");
    assert_eq!(
        Vtex::post_notification(&p.http, &url, &secret, &older).await,
        200
    );
    p.settle(WAIT).await;
    let o = imported(&p, &ext, WAIT).await;
    assert_eq!(o["status"], "approved", "{o}");

    // The order moves on at VTEX; a stale notification arrives after it.
    vtex.sim.set_status(&ext, OrderStatus::Handling).unwrap();
    until(WAIT, "handling imported", || async {
        let o = imported(&p, &ext, WAIT).await;
        (o["status"] == "in_separation").then_some(())
    })
    .await;
    let stale = vtex
        .sim
        .sample_notification(&ext, "ready-for-handling", "payment-approved");
    for _ in 0..2 {
        assert_eq!(
            Vtex::post_notification(&p.http, &url, &secret, &stale).await,
            200
        );
    }
    // A notification without the secret is refused and changes nothing.
    let refused = p
        .http
        .post(&url)
        .json(&stale)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!((400..500).contains(&refused), "{refused}");
    p.settle(WAIT).await;

    let all = orders_of(&p, &ext).await;
    assert_eq!(all.len(), 1, "one order: {all:?}");
    assert_eq!(all[0]["status"], "in_separation", "the platform's state");
    assert_eq!(all[0]["platform_status"]["status"], "handling");
    assert_eq!(p.all_orders().await.len(), 1);
    let d = p
        .get(&format!(
            "/api/v1/webhook-deliveries?resource_id={ext}&limit=100"
        ))
        .await;
    let n = d["items"].as_array().unwrap().len();
    // 7 sent here (the one without the secret is refused) and at least VTEX's
    // `handling` one.
    assert!(n >= 8, "every delivery recorded ({n}): {d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_actions_reach_vtex_in_order() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    vtex.channel(&p, &json!({})).await;
    let ext = vtex.order(true);
    let oid = id_of(&imported(&p, &ext, WAIT).await);

    // Separation: VTEX starts handling.
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/separation"),
            &json!({"kind": "separation"}),
        )
        .await;
    assert_eq!(
        (s, b["send"]["state"].as_str()),
        (200, Some("queued")),
        "{b}"
    );
    wait_sim_status(&vtex, &ext, OrderStatus::Handling).await;

    // Invoice with its XML: an Output invoice covering the order, which is invoiced.
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/invoice"),
            &invoice_body(true),
        )
        .await;
    assert_eq!(
        (s, b["order"]["status"].as_str()),
        (200, Some("invoiced")),
        "{b}"
    );
    assert_eq!(b["order"]["fulfilment"]["invoice"]["has_xml"], true, "{b}");
    wait_sim_status(&vtex, &ext, OrderStatus::Invoiced).await;
    let pkg = package(&vtex, &ext);
    assert_eq!(pkg["type"], "Output", "{pkg}");
    assert_eq!(pkg["invoiceNumber"], "26", "{pkg}");
    assert_eq!(pkg["invoiceValue"], 50_000, "{pkg}");
    assert_eq!(pkg["invoiceKey"], KEY, "{pkg}");
    assert_eq!(pkg["invoiceUrl"], "https://erp.example.com/nfe/26.xml");
    assert_eq!(pkg["items"].as_array().unwrap().len(), 1, "{pkg}");
    let embedded = pkg["embeddedInvoice"].clone();

    // Shipment: the tracking number on the invoice.
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/shipment"),
            &json!({"tracking_code": "BR123456789BR",
                    "tracking_url": "https://rastreamento.correios.com.br/?o=BR123456789BR",
                    "carrier": "Correios", "shipped_at": "2026-11-23T12:00:00Z"}),
        )
        .await;
    assert_eq!(
        (s, b["order"]["status"].as_str()),
        (200, Some("shipped")),
        "{b}"
    );
    let pkg = until(WAIT, "tracking number at VTEX", || async {
        let pkg = package(&vtex, &ext);
        (pkg["trackingNumber"] == "BR123456789BR").then_some(pkg)
    })
    .await;
    assert_eq!(pkg["courier"], "Correios", "{pkg}");
    assert_eq!(
        pkg["trackingUrl"],
        "https://rastreamento.correios.com.br/?o=BR123456789BR"
    );

    // Delivery.
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/delivery"),
            &json!({"delivered_at": "2026-11-24T10:00:00Z"}),
        )
        .await;
    assert_eq!(
        (s, b["order"]["status"].as_str()),
        (200, Some("delivered")),
        "{b}"
    );
    until(WAIT, "isDelivered at VTEX", || async {
        let pkg = package(&vtex, &ext);
        (pkg["courierStatus"]["finished"] == true).then_some(())
    })
    .await;

    // The send history shows each, succeeded at the first attempt.
    let sends = settled_sends(&p, &oid, 4).await;
    let kinds: Vec<&str> = sends.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["separation", "invoice", "shipment", "delivery"]);
    for s in &sends {
        assert_eq!(s["state"], "succeeded", "{s}");
        assert_eq!(outcomes(s), ["succeeded"], "{s}");
        assert!(
            s["attempts"][0]["http_status"].as_u64().unwrap() < 300,
            "{s}"
        );
    }
    // The attempt's request is cut at 500 characters and the XML fills it; the string
    // form of `invoiceValue` is checked by send.rs's unit test (VTEX parsed it to 50000).
    let request = sends[1]["attempts"][0]["request"]
        .as_str()
        .unwrap_or_default();
    assert!(request.contains("/invoice"), "{request}");
    let detail = p.get(&format!("/api/v1/orders/{oid}")).await;
    let attempts = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "status_send_attempt")
        .count();
    assert_eq!(attempts, 4, "{detail}");
    // VTEX's own notifications of these changes do not move the order back.
    p.settle(WAIT).await;
    let o = imported(&p, &ext, WAIT).await;
    assert_eq!(o["status"], "delivered", "{o}");

    // Last, so that a missing XML does not hide the checks above.
    let xml = nfe_xml();
    let shown: String = embedded.to_string().chars().take(80).collect();
    assert!(
        embedded.as_str() == Some(xml.as_str()),
        "the NF-e XML ({} bytes) should be embedded in the invoice sent to VTEX; the \
         package's embeddedInvoice is {shown}",
        xml.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vtex_refuses_to_cancel_an_invoiced_order_and_cancels_a_paid_one() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let ch = id_of(&vtex.channel(&p, &json!({})).await);

    // Invoiced (the send starts handling itself), then cancelled in the ERP.
    let ext = vtex.order(true);
    let oid = id_of(&imported(&p, &ext, WAIT).await);
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/invoice"),
            &invoice_body(false),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    wait_sim_status(&vtex, &ext, OrderStatus::Invoiced).await;
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid}/cancel"),
            &json!({"reason": "customer", "note": "desistiu"}),
        )
        .await;
    assert_eq!(
        (s, b["send"]["state"].as_str()),
        (200, Some("queued")),
        "{b}"
    );
    let sends = settled_sends(&p, &oid, 2).await;
    assert_eq!(sends[0]["state"], "succeeded", "{}", sends[0]);
    let cancel = &sends[1];
    assert_eq!(cancel["kind"], "cancel");
    assert_eq!(cancel["state"], "failed", "{cancel}");
    assert_eq!(
        outcomes(cancel),
        ["failed"],
        "permanent: no retry: {cancel}"
    );
    assert_eq!(cancel["attempts_used"], 1, "{cancel}");
    let message = cancel["last_error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("does not cancel invoiced orders") && message.contains("26"),
        "a clear error naming the invoice: {cancel}"
    );
    assert_eq!(vtex.sim.status(&ext), Some(OrderStatus::Invoiced));
    let errors = p
        .get(&format!(
            "/api/v1/status-sends?state=failed&channel_id={ch}"
        ))
        .await;
    let failed: Vec<&Value> = errors["items"].as_array().unwrap().iter().collect();
    assert_eq!(failed.len(), 1, "{errors}");
    assert_eq!(failed[0]["id"], cancel["id"], "{errors}");

    // A paid order that was not invoiced is cancelled.
    let ext2 = vtex.order(true);
    let oid2 = id_of(&imported(&p, &ext2, WAIT).await);
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{oid2}/cancel"),
            &json!({"reason": "inventory"}),
        )
        .await;
    assert_eq!(
        (s, b["order"]["status"].as_str()),
        (200, Some("cancelled")),
        "{b}"
    );
    wait_sim_status(&vtex, &ext2, OrderStatus::Canceled).await;
    let sends = settled_sends(&p, &oid2, 1).await;
    assert_eq!(sends[0]["state"], "succeeded", "{}", sends[0]);
    assert_eq!(outcomes(&sends[0]), ["succeeded"]);
    let o = vtex.sim.order(&ext2).unwrap();
    assert_eq!(o["status"], "canceled", "{o}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_reaches_the_vtex_warehouse_through_a_lock() {
    let vtex = Vtex::start().await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let (s, w) = p
        .post(
            "/api/v1/warehouses",
            &json!({"code": "SP", "name": "São Paulo"}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let skus: Vec<_> = vtex.sim.skus().into_iter().take(2).collect();
    for sku in &skus {
        let (s, b) = p
            .post(
                "/api/v1/products",
                &json!({"sku": sku.ref_id, "name": sku.name}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let wh = vtex.sim.config().warehouses[0].0.clone();
    let ch = id_of(
        &vtex
            .channel(
                &p,
                &json!({"warehouse_id": wh, "send_stock": true, "stock_warehouses": ["SP"],
                        "debit_warehouse": "SP", "stock_buffer": 0}),
            )
            .await,
    );
    let listings: Vec<Value> = skus
        .iter()
        .map(|s| json!({"sku": s.ref_id, "product_id": s.product_id, "variant_id": s.id}))
        .collect();
    let (s, l) = p
        .post(
            &format!("/api/v1/channels/{ch}/listings"),
            &json!({ "listings": listings }),
        )
        .await;
    assert_eq!(s, 200, "{l}");
    // The first SKU's inventory is locked twice.
    vtex.sim.inject(lock_fault(
        format!("/inventory/skus/{}/warehouses/{wh}", skus[0].id),
        2,
    ));

    let (s, r) = p
        .post(
            "/api/v1/stock/movements",
            &json!({"movements": [
                {"sku": skus[0].ref_id, "warehouse": "SP", "set": 7, "reason": "inventário"},
                {"sku": skus[1].ref_id, "warehouse": "SP", "set": 3},
            ]}),
        )
        .await;
    assert_eq!((s, r["recorded"].as_u64()), (201, Some(2)), "{r}");
    until(WAIT, "stock pushed", || async {
        let st = p.get(&format!("/api/v1/channels/{ch}/stock")).await;
        (st["pending"] == 0 && st["pushed"] == 2).then_some(())
    })
    .await;
    let st = p.get(&format!("/api/v1/channels/{ch}/stock")).await;
    assert_eq!(st["failed"], 0, "{st}");
    assert_eq!(vtex.sim.stock(&skus[0].id, &wh), Some(7));
    assert_eq!(vtex.sim.stock(&skus[1].id, &wh), Some(3));

    // The lock was retried: two retrying pushes, then success; the other SKU once.
    let pushes = p
        .get(&format!("/api/v1/stock/pushes?channel_id={ch}&limit=100"))
        .await;
    let mut of_first: Vec<&Value> = pushes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["items"].to_string().contains(&skus[0].ref_id))
        .collect();
    of_first.sort_by_key(|x| x["seq"].as_i64());
    let seen: Vec<(&str, Option<u64>)> = of_first
        .iter()
        .map(|x| {
            (
                x["outcome"].as_str().unwrap_or_default(),
                x["http_status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("retrying", Some(423)),
            ("retrying", Some(423)),
            ("succeeded", Some(200))
        ],
        "{pushes}"
    );
    assert!(
        of_first[2]["request"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("/warehouses/{wh}")),
        "{pushes}"
    );

    // A later change goes out too.
    let (s, r) = p
        .post(
            "/api/v1/stock/movements",
            &json!({"sku": skus[0].ref_id, "warehouse": "SP", "delta": -2}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    until(WAIT, "second push", || async {
        (vtex.sim.stock(&skus[0].id, &wh) == Some(5)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_follows_the_channel_and_is_repaired() {
    let vtex = Vtex::start().await;

    // Without a public URL: polling only, and no hook at VTEX.
    {
        let dir = tempfile::tempdir().unwrap();
        let p = Ponte::start(dir.path(), &[]);
        let ch = vtex.channel(&p, &json!({})).await;
        let sub = subscription(&p, &id_of(&ch)).await;
        assert_eq!(sub["state"], "polling_only", "{sub}");
        assert!(
            sub["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("PONTE_PUBLIC_URL"),
            "{sub}"
        );
        assert!(vtex.sim.hook_config().is_none());
        assert_eq!(check(&p, &id_of(&ch)).await["state"], "polling_only");
        assert!(vtex.sim.hook_config().is_none());
    }

    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    let created = vtex.channel(&p, &json!({})).await;
    let ch = id_of(&created);
    let url = created["webhook_url"].as_str().unwrap().to_owned();
    assert_eq!(vtex.sim.hook_config().unwrap()["hook"]["url"], json!(url));
    let secret = vtex.hook_secret();
    let mut answers = vec![created.clone()];
    answers.push(p.get(&format!("/api/v1/channels/{ch}")).await);
    assert_eq!(answers[1]["subscription"]["state"], "active");

    // Disabled: the hook is removed.
    let r = p
        .http
        .delete(format!("{}/api/v1/channels/{ch}", p.base))
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    answers.push(r.json().await.unwrap());
    assert!(vtex.sim.hook_config().is_none(), "hook removed");
    let sub = subscription(&p, &ch).await;
    assert_eq!(sub["state"], "removed", "{sub}");
    assert!(!sub["changes"].as_array().unwrap().is_empty(), "{sub}");

    // Enabled again: registered again.
    let (s, b) = p
        .patch(&format!("/api/v1/channels/{ch}"), &json!({"enabled": true}))
        .await;
    assert_eq!(s, 200, "{b}");
    answers.push(b);
    let hook = vtex.sim.hook_config().expect("hook registered again");
    assert_eq!(hook["hook"]["url"], json!(url));
    assert_eq!(vtex.hook_secret(), secret, "the same secret");
    assert_eq!(subscription(&p, &ch).await["state"], "active");

    // Deleted at VTEX behind ponte's back: a check repairs it.
    assert_eq!(vtex.delete_hook(&p.http).await, 200);
    assert!(vtex.sim.hook_config().is_none());
    let c = check(&p, &ch).await;
    answers.push(c.clone());
    assert_eq!(c["state"], "active", "{c}");
    assert!(!c["changes"].as_array().unwrap().is_empty(), "{c}");
    assert_eq!(c["url"], json!(url), "{c}");
    assert!(!c["registered"].as_array().unwrap().is_empty(), "{c}");
    assert!(c["checked_at"].is_string(), "{c}");
    assert_eq!(vtex.sim.hook_config().unwrap()["hook"]["url"], json!(url));
    // Nothing to change on a second check.
    let c = check(&p, &ch).await;
    assert_eq!(c["state"], "active", "{c}");
    assert!(c["changes"].as_array().unwrap().is_empty(), "{c}");

    // The scheduled import run re-checks it too.
    assert_eq!(vtex.delete_hook(&p.http).await, 200);
    let import = id_of(&task(&p, &ch, "import_orders").await);
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(
        vtex.sim.hook_config().expect("repaired by the run")["hook"]["url"],
        json!(url)
    );
    // And orders flow by the repaired hook.
    let ext = vtex.order(true);
    imported(&p, &ext, WAIT).await;

    // Disabled while VTEX fails the removal: failed, and the disabled channel's next
    // scheduled run removes it.
    vtex.sim.inject(
        Fault::new("/api/orders/hook/config", 1, FaultKind::Status(500))
            .with_method(Method::DELETE),
    );
    let (s, b) = p
        .patch(
            &format!("/api/v1/channels/{ch}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let sub = subscription(&p, &ch).await;
    assert_eq!(sub["state"], "failed", "{sub}");
    assert!(vtex.sim.hook_config().is_some(), "still there");
    let run = run_now(&p, &import).await;
    assert_eq!(run["state"], "failed", "{run}");
    assert!(vtex.sim.hook_config().is_none(), "removed by the run");
    assert_eq!(subscription(&p, &ch).await["state"], "removed");

    // Credentials never appear in any channel answer.
    answers.push(p.get(&format!("/api/v1/channels/{ch}")).await);
    answers.push(p.get("/api/v1/channels").await);
    for a in &answers {
        assert_no_credentials(&vtex, &secret, a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuvemshop_webhooks_are_registered_per_order_event_and_removed() {
    let sim = Sim::start(Sim::unlimited()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = start_public(dir.path(), &[]);
    assert!(sim.sim.webhooks().is_empty());
    let (ch, url) = p.nuvemshop_channel(&sim, "paid_only").await;
    let hooks = sim.sim.webhooks();
    let mut events: Vec<&str> = hooks.iter().map(|h| h["event"].as_str().unwrap()).collect();
    events.sort_unstable();
    assert_eq!(
        events,
        [
            "order/cancelled",
            "order/created",
            "order/fulfilled",
            "order/packed",
            "order/paid",
            "order/updated"
        ],
        "one webhook per order event: {hooks:?}"
    );
    assert!(hooks.iter().all(|h| h["url"] == json!(url)), "{hooks:?}");
    let sub = subscription(&p, &ch).await;
    assert_eq!(sub["state"], "active", "{sub}");
    assert_eq!(sub["registered"].as_array().unwrap().len(), 6, "{sub}");
    // Checking again changes nothing.
    let c = check(&p, &ch).await;
    assert!(c["changes"].as_array().unwrap().is_empty(), "{c}");
    assert_eq!(sim.sim.webhooks().len(), 6);

    let r = p
        .http
        .delete(format!("{}/api/v1/channels/{ch}", p.base))
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for(WAIT, || async { sim.sim.webhooks().is_empty() }).await;
    assert_eq!(subscription(&p, &ch).await["state"], "removed");
}
