//! ERP actions and status sends end to end: the real binary, the Nuvemshop simulator
//! (Fulfillment Order API and metafields), injected 5xx, timeouts, 429, 401 and 422;
//! SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{wait_for, Backend, Ponte, Sim, Storage};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method, NewOrder, PaymentStatus};
use serde_json::{json, Value};
use std::time::Duration;

const KEY: &str = "43180906929383000163550010000000261000010301";

fn nfe_xml() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
    );
    std::fs::read_to_string(path).unwrap()
}

fn invoice_body() -> Value {
    json!({"number": "26", "series": "1", "access_key": KEY, "issued_at": "2018-09-25T03:00:00Z",
           "total_cents": 50000, "xml_url": "https://erp.example.com/nfe/26.xml"})
}

fn shipment_body() -> Value {
    json!({"tracking_code": "BR123456789BR", "tracking_url": "https://rastreamento.correios.com.br/?o=BR123456789BR",
           "carrier": "Correios", "shipped_at": "2026-11-23T12:00:00Z"})
}

/// Creates a paid order at the platform, notifies ponte and returns ponte's order id.
async fn imported_order(p: &Ponte, sim: &Sim, url: &str) -> (u64, String) {
    let ext = sim.sim.create_order(NewOrder {
        payment_status: PaymentStatus::Paid,
        ..NewOrder::default()
    });
    (ext, p.imported(sim, url, ext).await)
}

async fn sends_of(p: &Ponte, order: &str) -> Vec<Value> {
    let page = p
        .get(&format!("/api/v1/status-sends?order_id={order}&limit=100"))
        .await;
    let mut v = page["items"].as_array().unwrap().clone();
    v.sort_by_key(|s| s["seq"].as_i64());
    v
}

/// Waits until every send of the order is out of `pending`; returns them.
async fn settled_sends(p: &Ponte, order: &str) -> Vec<Value> {
    wait_for(Duration::from_secs(30), || async {
        sends_of(p, order)
            .await
            .iter()
            .all(|s| s["state"] != "pending")
    })
    .await;
    sends_of(p, order).await
}

