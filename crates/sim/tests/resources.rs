//! Variants, metafields, webhooks (subscriptions and signed notifications), generation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use common::{relaxed, start};
use hmac::{Hmac, Mac};
use ponte_sim::nuvemshop::{cnpj_is_valid, cpf_is_valid, NewOrder, NuvemshopSim, SimConfig};
use serde_json::{json, Value};
use sha2::Sha256;

#[tokio::test]
async fn variants_patch() {
    let ctx = start(relaxed()).await;
    let (pid, v1) = ctx.sim.variants()[0];
    let (_, v2) = ctx.sim.variants()[1];

    let r = ctx
        .get(&format!("/products/{pid}/variants"))
        .send()
        .await
        .unwrap();
    let before: Vec<Value> = r.json().await.unwrap();
    assert!(before.len() >= 2);
    assert!(before[0]["sku"].is_string() && before[0]["price"].is_string());

    let dup = json!([{"id": v1, "stock": 5}, {"id": v2, "stock": 6}, {"id": v1, "stock": 7}]);
    let r = ctx
        .patch(&format!("/products/{pid}/variants"), dup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["description"], "Variants cannot be repeated");
    assert_eq!(body["duplicate_variant_ids"], json!([v1]));
    assert_ne!(ctx.sim.variant_stock(pid, v1), Some(5), "nothing applied");

    let r = ctx
        .patch(
            &format!("/products/{pid}/variants"),
            json!([{"id": 1, "stock": 1}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = ctx
        .patch(
            &format!("/products/{pid}/variants"),
            json!([{"id": v1, "stock": "x"}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = ctx
        .patch("/products/1/variants", json!([{"id": v1, "stock": 1}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let ok = json!([{"id": v1, "stock": 12, "price": "59.90"}, {"id": v2, "stock": 0}]);
    let r = ctx
        .patch(&format!("/products/{pid}/variants"), ok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let all: Vec<Value> = r.json().await.unwrap();
    assert_eq!(all.len(), before.len(), "the whole collection is returned");
    assert_eq!(ctx.sim.variant_stock(pid, v1), Some(12));
    assert_eq!(ctx.sim.variant_stock(pid, v2), Some(0));
    assert_eq!(ctx.sim.variant(pid, v1).unwrap()["price"], "59.90");

    let r = ctx
        .auth(
            ctx.client
                .put(format!("{}/products/{pid}/variants/{v1}", ctx.base)),
        )
        .json(&json!({"stock": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["stock"], 3);
}

#[tokio::test]
async fn metafields_nfe_convention() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let key = json!({"namespace": "nfe", "key": "key", "value": "35240112345678000190550010000012341000012345",
                     "description": "Chave da NFe", "owner_resource": "Order", "owner_id": id});
    let r = ctx.post("/metafields", key.clone()).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let fixture: Value = serde_json::from_slice(
        &std::fs::read(common::fixtures_dir().join("metafield_nfe_key_response.json")).unwrap(),
    )
    .unwrap();
    let mut got_keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    let mut want_keys: Vec<&String> = fixture.as_object().unwrap().keys().collect();
    got_keys.sort();
    want_keys.sort();
    assert_eq!(got_keys, want_keys);
    assert_eq!(
        created["created_at"].as_str().unwrap().len(),
        "2015-01-02 20:27:51".len()
    );

    let r = ctx.post("/metafields", key).send().await.unwrap();
    assert_eq!(r.status(), 422, "same owner/namespace/key twice");
    let link = json!({"namespace": "nfe", "key": "link", "value": "https://nfe.example/danfe.pdf",
                      "owner_resource": "Order", "owner_id": id});
    assert_eq!(
        ctx.post("/metafields", link).send().await.unwrap().status(),
        201
    );
    let r = ctx
        .post("/metafields", json!({"namespace": "nfe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = ctx
        .post("/metafields", json!({"namespace": "nfe", "key": "key", "value": "1", "owner_resource": "Order", "owner_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "unknown order");

    let r = ctx
        .get(&format!(
            "/metafields/orders?owner_id={id}&namespace=nfe&key=key"
        ))
        .send()
        .await
        .unwrap();
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["value"],
        "35240112345678000190550010000012341000012345"
    );
    assert_eq!(ctx.sim.metafields_for(id).len(), 2);
}

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, b: Bytes| {
            let s = s2.clone();
            async move {
                s.lock().unwrap().push((h, b));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let j = tokio::spawn(async move {
        axum::serve(l, app).await.unwrap();
    });
    (url, seen, j)
}

fn hand_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn webhook_signature_and_delivery() {
    // Known HMAC-SHA256 vector (RFC 4231 style check with a public example).
    let vec_sim = NuvemshopSim::new(SimConfig {
        app_secret: "key".into(),
        ..SimConfig::default()
    });
    assert_eq!(
        vec_sim.signature(b"The quick brown fox jumps over the lazy dog"),
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );

    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let body = ctx.sim.notification_body("order/paid", id);
    assert_eq!(
        String::from_utf8(body.clone()).unwrap(),
        format!("{{\"store_id\":123456,\"event\":\"order/paid\",\"id\":{id}}}")
    );
    assert_eq!(ctx.sim.signature(&body), hand_hmac("sim-secret", &body));

    let (url, seen, _j) = receiver().await;
    let status = ctx
        .sim
        .send_webhook(&ctx.client, &url, "order/paid", id)
        .await
        .unwrap();
    assert_eq!(status, 200);
    {
        let seen = seen.lock().unwrap();
        let (h, b) = &seen[0];
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(
            h["x-linkedstore-hmac-sha256"].to_str().unwrap(),
            hand_hmac("sim-secret", b)
        );
        let v: Value = serde_json::from_slice(b).unwrap();
        assert_eq!(
            v,
            json!({"store_id": 123456, "event": "order/paid", "id": id})
        );
    }

    // Subscriptions through the API.
    let r = ctx
        .post("/webhooks", json!({"event": "order/cancelled", "url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let hook: Value = r.json().await.unwrap();
    assert_eq!(hook["event"], "order/cancelled");
    let r = ctx
        .post(
            "/webhooks",
            json!({"event": "invalid_event", "url": "foobar"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let errs: Value = r.json().await.unwrap();
    assert!(errs["event"][0]
        .as_str()
        .unwrap()
        .starts_with("Invalid event specified"));
    assert_eq!(errs["url"], json!(["invalid url specified"]));
    let r = ctx.get("/webhooks").send().await.unwrap();
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 1);

    assert!(ctx
        .sim
        .fire_subscriptions("order/paid", id)
        .await
        .is_empty());
    let sent = ctx.sim.fire_subscriptions("order/cancelled", id).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(*sent[0].1.as_ref().unwrap(), 200);
    assert_eq!(seen.lock().unwrap().len(), 2);

    let r = ctx
        .auth(
            ctx.client
                .delete(format!("{}/webhooks/{}", ctx.base, hook["id"])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(ctx.sim.webhooks().is_empty());
}

fn key_paths(v: &Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    if let Some(m) = v.as_object() {
        for (k, x) in m {
            let p = format!("{prefix}{k}");
            out.insert(p.clone());
            key_paths(x, &format!("{p}."), out);
            if let Some(first) = x.as_array().and_then(|a| a.first()) {
                key_paths(first, &format!("{p}[]."), out);
            }
        }
    }
}

#[test]
fn generated_order_has_the_documented_keys() {
    let sim = NuvemshopSim::new(SimConfig::default());
    let id = sim.create_order(NewOrder {
        discount_cents: 500,
        ..NewOrder::default()
    });
    let fixture: Value =
        serde_json::from_slice(&std::fs::read(common::fixtures_dir().join("order.json")).unwrap())
            .unwrap();
    let (mut want, mut got) = (Default::default(), Default::default());
    key_paths(&fixture, "", &mut want);
    key_paths(&sim.order(id).unwrap(), "", &mut got);
    // The fixture's free-form `extra` content is store specific.
    want.remove("extra.gift-wrap");
    let extras = [
        "products[].sku",
        "products[].name",
        "products[].barcode",
        "payment_details",
        "payment_details.method",
        "payment_details.credit_card_company",
        "payment_details.installments",
        "customer.identification",
        "customer.phone",
        "contact_identification",
        "total",
        "paid_at",
        "cancelled_at",
    ];
    for e in extras {
        want.insert(e.to_owned());
    }
    assert_eq!(got, want);
}

#[test]
fn generated_orders_are_deterministic_and_brazilian() {
    let a = NuvemshopSim::new(SimConfig {
        invalid_document_fraction: 0.1,
        ..SimConfig::default()
    });
    let b = NuvemshopSim::new(SimConfig {
        invalid_document_fraction: 0.1,
        ..SimConfig::default()
    });
    let ids_a = a.generate_orders(300, 7);
    let ids_b = b.generate_orders(300, 7);
    assert_eq!(ids_a, ids_b);
    let strip = |o: &Value| {
        let mut o = o.clone();
        for k in [
            "created_at",
            "updated_at",
            "paid_at",
            "cancelled_at",
            "shipped_at",
        ] {
            o.as_object_mut().unwrap().remove(k);
        }
        o["customer"].as_object_mut().unwrap().remove("created_at");
        o["customer"].as_object_mut().unwrap().remove("updated_at");
        (
            o["customer"].clone(),
            o["products"].clone(),
            o["total"].clone(),
            o["payment_status"].clone(),
        )
    };
    for (x, y) in a.orders().iter().zip(b.orders().iter()) {
        assert_eq!(strip(x), strip(y));
    }

    let orders = a.orders();
    let mut cpf = 0;
    let mut cnpj = 0;
    let mut invalid = 0;
    let mut pending_open = 0;
    for o in &orders {
        let doc = o["customer"]["identification"].as_str().unwrap();
        assert_eq!(o["contact_identification"], doc);
        match doc.len() {
            11 if cpf_is_valid(doc) => cpf += 1,
            14 if cnpj_is_valid(doc) => cnpj += 1,
            11 | 14 => invalid += 1,
            n => panic!("document of {n} digits"),
        }
        if o["status"] == "open" && o["payment_status"] == "pending" {
            pending_open += 1;
        }
        assert_eq!(o["currency"], "BRL");
        assert_eq!(o["shipping_address"]["country"], "BR");
        let products = o["products"].as_array().unwrap();
        assert!((1..=4).contains(&products.len()));
        for p in products {
            let (pid, vid) = (
                p["product_id"].as_u64().unwrap(),
                p["variant_id"].as_u64().unwrap(),
            );
            assert!(
                a.variant(pid, vid).is_some(),
                "order references an existing variant"
            );
            assert!(p["sku"].is_string());
            assert!(p["price"].as_str().unwrap().contains('.'));
        }
        assert!(
            ["Correios PAC", "Correios SEDEX"].contains(&o["shipping_option"].as_str().unwrap())
        );
        assert!(["pix", "boleto", "credit_card"]
            .contains(&o["payment_details"]["method"].as_str().unwrap()));
        if o["payment_status"] == "paid" {
            assert!(o["paid_at"].is_string());
        }
    }
    assert!(cpf > cnpj && cnpj > 0, "cpf {cpf} cnpj {cnpj}");
    assert!((10..=60).contains(&invalid), "invalid {invalid}");
    assert!(
        pending_open > orders.len() / 3,
        "pending_open {pending_open}"
    );

    // updated_at strictly increases across quick changes.
    let mut stamps: Vec<String> = orders
        .iter()
        .map(|o| o["updated_at"].as_str().unwrap().to_owned())
        .collect();
    let n = stamps.len();
    stamps.dedup();
    assert_eq!(stamps.len(), n);
}
