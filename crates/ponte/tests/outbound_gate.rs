//! Outbound calls cannot be aimed at ponte's own network and cannot carry credentials
//! away: private addresses are refused when a channel is saved and again when it
//! connects, redirects are never followed, answers are read with a cap, and the host
//! a channel calls changes only together with its credentials. Also: server errors
//! say nothing but a request id, and a disabled channel's 410 needs a valid signature.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{run_now, task, until, Backend, Ponte, Sim, Storage, TOKEN};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method, NewOrder, PaymentStatus};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const STRICT: (&str, &str) = ("PONTE_ALLOW_PRIVATE_NETWORKS", "false");

fn nuvemshop(api_base_url: &str) -> Value {
    json!({"platform": "nuvemshop", "name": "Loja", "settings": {"store_id": "1", "api_base_url": api_base_url},
           "credentials": {"access_token": "t", "app_secret": "s"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_when_a_channel_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let ponte = Ponte::start(dir.path(), &[STRICT]);
    for url in [
        "http://127.0.0.1:9900/v1",
        "http://localhost:9900/v1",
        "http://169.254.169.254/latest",
        "http://10.0.0.8/v1",
        "http://172.20.1.1/v1",
        "http://192.168.0.10/v1",
        "http://100.64.0.1/v1",
        "http://0.0.0.0/v1",
        "http://[::1]:9900/v1",
        "http://[fd00::1]/v1",
        "http://[fe80::1]/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "http://[::ffff:169.254.169.254]/v1",
    ] {
        let (status, p) = ponte.post("/api/v1/channels", &nuvemshop(url)).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (422, Some("forbidden_address")),
            "{url}: {p}"
        );
    }
    let (status, p) = ponte
        .post(
            "/api/v1/channels",
            &json!({"platform": "vtex", "name": "V", "settings": {"account": "loja", "api_base_url": "http://127.0.0.1:1"},
                    "credentials": {"app_key": "k", "app_token": "t"}}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("forbidden_address")),
        "{p}"
    );
    assert!(ponte.get("/api/v1/channels").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // A public address is accepted (it is not called here).
    let (status, p) = ponte
        .post("/api/v1/channels", &nuvemshop("https://8.8.8.8/v1"))
        .await;
    assert_eq!(status, 201, "{p}");
    // Nor can a saved channel be pointed at a private address later.
    let id = p["id"].as_str().unwrap();
    let (status, p) = ponte
        .patch(
            &format!("/api/v1/channels/{id}"),
            &json!({"settings": {"api_base_url": "http://127.0.0.1:1/v1"},
                    "credentials": {"access_token": "t", "app_secret": "s"}}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("forbidden_address")),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_are_checked_again_when_ponte_connects() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;
    let port = sim
        .base_url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // Saved while private networks were allowed: one by name, one by literal address.
    let mut open = Ponte::start(dir.path(), &[]);
    let mut ids = vec![];
    for base in [
        format!("http://localhost:{port}/v1"),
        format!("http://127.0.0.1:{port}/v1"),
    ] {
        let mut body = nuvemshop(&base);
        body["settings"]["store_id"] = json!(sim.sim.config().store_id.to_string());
        body["credentials"] = json!({"access_token": sim.sim.config().access_token, "app_secret": sim.sim.config().app_secret});
        let (status, ch) = open.post("/api/v1/channels", &body).await;
        assert_eq!(status, 201, "{ch}");
        ids.push(ch["id"].as_str().unwrap().to_owned());
    }
    open.terminate();

    let strict = Ponte::start(dir.path(), &[STRICT]);
    let before = sim.sim.request_count(&Method::GET, "/orders");
    for id in &ids {
        let t = task(&strict, id, "import_orders").await;
        let run = run_now(&strict, t["id"].as_str().unwrap()).await;
        assert_eq!(run["state"], "failed", "{run}");
        assert!(
            run["error"].as_str().unwrap().contains("forbidden"),
            "{run}"
        );
    }
    assert_eq!(
        sim.sim.request_count(&Method::GET, "/orders"),
        before,
        "no call reached the private address"
    );
}

/// A server that counts what reaches it (where a redirect would lead).
async fn trap() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            "{}"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/steal"), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_large_answers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;
    let ponte = Ponte::start(dir.path(), &[]);
    let (_ch, url) = ponte.nuvemshop_channel(&sim, "all").await;
    let (trap_url, hits) = trap().await;
    let paid = || {
        sim.sim.create_order(NewOrder {
            payment_status: PaymentStatus::Paid,
            ..NewOrder::default()
        })
    };
    let (redirected, oversized, fine) = (paid(), paid(), paid());
    sim.sim.inject(
        Fault::new(
            format!("/orders/{redirected}"),
            1,
            FaultKind::Redirect(trap_url.clone()),
        )
        .with_method(Method::GET),
    );
    sim.sim.inject(
        Fault::new(
            format!("/orders/{oversized}"),
            1,
            FaultKind::Oversized(40 << 20),
        )
        .with_method(Method::GET),
    );
    for id in [redirected, oversized, fine] {
        assert_eq!(sim.notify(&ponte.http, &url, "order/paid", id).await, 200);
    }
    ponte.settle(Duration::from_secs(30)).await;
    let failed = ponte.get("/api/v1/webhook-deliveries?state=failed").await;
    let error_of = |id: u64| -> String {
        failed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["resource_id"].as_str() == Some(id.to_string().as_str()))
            .map(|d| d["error"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no failed delivery for {id}: {failed}"))
    };
    assert!(error_of(redirected).contains("HTTP 302"), "{failed}");
    assert!(
        error_of(oversized).contains("larger than 32 MiB"),
        "{failed}"
    );
    let orders = ponte.all_orders().await;
    assert_eq!(orders.len(), 1, "only the well-answered order is imported");
    assert_eq!(orders[0]["external_id"], fine.to_string());

    // A send answered with a redirect fails as that answer; nothing follows it.
    sim.sim.inject(
        Fault::new("/fulfillment-orders/", 1, FaultKind::Redirect(trap_url))
            .with_method(Method::PATCH),
    );
    let order = orders[0]["id"].as_str().unwrap();
    let (s, _) = ponte
        .post(&format!("/api/v1/orders/{order}/separation"), &json!({}))
        .await;
    assert_eq!(s, 200);
    let send = until(Duration::from_secs(30), "send settled", || async {
        let page = ponte
            .get(&format!("/api/v1/status-sends?order_id={order}"))
            .await;
        let s = page["items"][0].clone();
        (s["state"] == "failed" || s["state"] == "succeeded").then_some(s)
    })
    .await;
    assert_eq!(send["state"], "failed", "{send}");
    assert_eq!(send["attempts"][0]["http_status"], 302, "{send}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request followed a redirect"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_a_channel_calls_changes_only_with_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;
    let ponte = Ponte::start(dir.path(), &[]);
    let (id, _) = ponte.nuvemshop_channel(&sim, "all").await;
    let path = format!("/api/v1/channels/{id}");
    let (status, p) = ponte
        .patch(
            &path,
            &json!({"settings": {"api_base_url": "http://127.0.0.2:1/v1"}}),
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("credentials_required")),
        "{p}"
    );
    assert_eq!(
        ponte.get(&path).await["settings"]["api_base_url"],
        sim.base_url.as_str(),
        "nothing changed"
    );
    // Same host, other settings: no credentials needed.
    let (status, p) = ponte
        .patch(&path, &json!({"settings": {"import_policy": "paid_only"}}))
        .await;
    assert_eq!(status, 200, "{p}");
    let (status, p) = ponte
        .patch(
            &path,
            &json!({"settings": {"api_base_url": "http://127.0.0.2:1/v1"},
                    "credentials": {"access_token": "other", "app_secret": "other"}}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["settings"]["api_base_url"], "http://127.0.0.2:1/v1");

    // VTEX: the account names the host.
    let (status, v) = ponte
        .post(
            "/api/v1/channels",
            &json!({"platform": "vtex", "name": "V", "settings": {"account": "lojaa"},
                    "credentials": {"app_key": "k", "app_token": "t"}}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let vpath = format!("/api/v1/channels/{}", v["id"].as_str().unwrap());
    let (status, p) = ponte
        .patch(&vpath, &json!({"settings": {"account": "outra"}}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("credentials_required")),
        "{p}"
    );
    let (status, p) = ponte
        .patch(&vpath, &json!({"settings": {"environment": "myvtex"}}))
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (422, Some("credentials_required")),
        "{p}"
    );
    assert_eq!(ponte.get(&vpath).await["settings"]["account"], "lojaa");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_channel_answers_410_only_to_a_valid_signature() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;
    let ponte = Ponte::start(dir.path(), &[]);
    let (id, url) = ponte.nuvemshop_channel(&sim, "all").await;
    let (s, _) = ponte
        .patch(
            &format!("/api/v1/channels/{id}"),
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(s, 200);
    let body = sim.sim.notification_body("order/paid", 1);
    for sig in [None, Some("bm90IHRoZSBzaWduYXR1cmU=")] {
        let (s, p) = Sim::post_raw(&ponte.http, &url, body.clone(), sig).await;
        assert_eq!(s, 401, "{p}");
    }
    let sig = sim.sim.signature(&body);
    let (s, p) = Sim::post_raw(&ponte.http, &url, body, Some(&sig)).await;
    assert_eq!((s, p["code"].as_str()), (410, Some("channel_disabled")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_answer_a_request_id_and_nothing_else() {
    let storage = Storage::new(Backend::Postgres).await;
    let db = storage.pg();
    let ponte = storage.start(&[("PONTE_DATABASE_MAX_CONNECTIONS", "4")]);
    db.scalar("SELECT COUNT(*) FROM (SELECT 1) x").await;
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE warehouses RENAME TO warehouses_gone")
        .execute(&mut conn)
        .await
        .unwrap();
    let r = ponte
        .http
        .get(format!("{}/api/v1/warehouses", ponte.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "storage_error");
    let rid = p["request_id"].as_str().unwrap();
    assert!(p["detail"].as_str().unwrap().contains(rid), "{p}");
    let text = p.to_string();
    for leak in [
        "warehouses",
        "relation",
        "does not exist",
        "sqlx",
        "postgres",
    ] {
        assert!(!text.contains(leak), "the error leaked `{leak}`: {p}");
    }
}