fn outcomes(send: &Value) -> Vec<String> {
    send["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(
    erp_actions_reach_the_platform_in_order,
    failures_are_retried_shown_and_resent,
    automations_decide_what_is_sent
);

async fn erp_actions_reach_the_platform_in_order(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let p = storage.start(&[]);
    let (_, url) = p.nuvemshop_channel(&sim, "paid_only").await;
    let (ext, id) = imported_order(&p, &sim, &url).await;

    // Refusals change nothing and have stable codes.
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{id}/delivery"),
            &json!({"delivered_at": "2026-11-24T10:00:00Z"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (409, Some("not_shipped")), "{b}");
    let mut bad_key = invoice_body();
    bad_key["access_key"] = json!(KEY.replace("0301", "0302"));
    let (s, b) = p
        .post(&format!("/api/v1/orders/{id}/invoice"), &bad_key)
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("invalid_nfe_key")),
        "{b}"
    );
    let mut mismatch = invoice_body();
    mismatch["xml"] = json!(nfe_xml());
    mismatch["total_cents"] = json!(49_999);
    let (s, b) = p
        .post(&format!("/api/v1/orders/{id}/invoice"), &mismatch)
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("nfe_xml_mismatch")),
        "{b}"
    );
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{id}/shipment"),
            &json!({"tracking_number": "x", "shipped_at": "2026-11-23T12:00:00Z"}),
        )
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("invalid_body")), "{b}");
    let (s, _) = p
        .post(
            "/api/v1/orders/00000000-0000-7000-8000-000000000000/separation",
            &json!({}),
        )
        .await;
    assert_eq!(s, 404);
    let mut huge = invoice_body();
    huge["xml"] = json!("x".repeat(3 * 1024 * 1024));
    // Its own connection: the server answers before reading the whole body and closes it.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/orders/{id}/invoice", p.base))
        .bearer_auth(common::TOKEN)
        .json(&huge)
        .send()
        .await
        .unwrap();
    let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
    assert_eq!(
        (s, b["code"].as_str()),
        (413, Some("payload_too_large")),
        "{b}"
    );
    assert!(sends_of(&p, &id).await.is_empty());

    // The happy path, each action once, the first one twice (one event).
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{id}/separation"),
            &json!({"kind": "separation"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["changed"].as_bool(), b["send"]["state"].as_str()),
        (Some(true), Some("queued"))
    );
    assert_eq!(b["order"]["status"], "in_separation");
    let (_, again) = p
        .post(
            &format!("/api/v1/orders/{id}/separation"),
            &json!({"kind": "separation"}),
        )
        .await;
    assert_eq!(
        (again["changed"].as_bool(), again["send"]["state"].as_str()),
        (Some(false), Some("already_recorded"))
    );
    let mut inv = invoice_body();
    inv["xml"] = json!(nfe_xml());
    let (s, b) = p.post(&format!("/api/v1/orders/{id}/invoice"), &inv).await;
    assert_eq!(
        (s, b["order"]["status"].as_str()),
        (200, Some("invoiced")),
        "{b}"
    );
    assert_eq!(b["order"]["fulfilment"]["invoice"]["has_xml"], true);
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{id}/collection-order"),
            &json!({"code": "COL-1", "created_at": "2026-11-23T11:00:00Z"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["order"]["status"], "invoiced");
    assert_eq!(
        b["send"]["code"], "not_supported_by_platform",
        "Nuvemshop has no pickup-order field"
    );
    let (s, b) = p
        .post(&format!("/api/v1/orders/{id}/shipment"), &shipment_body())
        .await;
    assert_eq!(
        (s, b["order"]["status"].as_str()),
        (200, Some("shipped")),
        "{b}"
    );
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{id}/delivery"),
            &json!({"delivered_at": "2026-11-24T10:00:00Z"}),
        )
        .await;
    assert_eq!(
        (s, b["order"]["status"].as_str()),
        (200, Some("delivered")),
        "{b}"
    );
    let (s, b) = p
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            &json!({"reason": "customer"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (409, Some("already_shipped")),
        "{b}"
    );

    let sends = settled_sends(&p, &id).await;
    let kinds: Vec<_> = sends.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["separation", "invoice", "shipment", "delivery"]);
    for s in &sends {
        assert_eq!(s["state"], "succeeded", "{s}");
        assert_eq!(outcomes(s), ["succeeded"], "{s}");
        assert!(s["attempts"][0]["http_status"].as_u64().unwrap() < 300);
    }
    // The platform saw it all, in order.
    let fo = sim.sim.fulfillment_order(ext).unwrap();
    assert_eq!(fo["status"], "DELIVERED", "{fo}");
    assert_eq!(fo["tracking_info"]["code"], "BR123456789BR", "{fo}");
    let mf = sim.sim.metafields_for(ext);
    let value = |k: &str| {
        mf.iter()
            .find(|m| m["key"] == k)
            .map(|m| m["value"].clone())
    };
    assert_eq!(value("key"), Some(json!(KEY)));
    assert_eq!(
        value("link"),
        Some(json!("https://erp.example.com/nfe/26.xml"))
    );
    // The order's timeline and the CSV report show every send.
    let detail = p.get(&format!("/api/v1/orders/{id}")).await;
    let kinds: Vec<_> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "erp_action").count(), 5);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "status_send_attempt")
            .count(),
        4
    );
    let csv = p
        .http
        .get(format!(
            "{}/api/v1/status-sends?order_id={id}&format=csv",
            p.base
        ))
        .bearer_auth(common::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text
        .lines()
        .next()
        .unwrap()
        .starts_with("id,created_at,channel_id,order_id"));
}

