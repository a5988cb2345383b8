//! VTEX simulator: auth, OMS reads and writes, hook, Feed v3, inventory, faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::TimeDelta;
use ponte_sim::nuvemshop::{cnpj_is_valid, cpf_is_valid};
use ponte_sim::vtex::{
    lock_fault, Fault, FaultKind, Method, NewOrder, OrderStatus, ServerHandle, VtexConfig, VtexSim,
};
use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};

struct Ctx {
    sim: VtexSim,
    server: ServerHandle,
    client: Client,
    base: String,
}

async fn start(cfg: VtexConfig) -> Ctx {
    let sim = VtexSim::new(cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    Ctx {
        base: server.base_url(),
        sim,
        server,
        client: Client::new(),
    }
}

fn fast_retries() -> VtexConfig {
    VtexConfig {
        hook_retry_base: Duration::from_millis(50),
        hook_max_attempts: 3,
        ..VtexConfig::default()
    }
}

impl Ctx {
    fn auth(&self, rb: RequestBuilder) -> RequestBuilder {
        let c = self.sim.config();
        rb.header("X-VTEX-API-AppKey", &c.app_key)
            .header("X-VTEX-API-AppToken", &c.app_token)
            .header("Accept", "application/json")
    }
    fn get(&self, path: &str) -> RequestBuilder {
        self.auth(self.client.get(format!("{}{path}", self.base)))
    }
    fn post(&self, path: &str, body: Value) -> RequestBuilder {
        self.auth(self.client.post(format!("{}{path}", self.base)))
            .json(&body)
    }
    fn patch(&self, path: &str, body: Value) -> RequestBuilder {
        self.auth(self.client.patch(format!("{}{path}", self.base)))
            .json(&body)
    }
    fn put(&self, path: &str, body: Value) -> RequestBuilder {
        self.auth(self.client.put(format!("{}{path}", self.base)))
            .json(&body)
    }
    async fn json(&self, rb: RequestBuilder) -> (u16, Value) {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }
}

fn fixture(name: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/vtex")
        .join(name);
    let raw = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&raw).unwrap()
}

/// Every key of `doc` (recursively into objects, and into the first element
/// of arrays) is present in `got`.
fn assert_keys(path: &str, doc: &Value, got: &Value) {
    match (doc, got) {
        (Value::Object(d), Value::Object(g)) => {
            for (k, v) in d {
                let p = format!("{path}.{k}");
                let gv = g.get(k).unwrap_or_else(|| panic!("missing key {p}"));
                if !gv.is_null() {
                    assert_keys(&p, v, gv);
                }
            }
        }
        (Value::Array(d), Value::Array(g)) => {
            if let (Some(d0), Some(g0)) = (d.first(), g.first()) {
                assert_keys(&format!("{path}[0]"), d0, g0);
            }
        }
        _ => {}
    }
}

/// A hook receiver: records `(headers, body)` and answers `status`.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    fn bodies(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
    fn notifications(&self) -> Vec<Value> {
        self.bodies()
            .into_iter()
            .filter(|b| b.get("hookConfig").is_none())
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push((headers, v));
    StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap()
}

