//! Values no one should send, sent anyway: absurd channel rate limits are refused
//! (422, nothing changed), and a platform asking to wait 10^20 seconds delays only
//! that order while ponte stays ready and keeps importing the others.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{importable, wait_for, Ponte, Sim};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method};
use serde_json::{json, Value};
use std::time::Duration;

/// `/ready`: status and body.
async fn ready(ponte: &Ponte) -> (u16, String) {
    let r = ponte
        .http
        .get(format!("{}/ready", ponte.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_rate_limits_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;
    let ponte = Ponte::start(dir.path(), &[]);
    let (id, _) = ponte
        .nuvemshop_channel_limited(&sim, "all", 2.0, 40.0)
        .await;
    let before = ponte.get(&format!("/api/v1/channels/{id}")).await;
    let create = |settings: Value| {
        json!({
            "platform": "nuvemshop",
            "name": "Loja",
            "settings": settings,
            "credentials": {"access_token": "t", "app_secret": "s"}
        })
    };
    let per_sec = "rate_limit_per_sec must be a number from 0.01 to 1000000";
    let burst = "rate_limit_burst must be a number from 1 to 1000000";
    let cases = [
        (json!({"rate_limit_per_sec": 1e-300}), per_sec),
        (json!({"rate_limit_per_sec": 0.001}), per_sec),
        (json!({"rate_limit_per_sec": 0}), per_sec),
        (json!({"rate_limit_per_sec": -2}), per_sec),
        (json!({"rate_limit_per_sec": 1e300}), per_sec),
        (json!({"rate_limit_burst": 1e-300}), burst),
        (json!({"rate_limit_burst": 0.5}), burst),
        (json!({"rate_limit_burst": 1e7}), burst),
        // JSON has no NaN or infinity: spelled as strings, they are not numbers.
        (json!({"rate_limit_per_sec": "NaN"}), "expected f64"),
        (json!({"rate_limit_burst": "Infinity"}), "expected f64"),
    ];
    for (bad, says) in cases {
        let mut settings = json!({"store_id": "123456", "api_base_url": sim.base_url});
        settings
            .as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        let (s, b) = ponte.post("/api/v1/channels", &create(settings)).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("invalid_settings")),
            "{bad}: {b}"
        );
        assert!(b["detail"].as_str().unwrap().contains(says), "{bad}: {b}");
        let (s, b) = ponte
            .patch(&format!("/api/v1/channels/{id}"), &json!({"settings": bad}))
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (422, Some("invalid_settings")),
            "{bad}: {b}"
        );
        assert!(b["detail"].as_str().unwrap().contains(says), "{bad}: {b}");
    }
    let channels = ponte.get("/api/v1/channels").await;
    assert_eq!(
        channels["items"].as_array().unwrap().len(),
        1,
        "none created"
    );
    let after = ponte.get(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(after, before, "the channel did not change");
    // The bounds themselves are accepted.
    let (s, b) = ponte
        .patch(
            &format!("/api/v1/channels/{id}"),
            &json!({"settings": {"rate_limit_per_sec": 0.01, "rate_limit_burst": 1}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(ready(&ponte).await, (200, "ready".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_1e20_delays_one_order_and_kills_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(Sim::unlimited()).await;
    let ids = sim.sim.generate_orders(40, 3);
    let wanted: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| importable(&sim.sim.order(*id).unwrap()))
        .collect();
    let (held, others) = wanted.split_first().unwrap();
    // `/orders/{held}` names that order only (ids of one length).
    assert!(ids
        .iter()
        .all(|i| i.to_string().len() == held.to_string().len()));
    sim.sim.inject(
        Fault::new(
            format!("/orders/{held}"),
            1,
            FaultKind::Raw {
                status: 429,
                headers: vec![("Retry-After".into(), "1e20".into())],
                body: r#"{"code":429,"message":"Too Many Requests"}"#.into(),
            },
        )
        .with_method(Method::GET),
    );
    let mut ponte = Ponte::start(dir.path(), &[]);
    let (_, url) = ponte.nuvemshop_channel(&sim, "all").await;
    let http = reqwest::Client::new();
    assert_eq!(sim.notify(&http, &url, "order/created", *held).await, 200);
    wait_for(Duration::from_secs(30), || async {
        sim.sim.requests().iter().any(|r| r.status == 429)
    })
    .await;

    // Work after the absurd answer goes on.
    for id in others {
        assert_eq!(sim.notify(&http, &url, "order/created", *id).await, 200);
    }
    wait_for(Duration::from_secs(60), || async {
        ponte.all_orders().await.len() == others.len()
    })
    .await;
    let mut got: Vec<String> = (ponte.all_orders().await.iter())
        .map(|o| o["external_id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want: Vec<String> = others.iter().map(u64::to_string).collect();
    want.sort();
    assert_eq!(got, want);
    // The held order waits (capped, not forever and not overflowing), still received.
    let waiting = ponte.get("/api/v1/webhook-deliveries?state=received").await;
    let waiting: Vec<&str> = (waiting["items"].as_array().unwrap().iter())
        .map(|d| d["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(waiting, [held.to_string()]);
    assert_eq!(ready(&ponte).await, (200, "ready".to_owned()));
    assert!(
        !ponte.metrics().await.contains("ponte_panics_total{"),
        "nothing panicked"
    );
    assert!(ponte.child.try_wait().unwrap().is_none(), "still running");
    ponte.terminate();
}