async fn failures_are_retried_shown_and_resent(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let p = storage.start(&[("PONTE_PLATFORM_TIMEOUT_MS", "1000")]);
    let (channel, url) = p.nuvemshop_channel(&sim, "paid_only").await;
    let sep = json!({"kind": "separation"});

    // 5xx twice, then success: three attempts, the last succeeded.
    let (ext, a) = imported_order(&p, &sim, &url).await;
    sim.sim.inject(
        Fault::new(
            format!("/orders/{ext}/fulfillment-orders/"),
            2,
            FaultKind::Status(500),
        )
        .with_method(Method::PATCH),
    );
    p.post(&format!("/api/v1/orders/{a}/separation"), &sep)
        .await;
    let s = &settled_sends(&p, &a).await[0];
    assert_eq!(outcomes(s), ["retrying", "retrying", "succeeded"], "{s}");
    assert_eq!(
        (s["state"].as_str(), s["attempts_used"].as_u64()),
        (Some("succeeded"), Some(3))
    );

    // A timeout, then success.
    let (ext, b) = imported_order(&p, &sim, &url).await;
    sim.sim.inject(
        Fault::new(
            format!("/orders/{ext}/fulfillment-orders"),
            1,
            FaultKind::Delay(Duration::from_secs(3)),
        )
        .with_method(Method::GET),
    );
    p.post(&format!("/api/v1/orders/{b}/separation"), &sep)
        .await;
    let s = &settled_sends(&p, &b).await[0];
    assert_eq!(outcomes(s), ["retrying", "succeeded"], "{s}");
    assert_eq!(s["attempts"][0]["error_code"], "platform_unavailable");

    // 429 with Retry-After: waits, does not use an attempt.
    let (ext, c) = imported_order(&p, &sim, &url).await;
    sim.sim.inject(Fault::new(
        format!("/orders/{ext}/fulfillment-orders"),
        1,
        FaultKind::RateLimited {
            retry_after_ms: 300,
        },
    ));
    p.post(&format!("/api/v1/orders/{c}/separation"), &sep)
        .await;
    let s = &settled_sends(&p, &c).await[0];
    assert_eq!(outcomes(s), ["rate_limited", "succeeded"], "{s}");
    assert_eq!(s["attempts_used"], 1);

    // 422: permanent, one attempt, listed under Errors.
    let (ext, d) = imported_order(&p, &sim, &url).await;
    sim.sim.inject(
        Fault::new(
            format!("/orders/{ext}/fulfillment-orders/"),
            1,
            FaultKind::Status(422),
        )
        .with_method(Method::PATCH),
    );
    p.post(&format!("/api/v1/orders/{d}/separation"), &sep)
        .await;
    let s = &settled_sends(&p, &d).await[0];
    assert_eq!(
        (s["state"].as_str(), outcomes(s)),
        (Some("failed"), vec!["failed".to_owned()]),
        "{s}"
    );
    assert_eq!(s["last_error"]["code"], "platform_rejected");

    // Out of attempts: failed; the next event of the order waits (blocked) until the
    // failed one is resent, then both go out, in order.
    let (ext, e) = imported_order(&p, &sim, &url).await;
    sim.sim
        .inject(Fault::new("/metafields", 3, FaultKind::Status(503)).with_method(Method::POST));
    p.post(&format!("/api/v1/orders/{e}/invoice"), &invoice_body())
        .await;
    let s = &settled_sends(&p, &e).await[0];
    assert_eq!(
        (s["state"].as_str(), s["attempts_used"].as_u64()),
        (Some("failed"), Some(3)),
        "{s}"
    );
    p.post(&format!("/api/v1/orders/{e}/shipment"), &shipment_body())
        .await;
    let all = settled_sends(&p, &e).await;
    assert_eq!(all[1]["state"], "blocked");
    let errors = p
        .get(&format!(
            "/api/v1/status-sends?state=failed&channel_id={channel}"
        ))
        .await;
    let failed: Vec<_> = errors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["order_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(failed.contains(&e) && failed.contains(&d), "{errors}");
    let (status, r) = p
        .post(
            "/api/v1/status-sends/resend",
            &json!({"ids": [all[0]["id"], all[1]["id"]]}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["resent"], json!([all[0]["id"]]));
    assert_eq!(r["skipped"], json!([all[1]["id"]]));
    let all = settled_sends(&p, &e).await;
    assert!(all.iter().all(|s| s["state"] == "succeeded"), "{all:?}");
    assert_eq!(
        all[0]["attempts"].as_array().unwrap().len(),
        4,
        "history kept"
    );
    let fo = sim.sim.fulfillment_order(ext).unwrap();
    assert_eq!(fo["status"], "DISPATCHED");

    // The platform's requirement checked first: no tracking code, no call.
    let (ext, f) = imported_order(&p, &sim, &url).await;
    sim.sim.clear_requests();
    let mut no_code = shipment_body();
    no_code["tracking_code"] = Value::Null;
    p.post(&format!("/api/v1/orders/{f}/shipment"), &no_code)
        .await;
    let s = &settled_sends(&p, &f).await[0];
    assert_eq!(s["last_error"]["code"], "missing_tracking_code", "{s}");
    assert_eq!(s["attempts"][0]["http_status"], Value::Null);
    assert_eq!(
        sim.sim.request_count(
            &Method::PATCH,
            &format!("/v1/{}/orders/{ext}", sim.sim.config().store_id)
        ),
        0
    );

    // 401: held, not failed, until the credentials change.
    let (_, g) = imported_order(&p, &sim, &url).await;
    sim.sim.inject(Fault::new(
        "/fulfillment-orders",
        1,
        FaultKind::Unauthorized,
    ));
    p.post(&format!("/api/v1/orders/{g}/separation"), &sep)
        .await;
    wait_for(Duration::from_secs(20), || async {
        sends_of(&p, &g).await[0]["last_error"]["code"] == "platform_auth_failed"
    })
    .await;
    let s = &sends_of(&p, &g).await[0];
    assert_eq!(
        (s["state"].as_str(), outcomes(s)),
        (Some("pending"), vec!["held".to_owned()])
    );
    let creds = json!({"credentials": {"access_token": sim.sim.config().access_token, "app_secret": sim.sim.config().app_secret}});
    let r = p
        .http
        .patch(format!("{}/api/v1/channels/{channel}", p.base))
        .bearer_auth(common::TOKEN)
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = &settled_sends(&p, &g).await[0];
    assert_eq!(
        (s["state"].as_str(), outcomes(s)),
        (
            Some("succeeded"),
            vec!["held".to_owned(), "succeeded".to_owned()]
        )
    );

    // Resend all of a channel's failed sends.
    let (status, r) = p
        .post(
            "/api/v1/status-sends/resend",
            &json!({"channel_id": channel, "all_failed": true}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["resent"].as_array().unwrap().len(), 2, "{r}");
}

async fn automations_decide_what_is_sent(backend: Backend) {
    let storage = Storage::new(backend).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let p = storage.start(&[]);
    let (channel, url) = p.nuvemshop_channel(&sim, "paid_only").await;
    let patch = |settings: Value| {
        let p = &p;
        let channel = channel.clone();
        async move {
            let r = p
                .http
                .patch(format!("{}/api/v1/channels/{channel}", p.base))
                .bearer_auth(common::TOKEN)
                .json(&json!({"settings": settings}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = patch(json!({"max_attempts": 0})).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (422, Some("invalid_settings")),
        "{b}"
    );
    let (s, b) = patch(json!({"fulfillment_mode": true, "send_cancellations": false})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["settings"]["fulfillment_mode"], true);
    assert_eq!(b["settings"]["send_status_updates"], true);
    let (_, id) = imported_order(&p, &sim, &url).await;
    p.post(&format!("/api/v1/orders/{id}/invoice"), &invoice_body())
        .await;
    let (_, b) = p
        .post(&format!("/api/v1/orders/{id}/shipment"), &shipment_body())
        .await;
    assert_eq!(
        (b["send"]["state"].as_str(), b["send"]["code"].as_str()),
        (Some("not_sent"), Some("fulfillment_mode")),
        "{b}"
    );
    let (_, other) = imported_order(&p, &sim, &url).await;
    let (_, b) = p
        .post(
            &format!("/api/v1/orders/{other}/cancel"),
            &json!({"reason": "inventory"}),
        )
        .await;
    assert_eq!(b["order"]["status"], "cancelled");
    assert_eq!(b["send"]["code"], "automation_off", "{b}");
    let sends = settled_sends(&p, &id).await;
    assert_eq!(sends.len(), 1, "only the invoice went out");
    assert!(sends_of(&p, &other).await.is_empty());
}