async fn receiver() -> (Receiver, String) {
    let r = Receiver::default();
    r.status.store(200, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (r, url)
}

async fn wait_for<F: Fn() -> bool>(what: &str, f: F) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn invoice_body(o: &Value, number: &str, value: i64) -> Value {
    let items: Vec<Value> = o["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| json!({"id": i["id"], "price": i["price"], "quantity": i["quantity"]}))
        .collect();
    json!({
        "type": "Output",
        "issuanceDate": "2024-01-31T18:25:43-05:00",
        "invoiceNumber": number,
        "invoiceValue": value.to_string(),
        "invoiceKey": "35240111222333000181550010000000011000000019",
        "invoiceUrl": "https://nfe.example/danfe.pdf",
        "courier": "",
        "trackingNumber": "",
        "trackingUrl": "",
        "items": items,
    })
}

// ---- auth -------------------------------------------------------------------------

#[tokio::test]
async fn order_reads_beyond_the_configured_limit_get_429() {
    let ctx = start(VtexConfig {
        orders_get_limit: Some((3, 0.5)),
        ..VtexConfig::default()
    })
    .await;
    let id = ctx.sim.create_order(NewOrder::default());
    for _ in 0..2 {
        let (status, _) = ctx
            .json(ctx.get(&format!("/api/oms/pvt/orders/{id}")))
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = ctx.json(ctx.get("/api/oms/pvt/orders")).await;
    assert_eq!(status, 200, "the list counts too, up to the bucket size");
    let (status, body) = ctx
        .json(ctx.get(&format!("/api/oms/pvt/orders/{id}")))
        .await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "429");
    let (status, _) = ctx.json(ctx.get("/api/orders/feed/config")).await;
    assert_ne!(status, 429, "only order reads are limited");
    let (status, _) = ctx
        .json(ctx.post(
            &format!("/api/oms/pvt/orders/{id}/start-handling"),
            json!({}),
        ))
        .await;
    assert_ne!(status, 429, "writes are not limited");
}

#[tokio::test]
async fn auth() {
    let ctx = start(VtexConfig {
        user_token: Some("user-jwt".into()),
        ..VtexConfig::default()
    })
    .await;
    let id = ctx.sim.create_order(NewOrder::default());
    let url = format!("{}/api/oms/pvt/orders/{id}", ctx.base);

    let r = ctx.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "1", "message": "Unauthorized access", "exception": null}})
    );

    let r = ctx
        .client
        .get(&url)
        .header("X-VTEX-API-AppKey", &ctx.sim.config().app_key)
        .header("X-VTEX-API-AppToken", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = ctx
        .client
        .get(&url)
        .header("VtexIdclientAutCookie", "user-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = ctx
        .get(&format!("/api/oms/pvt/orders/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Feed, hook and logistics routes are protected too.
    for path in [
        "/api/orders/feed?maxlot=1",
        "/api/orders/hook/config",
        "/api/logistics/pvt/inventory/skus/1",
    ] {
        let r = ctx
            .client
            .get(format!("{}{path}", ctx.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    ctx.server.shutdown().await;
}

// ---- OMS reads --------------------------------------------------------------------

#[tokio::test]
async fn order_matches_documented_shape() {
    let ctx = start(VtexConfig::default()).await;
    let ids = ctx.sim.generate_orders(40, 7);
    let doc = fixture("order.json");
    // Optional objects the example fills but generated orders leave null.
    let mut corporate_seen = false;
    for id in &ids {
        let (status, o) = ctx
            .json(ctx.get(&format!("/api/oms/pvt/orders/{id}")))
            .await;
        assert_eq!(status, 200);
        assert_keys("order", &doc, &o);
        assert_eq!(o["orderId"], json!(id));
        // Values are integer cents and add up.
        let totals: i64 = o["totals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["value"].as_i64().unwrap())
            .sum();
        assert_eq!(o["value"].as_i64().unwrap(), totals);
        let items: i64 = o["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["price"].as_i64().unwrap() * i["quantity"].as_i64().unwrap())
            .sum();
        assert_eq!(o["totals"][0]["value"].as_i64().unwrap(), items);
        let paid: i64 = o["paymentData"]["transactions"][0]["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_i64().unwrap())
            .sum();
        assert_eq!(paid, o["value"].as_i64().unwrap());
        let c = &o["clientProfileData"];
        assert!(cpf_is_valid(c["document"].as_str().unwrap()));
        if c["isCorporate"] == json!(true) {
            corporate_seen = true;
            assert!(cnpj_is_valid(c["corporateDocument"].as_str().unwrap()));
        }
        let li = &o["shippingData"]["logisticsInfo"];
        assert_eq!(
            li.as_array().unwrap().len(),
            o["items"].as_array().unwrap().len()
        );
        assert!(li[0]["selectedSla"].is_string());
        assert_eq!(o["shippingData"]["address"]["country"], "BRA");
        assert!(OrderStatus::parse(o["status"].as_str().unwrap()).is_some());
        if o["status"] == "invoiced" {
            let p = &o["packageAttachment"]["packages"][0];
            assert_eq!(p["invoiceKey"].as_str().unwrap().len(), 44);
            assert_eq!(p["invoiceValue"], o["value"]);
            assert!(o["invoicedDate"].is_string());
        }
        if o["affiliateId"] != "" {
            assert_eq!(o["origin"], "Fulfillment");
            assert!(id.ends_with(o["marketplaceOrderId"].as_str().unwrap()));
        }
    }
    assert!(
        corporate_seen,
        "40 generated orders should include a company buyer"
    );

    // `seq{sequence}` finds the same order (documented alternative id).
    let first = ctx.sim.order(&ids[0]).unwrap();
    let seq = first["sequence"].as_str().unwrap();
    let (status, o) = ctx
        .json(ctx.get(&format!("/api/oms/pvt/orders/seq{seq}")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(o["orderId"], first["orderId"]);

    let (status, body) = ctx.json(ctx.get("/api/oms/pvt/orders/nope-01")).await;
    assert_eq!(status, 404);
    assert!(body["error"]["message"].is_string());
    ctx.server.shutdown().await;
}

#[tokio::test]
async fn list_paging_and_filters() {
    let ctx = start(VtexConfig::default()).await;
    let ids: Vec<String> = (0..35)
        .map(|_| ctx.sim.create_order(NewOrder::default()))
        .collect();
    let pending = ctx.sim.create_order(NewOrder {
        status: OrderStatus::PaymentPending,
        ..NewOrder::default()
    });

    let (status, page1) = ctx.json(ctx.get("/api/oms/pvt/orders")).await;
    assert_eq!(status, 200);
    assert_eq!(
        page1["paging"],
        json!({"total": 36, "pages": 3, "currentPage": 1, "perPage": 15})
    );
    assert_keys("list", &fixture("list_orders_response.json"), &page1);
    // Newest first by default, no items.
    assert_eq!(page1["list"][0]["orderId"], json!(pending));
    assert!(page1["list"][0]["items"].is_null());

    let (_, p) = ctx
        .json(ctx.get("/api/oms/pvt/orders?f_status=ready-for-handling&per_page=10&page=4&orderBy=creationDate,asc"))
        .await;
    assert_eq!(
        p["paging"],
        json!({"total": 35, "pages": 4, "currentPage": 4, "perPage": 10})
    );
    let got: Vec<&str> = p["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = ids[30..].iter().map(String::as_str).collect();
    assert_eq!(got, want);

    let (_, p) = ctx
        .json(ctx.get("/api/oms/pvt/orders?f_status=payment-pending"))
        .await;
    assert_eq!(p["paging"]["total"], 1);
    assert_eq!(p["list"][0]["status"], "payment-pending");

    // f_creationDate: a window after everything is empty; one around now has all.
    let later = (ctx.sim.now() + TimeDelta::days(1)).to_rfc3339();
    let (_, p) = ctx
        .json(ctx.get(&format!(
            "/api/oms/pvt/orders?f_creationDate=creationDate:[{} TO {}]",
            later.replace('+', "%2B"),
            later.replace('+', "%2B")
        )))
        .await;
    assert_eq!(p["paging"]["total"], 0);
    let (_, p) = ctx
        .json(ctx.get(
            "/api/oms/pvt/orders?f_creationDate=creationDate:[2000-01-01T00:00:00.000Z TO 2100-01-01T00:00:00.000Z]",
        ))
        .await;
    assert_eq!(p["paging"]["total"], 36);

    for bad in [
        "per_page=101",
        "per_page=0",
        "page=31",
        "f_creationDate=yesterday",
    ] {
        let (status, _) = ctx
            .json(ctx.get(&format!("/api/oms/pvt/orders?{bad}")))
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    ctx.server.shutdown().await;
}

// ---- OMS writes -------------------------------------------------------------------

#[tokio::test]
async fn start_handling_then_conflict() {
    let ctx = start(VtexConfig::default()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let path = format!("/api/oms/pvt/orders/{id}/start-handling");

    let r = ctx.post(&path, json!({})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(ctx.sim.status(&id), Some(OrderStatus::Handling));

    let (status, body) = ctx.json(ctx.post(&path, json!({}))).await;
    assert_eq!(status, 409);
    assert_eq!(body, fixture("start_handling_409_response.json"));

    let pending = ctx.sim.create_order(NewOrder {
        status: OrderStatus::PaymentPending,
        ..NewOrder::default()
    });
    let (status, _) = ctx
        .json(ctx.post(
            &format!("/api/oms/pvt/orders/{pending}/start-handling"),
            json!({}),
        ))
        .await;
    assert_eq!(status, 409);
    ctx.sim.approve_payment(&pending).unwrap();
    let r = ctx
        .post(
            &format!("/api/oms/pvt/orders/{pending}/start-handling"),
            json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    ctx.server.shutdown().await;
}

#[tokio::test]
async fn invoice_tracking_delivery_and_cancel_refused() {
    let ctx = start(VtexConfig::default()).await;
    let id = ctx.sim.create_order(NewOrder {
        items: vec![
            ponte_sim::vtex::NewItem {
                sku_id: Some("1".into()),
                quantity: 2,
                ..Default::default()
            },
            ponte_sim::vtex::NewItem {
                sku_id: Some("5".into()),
                quantity: 1,
                ..Default::default()
            },
        ],
        ..NewOrder::default()
    });
    let o = ctx.sim.order(&id).unwrap();
    let value = o["value"].as_i64().unwrap();
    let inv = format!("/api/oms/pvt/orders/{id}/invoice");

    // Not in handling yet.
    let (status, _) = ctx
        .json(ctx.post(&inv, invoice_body(&o, "1001", value)))
        .await;
    assert_eq!(status, 409);
    ctx.post(
        &format!("/api/oms/pvt/orders/{id}/start-handling"),
        json!({}),
    )
    .send()
    .await
    .unwrap();

    // Invalid bodies.
    let mut bad = invoice_body(&o, "1001", value);
    bad["invoiceValue"] = json!("0");
    assert_eq!(ctx.json(ctx.post(&inv, bad)).await.0, 400);
    let mut bad = invoice_body(&o, "1001", value);
    bad["items"][0]["id"] = json!("999999");
    assert_eq!(ctx.json(ctx.post(&inv, bad)).await.0, 400);
    let mut bad = invoice_body(&o, "1001", value);
    bad.as_object_mut().unwrap().remove("type");
    assert_eq!(ctx.json(ctx.post(&inv, bad)).await.0, 400);

    // The documented example body (with its embedded NF-e XML) parses; it
    // invoices part of the value, so the order stays in handling.
    let mut doc = fixture("invoice_notification_request.json");
    doc["items"] = json!([{"id": o["items"][0]["id"], "price": 1, "quantity": 1}]);
    doc["invoiceValue"] = json!("1000");
    let (status, r) = ctx.json(ctx.post(&inv, doc)).await;
    assert_eq!(status, 200);
    assert_keys(
        "invoice",
        &fixture("invoice_notification_response.json"),
        &r,
    );
    assert_eq!(r["orderId"], json!(id));
    assert_eq!(ctx.sim.status(&id), Some(OrderStatus::Handling));

    // Partially invoiced: cancellation refused with 400 (documented).
    let (status, body) = ctx
        .json(ctx.post(
            &format!("/api/oms/pvt/orders/{id}/cancel"),
            fixture("cancel_request.json"),
        ))
        .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].is_string());

    // The rest of the value: invoiced.
    let (status, r1) = ctx
        .json(ctx.post(&inv, invoice_body(&o, "1002", value - 1000)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(ctx.sim.status(&id), Some(OrderStatus::Invoiced));
    let got = ctx.sim.order(&id).unwrap();
    assert_eq!(got["statusDescription"], "Faturado");
    assert!(got["invoicedDate"].is_string());
    assert_eq!(
        got["packageAttachment"]["packages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Same invoice number again: new receipt only.
    let (status, r2) = ctx
        .json(ctx.post(&inv, invoice_body(&o, "1002", value - 1000)))
        .await;
    assert_eq!(status, 200);
    assert_ne!(r1["receipt"], r2["receipt"]);
    assert_eq!(
        ctx.sim.order(&id).unwrap()["packageAttachment"]["packages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Tracking events need a tracking number first.
    let track = format!("/api/oms/pvt/orders/{id}/invoice/1002/tracking");
    let (status, _) = ctx
        .json(ctx.put(&track, fixture("tracking_events_request.json")))
        .await;
    assert_eq!(status, 400);

    let (status, r) = ctx
        .json(ctx.patch(
            &format!("/api/oms/pvt/orders/{id}/invoice/1002"),
            fixture("invoice_tracking_patch_request.json"),
        ))
        .await;
    assert_eq!(status, 200);
    assert_keys(
        "patch",
        &fixture("invoice_tracking_patch_response.json"),
        &r,
    );
    let (status, _) = ctx
        .json(ctx.patch(
            &format!("/api/oms/pvt/orders/{id}/invoice/nope"),
            fixture("invoice_tracking_patch_request.json"),
        ))
        .await;
    assert_eq!(status, 404);
    let pkg = &ctx.sim.order(&id).unwrap()["packageAttachment"]["packages"][1];
    assert_eq!(pkg["trackingNumber"], "87658");
    assert_eq!(pkg["courier"], "carrierOne");

    let (status, r) = ctx
        .json(ctx.put(&track, fixture("tracking_events_request.json")))
        .await;
    assert_eq!(status, 200);
    assert_keys("tracking", &fixture("tracking_events_response.json"), &r);
    let pkg = &ctx.sim.order(&id).unwrap()["packageAttachment"]["packages"][1];
    assert_eq!(pkg["courierStatus"]["finished"], false);
    assert_eq!(pkg["courierStatus"]["data"].as_array().unwrap().len(), 2);

    let mut delivered = fixture("tracking_events_request.json");
    delivered["isDelivered"] = json!(true);
    delivered["deliveredDate"] = json!("2015-06-25 10:00");
    let (status, _) = ctx.json(ctx.put(&track, delivered)).await;
    assert_eq!(status, 200);
    let pkg = &ctx.sim.order(&id).unwrap()["packageAttachment"]["packages"][1];
    assert_eq!(pkg["courierStatus"]["finished"], true);
    assert_eq!(pkg["courierStatus"]["deliveredDate"], "2015-06-25 10:00");

    // A return (`Input`) invoice on the invoiced order carries a refund.
    let mut ret = invoice_body(&o, "R-1", 1000);
    ret["type"] = json!("Input");
    ret["items"] = json!([{"id": "5", "price": 1000, "quantity": 1}]);
    let (status, _) = ctx.json(ctx.post(&inv, ret)).await;
    assert_eq!(status, 200);
    let pkg = &ctx.sim.order(&id).unwrap()["packageAttachment"]["packages"][2];
    assert_eq!(pkg["type"], "Input");
    assert_eq!(pkg["restitutions"]["Refund"]["value"], 1000);
    assert_eq!(pkg["restitutions"]["Refund"]["items"][0]["id"], "5");

    // Invoiced: cancellation refused.
    let (status, _) = ctx
        .json(ctx.post(
            &format!("/api/oms/pvt/orders/{id}/cancel"),
            fixture("cancel_request.json"),
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(ctx.sim.status(&id), Some(OrderStatus::Invoiced));
    ctx.server.shutdown().await;
}

#[tokio::test]
async fn cancel_before_invoice() {
    let ctx = start(VtexConfig::default()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let (status, r) = ctx
        .json(ctx.post(
            &format!("/api/oms/pvt/orders/{id}/cancel"),
            fixture("cancel_request.json"),
        ))
        .await;
    assert_eq!(status, 200);
    assert_keys("cancel", &fixture("cancel_response.json"), &r);
    let o = ctx.sim.order(&id).unwrap();
    assert_eq!(o["status"], "canceled");
    assert_eq!(o["cancelReason"], "Unexpected stock shortage");
    assert_eq!(o["cancellationData"]["Reason"], "Unexpected stock shortage");
    // Again: still 200, no new change.
    let (status, _) = ctx
        .json(ctx.post(&format!("/api/oms/pvt/orders/{id}/cancel"), json!({})))
        .await;
    assert_eq!(status, 200);
    ctx.server.shutdown().await;
}

// ---- hook -------------------------------------------------------------------------

#[tokio::test]
async fn hook_ping_and_notifications() {
    let ctx = start(fast_retries()).await;
    let (rx, url) = receiver().await;

    // Mixed filter types: 409 (documented), before any ping.
    let mut mixed = fixture("hook_config_request_fromworkflow.json");
    mixed["filter"]["expression"] = json!("value > 100");
    mixed["hook"]["url"] = json!(url);
    let (status, _) = ctx.json(ctx.post("/api/orders/hook/config", mixed)).await;
    assert_eq!(status, 409);
    assert!(rx.bodies().is_empty());

    // Endpoint not answering 200 to the ping: 400, nothing saved.
    rx.status.store(500, Ordering::SeqCst);
    let mut cfg = fixture("hook_config_request_fromworkflow.json");
    cfg["hook"]["url"] = json!(url);
    cfg["hook"]["headers"] = json!({"X-Ponte-Secret": "s3cret"});
    let (status, _) = ctx
        .json(ctx.post("/api/orders/hook/config", cfg.clone()))
        .await;
    assert_eq!(status, 400);
    assert!(ctx.sim.hook_config().is_none());
    rx.got.lock().unwrap().clear();

    rx.status.store(200, Ordering::SeqCst);
    let (status, _) = ctx
        .json(ctx.post("/api/orders/hook/config", cfg.clone()))
        .await;
    assert_eq!(status, 200);
    let pings = rx.got.lock().unwrap().clone();
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0].1, fixture("hook_ping.json"));
    assert_eq!(pings[0].0["x-ponte-secret"], "s3cret");
    let (status, got) = ctx.json(ctx.get("/api/orders/hook/config")).await;
    assert_eq!(status, 200);
    assert_eq!(got["filter"], cfg["filter"]);
    assert_eq!(got["hook"]["url"], json!(url));

    // Filter: order-completed, handling, ready-for-handling,
    // waiting-ffmt-authorization, cancel.
    let id = ctx.sim.create_order(NewOrder::default()); // -> ready-for-handling
    ctx.post(
        &format!("/api/oms/pvt/orders/{id}/start-handling"),
        json!({}),
    )
    .send()
    .await
    .unwrap(); // start-handling (filtered out), handling
    wait_for("2 notifications", || rx.notifications().len() == 2).await;
    let n = rx.notifications();
    let states: Vec<&str> = n.iter().map(|b| b["State"].as_str().unwrap()).collect();
    assert!(states.contains(&"ready-for-handling") && states.contains(&"handling"));
    let handling = n.iter().find(|b| b["State"] == "handling").unwrap();
    assert_keys(
        "notification",
        &fixture("hook_config_post_200_example.json"),
        handling,
    );
    assert_keys("notification", &fixture("hook_notification.json"), handling);
    assert_eq!(handling["OrderId"], json!(id));
    assert_eq!(handling["LastState"], "start-handling");
    assert_eq!(handling["Domain"], "Marketplace");
    assert_eq!(
        handling["Origin"],
        json!({"Account": ctx.sim.config().account, "Key": ctx.sim.config().app_key})
    );
    assert!(rx
        .got
        .lock()
        .unwrap()
        .iter()
        .all(|(h, _)| h["x-ponte-secret"] == "s3cret"));

    // A failing endpoint gets retries.
    rx.status.store(503, Ordering::SeqCst);
    ctx.sim.set_status(&id, OrderStatus::Cancel).unwrap();
    wait_for("3 attempts", || {
        ctx.sim
            .hook_deliveries()
            .iter()
            .filter(|d| d.state == "cancel")
            .count()
            == 3
    })
    .await;
    let attempts: Vec<(u32, Option<u16>)> = ctx
        .sim
        .hook_deliveries()
        .iter()
        .filter(|d| d.state == "cancel")
        .map(|d| (d.attempt, d.status))
        .collect();
    assert_eq!(
        attempts,
        vec![(1, Some(503)), (2, Some(503)), (3, Some(503))]
    );

    let r = ctx
        .auth(
            ctx.client
                .delete(format!("{}/api/orders/hook/config", ctx.base)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ctx.json(ctx.get("/api/orders/hook/config")).await.0, 404);
    ctx.server.shutdown().await;
}

#[tokio::test]
async fn dropped_notifications_still_reach_the_feed() {
    let ctx = start(VtexConfig::default()).await;
    let (rx, url) = receiver().await;
    let (status, _) = ctx
        .json(ctx.post(
            "/api/orders/feed/config",
            json!({"filter": {"type": "FromWorkflow", "status": ["ready-for-handling", "handling"]},
                   "queue": {"visibilityTimeoutInSeconds": 240, "MessageRetentionPeriodInSeconds": 345600}}),
        ))
        .await;
    assert_eq!(status, 200);
    let (status, _) = ctx
        .json(ctx.post(
            "/api/orders/hook/config",
            json!({"filter": {"type": "FromWorkflow", "status": ["ready-for-handling", "handling"]},
                   "hook": {"url": url, "headers": {}}}),
        ))
        .await;
    assert_eq!(status, 200);

    ctx.sim.drop_next_hook_notifications(1);
    let lost = ctx.sim.create_order(NewOrder::default());
    let seen = ctx.sim.create_order(NewOrder::default());
    wait_for("one notification", || rx.notifications().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n = rx.notifications();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["OrderId"], json!(seen));
    assert!(ctx
        .sim
        .hook_deliveries()
        .iter()
        .any(|d| d.dropped && d.order_id == lost));

    // The feed has both (the safety net).
    let (status, items) = ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![lost.as_str(), seen.as_str()]);

    // Dropping everything.
    ctx.sim.set_drop_hook_notifications(true);
    ctx.sim.set_status(&seen, OrderStatus::Handling).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.notifications().len(), 1);
    assert_eq!(ctx.sim.feed_len(), 3);
    ctx.server.shutdown().await;
}

// ---- feed -------------------------------------------------------------------------

#[tokio::test]
async fn feed_visibility_timeout_and_commit() {
    let ctx = start(VtexConfig::default()).await;

    // No configuration: 404 (documented).
    assert_eq!(ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await.0, 404);

    let mut cfg = fixture("feed_config_request.json");
    cfg["filter"] = json!({"type": "FromWorkflow", "status": []});
    cfg["queue"]["visibilityTimeoutInSeconds"] = json!(240);
    let (status, _) = ctx.json(ctx.post("/api/orders/feed/config", cfg)).await;
    assert_eq!(status, 200);
    // The documented example (FromOrders) is accepted too; mixing types is not.
    let (status, _) = ctx
        .json(ctx.post(
            "/api/orders/feed/config",
            fixture("feed_config_request.json"),
        ))
        .await;
    assert_eq!(status, 200);
    let mut mixed = fixture("feed_config_request.json");
    mixed["filter"]["status"] = json!(["handling"]);
    assert_eq!(
        ctx.json(ctx.post("/api/orders/feed/config", mixed)).await.0,
        409
    );
    let (status, _) = ctx
        .json(ctx.post(
            "/api/orders/feed/config",
            json!({"filter": {"type": "FromWorkflow"},
                   "queue": {"visibilityTimeoutInSeconds": 240, "MessageRetentionPeriodInSeconds": 345600}}),
        ))
        .await;
    assert_eq!(status, 200);
    let (_, got) = ctx.json(ctx.get("/api/orders/feed/config")).await;
    assert_eq!(got["queue"]["visibilityTimeoutInSeconds"], 240);
    assert_eq!(got["quantity"], 0);

    for bad in ["maxlot=0", "maxlot=11", "maxlot=x", ""] {
        let (status, _) = ctx.json(ctx.get(&format!("/api/orders/feed?{bad}"))).await;
        assert_eq!(status, 400, "{bad}");
    }

    let id = ctx.sim.create_order(NewOrder::default());
    let (status, items) = ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await;
    assert_eq!(status, 200);
    assert_keys("feed", &fixture("feed_items_response.json"), &items);
    let items = items.as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    let first = &items[0];
    assert_eq!(first["orderId"], json!(id));
    assert_eq!(first["state"], "ready-for-handling");
    assert_eq!(first["domain"], "Marketplace");

    // Invisible until the visibility timeout passes.
    let (_, again) = ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await;
    assert_eq!(again, json!([]));
    let (_, cfgv) = ctx.json(ctx.get("/api/orders/feed/config")).await;
    assert_eq!(cfgv["quantity"], 1);
    ctx.sim.advance_clock(TimeDelta::seconds(200));
    assert_eq!(
        ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await.1,
        json!([])
    );

    // Not committed: redelivered with a new handle (at-least-once).
    ctx.sim.advance_clock(TimeDelta::seconds(41));
    let (_, redelivered) = ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await;
    let second = &redelivered[0];
    assert_eq!(second["eventId"], first["eventId"]);
    assert_ne!(second["handle"], first["handle"]);

    // The stale handle deletes nothing; the latest one commits.
    let r = ctx
        .post("/api/orders/feed", json!({"handles": [first["handle"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ctx.sim.feed_len(), 1);
    let r = ctx
        .post("/api/orders/feed", json!({"handles": [second["handle"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ctx.sim.feed_len(), 0);
    ctx.sim.advance_clock(TimeDelta::seconds(300));
    assert_eq!(
        ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await.1,
        json!([])
    );

    // maxlot bounds a batch; order changes produce one event each.
    let a = ctx.sim.create_order(NewOrder::default());
    ctx.post(
        &format!("/api/oms/pvt/orders/{a}/start-handling"),
        json!({}),
    )
    .send()
    .await
    .unwrap();
    let (_, batch) = ctx.json(ctx.get("/api/orders/feed?maxlot=2")).await;
    let states: Vec<&str> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["ready-for-handling", "start-handling"]);
    assert_eq!(batch[1]["lastState"], "ready-for-handling");
    let (_, rest) = ctx.json(ctx.get("/api/orders/feed?maxlot=2")).await;
    assert_eq!(rest[0]["state"], "handling");
    let handles: Vec<Value> = batch
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.as_array().unwrap())
        .map(|i| i["handle"].clone())
        .collect();
    ctx.post("/api/orders/feed", json!({"handles": handles}))
        .send()
        .await
        .unwrap();
    assert_eq!(ctx.sim.feed_len(), 0);

    // Retention drops old items even when never committed.
    ctx.sim.create_order(NewOrder::default());
    ctx.sim.advance_clock(TimeDelta::seconds(345_601));
    assert_eq!(
        ctx.json(ctx.get("/api/orders/feed?maxlot=10")).await.1,
        json!([])
    );
    ctx.server.shutdown().await;
}

#[tokio::test]
async fn feed_from_orders_single_fire() {
    let ctx = start(VtexConfig::default()).await;
    let (status, _) = ctx
        .json(ctx.post(
            "/api/orders/feed/config",
            json!({"filter": {"type": "FromOrders", "expression": "status = \"handling\"", "disableSingleFire": false},
                   "queue": {"visibilityTimeoutInSeconds": 240, "MessageRetentionPeriodInSeconds": 345600}}),
        ))
        .await;
    assert_eq!(status, 200);
    let id = ctx.sim.create_order(NewOrder::default());
    assert_eq!(ctx.sim.feed_len(), 0);
    ctx.post(
        &format!("/api/oms/pvt/orders/{id}/start-handling"),
        json!({}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        ctx.sim.feed_events(),
        vec![(id.clone(), "handling".to_owned())]
    );
    // Further updates of the same order do not fire again.
    let o = ctx.sim.order(&id).unwrap();
    let v = o["value"].as_i64().unwrap();
    ctx.post(
        &format!("/api/oms/pvt/orders/{id}/invoice"),
        invoice_body(&o, "77", v - 1),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ctx.sim.feed_len(), 1);
    ctx.server.shutdown().await;
}

// ---- logistics --------------------------------------------------------------------

#[tokio::test]
async fn inventory_put_get() {
    let ctx = start(VtexConfig::default()).await;
    let path = "/api/logistics/pvt/inventory/skus/3/warehouses/cd-sp";
    let (status, body) = ctx
        .json(ctx.put(path, fixture("inventory_put_request.json")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!(true));
    assert_eq!(ctx.sim.stock("3", "cd-sp"), Some(202));

    let (status, got) = ctx
        .json(ctx.get("/api/logistics/pvt/inventory/skus/3"))
        .await;
    assert_eq!(status, 200);
    assert_keys(
        "inventory",
        &fixture("inventory_by_sku_response.json"),
        &got,
    );
    assert_eq!(got["skuId"], "3");
    let cd = got["balance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["warehouseId"] == "cd-sp")
        .unwrap();
    assert_eq!(cd["totalQuantity"], 202);
    assert_eq!(cd["leadTime"], "10.10:00:00");
    assert_eq!(cd["hasUnlimitedQuantity"], false);

    // Documented defaults: missing quantity -> 0; unlimited -> 1000000.
    ctx.put(path, json!({"unlimitedQuantity": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(ctx.sim.stock("3", "cd-sp"), Some(1_000_000));
    ctx.put(path, json!({})).send().await.unwrap();
    assert_eq!(ctx.sim.stock("3", "cd-sp"), Some(0));

    // PATCH quantity (documented 204).
    let r = ctx
        .patch(
            &format!("{path}/quantity"),
            fixture("inventory_quantity_patch_request.json"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(ctx.sim.stock("3", "cd-sp"), Some(201));

    // Errors: 400.
    for bad in [
        json!({"quantity": -1}),
        json!({"quantity": "x"}),
        json!({"leadTime": "soon"}),
    ] {
        assert_eq!(ctx.json(ctx.put(path, bad.clone())).await.0, 400, "{bad}");
    }
    let (status, _) = ctx
        .json(ctx.put(
            "/api/logistics/pvt/inventory/skus/3/warehouses/nowhere",
            json!({"quantity": 1}),
        ))
        .await;
    assert_eq!(status, 400);

    // Orders not yet handled reserve stock.
    let before = ctx.sim.inventory("1")["balance"][0]["reservedQuantity"]
        .as_i64()
        .unwrap();
    ctx.sim.create_order(NewOrder::default()); // one unit of SKU 1
    let after = ctx.sim.inventory("1")["balance"][0]["reservedQuantity"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before + 1);
    ctx.server.shutdown().await;
}

// ---- faults -----------------------------------------------------------------------

#[tokio::test]
async fn lock_and_rate_limit_faults() {
    let ctx = start(VtexConfig::default()).await;
    let path = "/api/logistics/pvt/inventory/skus/2/warehouses/1_1";
    ctx.sim
        .inject(lock_fault("/api/logistics/pvt/inventory", 1).with_method(Method::PUT));
    let (status, body) = ctx.json(ctx.put(path, json!({"quantity": 5}))).await;
    assert_eq!(status, 423);
    assert_eq!(body["error"]["message"], "Unable to acquire lock");
    // Transient: the retry succeeds.
    let (status, _) = ctx.json(ctx.put(path, json!({"quantity": 5}))).await;
    assert_eq!(status, 200);
    assert_eq!(ctx.sim.stock("2", "1_1"), Some(5));

    ctx.sim.inject(Fault::new(
        "/api/oms/pvt/orders",
        1,
        FaultKind::RateLimited {
            retry_after_ms: 60_000,
        },
    ));
    let r = ctx.get("/api/oms/pvt/orders").send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    assert_eq!(
        ctx.get("/api/oms/pvt/orders")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    ctx.sim
        .inject(Fault::new("/start-handling", 1, FaultKind::Status(500)));
    let id = ctx.sim.create_order(NewOrder::default());
    let r = ctx
        .post(
            &format!("/api/oms/pvt/orders/{id}/start-handling"),
            json!({}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(ctx.sim.status(&id), Some(OrderStatus::ReadyForHandling));

    assert_eq!(ctx.sim.request_count(&Method::PUT, "/api/logistics"), 2);
    ctx.server.shutdown().await;
}
