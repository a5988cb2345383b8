//! Auth, headers, rate limiting, fault injection and the request log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{relaxed, start, UA};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method, NewOrder, SimConfig};
use serde_json::{json, Value};

#[tokio::test]
async fn auth_and_user_agent() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let url = format!("{}/orders/{id}", ctx.base);

    // Missing token.
    let r = ctx
        .client
        .get(&url)
        .header("User-Agent", UA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-rate-limit-limit"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": 401, "message": "Unauthorized", "description": "Invalid access token"})
    );

    // Wrong token.
    let r = ctx
        .client
        .get(&url)
        .header("User-Agent", UA)
        .header("Authentication", "bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // `Authorization` is not the documented header.
    let r = ctx
        .client
        .get(&url)
        .header("User-Agent", UA)
        .header("Authorization", format!("Bearer {}", ctx.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Scheme is case-insensitive.
    let r = ctx
        .client
        .get(&url)
        .header("User-Agent", UA)
        .header("Authentication", format!("BEARER {}", ctx.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Missing User-Agent (reqwest sends none by default).
    let r = ctx
        .client
        .get(&url)
        .header("Authentication", format!("bearer {}", ctx.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Another store id.
    let other = url.replace(&format!("/v1/{}/", ctx.sim.config().store_id), "/v1/999/");
    let r = ctx.auth(ctx.client.get(other)).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Unknown order.
    let r = ctx.get("/orders/42").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": 404, "message": "Not Found", "description": "Order with such id does not exist"})
    );
    ctx.server.shutdown().await;
}

#[tokio::test]
async fn content_type_and_bad_json() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let url = format!("{}/orders/{id}/pack", ctx.base);
    let r = ctx.auth(ctx.client.post(&url)).send().await.unwrap();
    assert_eq!(r.status(), 415);
    let r = ctx
        .auth(ctx.client.post(&url))
        .header("Content-Type", "application/json; charset=utf-8")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "Problems parsing JSON"})
    );
    let r = ctx
        .auth(ctx.client.post(&url))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn leaky_bucket_overflows_with_headers() {
    let ctx = start(SimConfig::default()).await; // bucket 40, 2/s
    let id = ctx.sim.create_order(NewOrder::default());
    // Sent concurrently so the bucket cannot leak much meanwhile, even on a slow CI.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..45 {
        set.spawn(ctx.get(&format!("/orders/{id}")).send());
    }
    let mut ok = 0;
    let mut limited = Vec::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap().unwrap();
        let h = r.headers();
        assert_eq!(h["x-rate-limit-limit"], "40");
        assert!(h.contains_key("x-rate-limit-remaining"));
        assert!(h.contains_key("x-rate-limit-reset"));
        match r.status().as_u16() {
            200 => ok += 1,
            429 => limited.push((
                h["x-rate-limit-remaining"].to_str().unwrap().to_owned(),
                h["x-rate-limit-reset"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
                r.json::<Value>().await.unwrap(),
            )),
            s => panic!("unexpected {s}"),
        }
    }
    assert!(ok >= 40, "ok = {ok}");
    assert!(!limited.is_empty(), "no 429 in 45 quick requests");
    let (remaining, reset, body) = &limited[0];
    assert_eq!(remaining, "0");
    assert!(
        *reset > 10_000,
        "bucket of ~40 at 2/s empties in ~20 s, got {reset} ms"
    );
    assert_eq!(body, &json!({"code": 429, "message": "Too Many Requests"}));
    assert_eq!(
        ctx.sim.request_count(&Method::GET, &ctx.path("/orders/")),
        45
    );
}

#[tokio::test]
async fn faults_are_consumed_in_order() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let p = format!("/orders/{id}");
    ctx.sim
        .inject(Fault::new(p.clone(), 1, FaultKind::Status(500)).with_method(Method::GET));
    ctx.sim
        .inject(Fault::new(p.clone(), 1, FaultKind::Status(503)));
    ctx.sim.inject(Fault::new(
        p.clone(),
        1,
        FaultKind::RateLimited {
            retry_after_ms: 2500,
        },
    ));
    ctx.sim
        .inject(Fault::new(p.clone(), 1, FaultKind::Unauthorized));

    let r = ctx.get(&p).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 500);
    let r = ctx.get(&p).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("503 Service Unavailable"));
    let r = ctx.get(&p).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_eq!(r.headers()["x-rate-limit-reset"], "2500");
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    let r = ctx.get(&p).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = ctx.get(&p).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let statuses: Vec<u16> = ctx.sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 503, 429, 401, 200]);
    assert_eq!(ctx.sim.request_count(&Method::GET, &ctx.path(&p)), 5);
    assert_eq!(ctx.sim.request_count(&Method::POST, &ctx.path(&p)), 0);
}

#[tokio::test]
async fn raw_fault_answers_exactly_what_it_says() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let p = format!("/orders/{id}");
    ctx.sim.inject(Fault::new(
        p.clone(),
        1,
        FaultKind::Raw {
            status: 429,
            headers: vec![
                ("Retry-After".into(), "1e20".into()),
                ("bad header".into(), "left out".into()),
            ],
            body: "slow down".into(),
        },
    ));
    let r = ctx.get(&p).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1e20");
    assert!(
        !r.headers().contains_key("x-rate-limit-reset"),
        "no headers of its own, even with the bucket on"
    );
    assert_eq!(r.text().await.unwrap(), "slow down");
    assert_eq!(ctx.get(&p).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn delay_fault_causes_client_timeout() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    ctx.sim.inject(Fault::new(
        format!("/orders/{id}"),
        1,
        FaultKind::Delay(Duration::from_secs(30)),
    ));
    let err = ctx
        .get(&format!("/orders/{id}"))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let r = ctx.get(&format!("/orders/{id}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Shutdown cuts the pending delay short instead of waiting 30 s.
    tokio::time::timeout(Duration::from_secs(5), ctx.server.shutdown())
        .await
        .expect("shutdown did not wait for the injected delay");
}
