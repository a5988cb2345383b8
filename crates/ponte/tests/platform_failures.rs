//! Platform errors during import: 5xx and timeouts are retried, 429 waits for the
//! platform's hint, 401 and 404 become visible failures on the delivery (SQLite and
//! PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, Sim, Storage};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method};
use std::time::{Duration, Instant};

fn kinds(order: &serde_json::Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(
    retries_waits_and_visible_failures,
    channel_api_and_webhook_refusals
);

async fn retries_waits_and_visible_failures(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let ids = sim.sim.generate_orders(40, 3);
    let ids: Vec<u64> = ids
        .into_iter()
        .filter(|id| sim.sim.set_payment_status(*id, "paid").is_ok())
        .take(5)
        .collect();
    assert_eq!(ids.len(), 5);
    let ponte = storage.start(&[("PONTE_PLATFORM_TIMEOUT_MS", "400")]);
    let (_ch, url) = ponte.nuvemshop_channel(&sim, "paid_only").await;
    let http = reqwest::Client::new();

    let path = |id: u64| format!("/orders/{id}");
    sim.sim
        .inject(Fault::new(path(ids[0]), 2, FaultKind::Status(503)).with_method(Method::GET));
    sim.sim.inject(Fault::new(
        path(ids[1]),
        1,
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    sim.sim.inject(Fault::new(
        path(ids[2]),
        1,
        FaultKind::RateLimited {
            retry_after_ms: 1500,
        },
    ));
    sim.sim
        .inject(Fault::new(path(ids[3]), 1, FaultKind::Unauthorized));
    sim.sim
        .inject(Fault::new(path(ids[4]), 1, FaultKind::Status(404)));

    let started = Instant::now();
    for id in &ids {
        assert_eq!(sim.notify(&http, &url, "order/paid", *id).await, 200);
    }
    ponte.settle(Duration::from_secs(30)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the 429 wait was honoured"
    );

    let orders = ponte.all_orders().await;
    let mut imported: Vec<String> = orders
        .iter()
        .map(|o| o["external_id"].as_str().unwrap().to_owned())
        .collect();
    imported.sort();
    let mut want: Vec<String> = ids[..3].iter().map(u64::to_string).collect();
    want.sort();
    assert_eq!(
        imported, want,
        "5xx, timeout and 429 recover; 401 and 404 do not import"
    );

    // Three fetches for the 503 order, each in its timeline.
    assert_eq!(sim.sim.request_count_exact(&Method::GET, &path(ids[0])), 3);
    let o = orders
        .iter()
        .find(|o| {
            o["external_id"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                == Some(ids[0])
        })
        .unwrap();
    let detail = ponte
        .get(&format!("/api/v1/orders/{}", o["id"].as_str().unwrap()))
        .await;
    let k = kinds(&detail);
    assert_eq!(k.iter().filter(|k| *k == "fetched").count(), 3, "{k:?}");
    assert_eq!(k.iter().filter(|k| *k == "imported").count(), 1, "{k:?}");

    let failed = ponte.get("/api/v1/webhook-deliveries?state=failed").await;
    let failed = failed["items"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:?}");
    let errors: Vec<(&str, &str)> = failed
        .iter()
        .map(|d| {
            (
                d["resource_id"].as_str().unwrap(),
                d["error"].as_str().unwrap(),
            )
        })
        .collect();
    let for_id = |id: u64| errors.iter().find(|(r, _)| *r == id.to_string()).unwrap().1;
    assert!(
        for_id(ids[3]).starts_with("platform_auth_failed"),
        "{errors:?}"
    );
    assert!(
        for_id(ids[4]).starts_with("platform_not_found"),
        "{errors:?}"
    );
    assert!(
        ponte
            .metric("ponte_platform_calls_total{platform=\"nuvemshop\",status=\"503\"}")
            .await
            >= 2.0
    );
}

async fn channel_api_and_webhook_refusals(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let ponte = storage.start(&[]);
    let http = reqwest::Client::new();

    // Every /api route needs the token.
    for (path, token) in [
        ("/api/v1/channels", None),
        ("/api/v1/orders", Some("wrong-token")),
        ("/api/v1/openapi.json", None),
    ] {
        let mut req = http.get(format!("{}{path}", ponte.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["code"], "unauthorized");
    }
    let doc = ponte.get("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/channels"].is_object());

    // Bad channel input: clear codes, nothing created.
    let bad = [
        (
            serde_json::json!({"platform": "nuvemshop", "name": "x", "settings": {"store_id": "1", "colour": 1}, "credentials": {"access_token": "a", "app_secret": "b"}}),
            "unknown_setting",
        ),
        (
            serde_json::json!({"platform": "magento9", "name": "x", "settings": {}, "credentials": {}}),
            "unknown_platform",
        ),
        (
            serde_json::json!({"platform": "nuvemshop", "name": "x", "settings": {"store_id": "1"}, "credentials": {"access_token": "a"}}),
            "invalid_settings",
        ),
        (serde_json::json!({"platform": "nuvemshop"}), "invalid_body"),
    ];
    for (body, code) in bad {
        let (status, p) = ponte.post("/api/v1/channels", &body).await;
        assert_eq!(
            (status / 100, p["code"].as_str().unwrap()),
            (4, code),
            "{body}"
        );
    }
    assert!(ponte.get("/api/v1/channels").await["items"]
        .as_array()
        .unwrap()
        .is_empty());

    let (id, url) = ponte.nuvemshop_channel(&sim, "all").await;
    let shown = ponte.get(&format!("/api/v1/channels/{id}")).await;
    assert!(
        shown.get("credentials").is_none(),
        "credentials are never returned"
    );
    assert!(!shown.to_string().contains("sim-secret") && !shown.to_string().contains("sim-token"));
    assert!(
        !storage.shows("sim-secret").await,
        "credentials are encrypted at rest"
    );
    assert!(
        storage.shows("Loja Teste").await,
        "the search sees the rest"
    );

    // PATCH merges settings; an unknown key is refused and changes nothing.
    let r = http
        .patch(format!("{}/api/v1/channels/{id}", ponte.base))
        .bearer_auth(common::TOKEN)
        .json(&serde_json::json!({"settings": {"import_policy": "paid_only"}, "name": "Renomeada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ch: serde_json::Value = r.json().await.unwrap();
    assert_eq!(ch["settings"]["import_policy"], "paid_only");
    assert_eq!(ch["settings"]["api_base_url"], sim.base_url.as_str());
    assert_eq!(ch["name"], "Renomeada");
    let r = http
        .patch(format!("{}/api/v1/channels/{id}", ponte.base))
        .bearer_auth(common::TOKEN)
        .json(&serde_json::json!({"settings": {"nope": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);

    // Unknown channel, then a disabled one: refused, nothing stored.
    let other = format!(
        "{}/webhooks/{}",
        ponte.base, "01900000-0000-7000-8000-000000000000"
    );
    let body = sim.sim.notification_body("order/paid", 1);
    let sig = sim.sim.signature(&body);
    let (s, p) = Sim::post_raw(&http, &other, body.clone(), Some(&sig)).await;
    assert_eq!((s, p["code"].as_str()), (404, Some("channel_not_found")));
    let r = http
        .delete(format!("{}/api/v1/channels/{id}", ponte.base))
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, p) = Sim::post_raw(&http, &url, body, Some(&sig)).await;
    assert_eq!((s, p["code"].as_str()), (410, Some("channel_disabled")));
    assert!(ponte.get("/api/v1/webhook-deliveries").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        ponte.get(&format!("/api/v1/channels/{id}")).await["enabled"],
        false
    );

    // Other events are acknowledged, recorded as ignored and counted.
    let r = http
        .patch(format!("{}/api/v1/channels/{id}", ponte.base))
        .bearer_auth(common::TOKEN)
        .json(&serde_json::json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = sim.sim.notification_body("product/created", 1948209);
    let sig = sim.sim.signature(&body);
    let (s, p) = Sim::post_raw(&http, &url, body, Some(&sig)).await;
    assert_eq!((s, p["state"].as_str()), (200, Some("ignored")));
    let d = ponte.get("/api/v1/webhook-deliveries?state=ignored").await;
    assert_eq!(d["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        ponte
            .metric("ponte_webhook_deliveries_total{result=\"ignored\"}")
            .await,
        1.0
    );
    let r = http
        .get(format!("{}/api/v1/orders?status=bogus", ponte.base))
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = http
        .get(format!("{}/api/v1/orders?cursor=zzz", ponte.base))
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
