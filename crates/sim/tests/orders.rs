//! Orders: listing, pagination, filters, state changes, fixtures, fulfillment orders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixtures_dir, relaxed, start};
use ponte_sim::nuvemshop::{NewOrder, NuvemshopSim, SimConfig};
use serde_json::{json, Value};

fn link_targets(link: &str) -> Vec<(String, String)> {
    link.split(", ")
        .map(|part| {
            let url = part
                .split('>')
                .next()
                .unwrap()
                .trim_start_matches('<')
                .to_owned();
            let rel = part
                .split("rel=\"")
                .nth(1)
                .unwrap()
                .trim_end_matches('"')
                .to_owned();
            (rel, url)
        })
        .collect()
}

#[tokio::test]
async fn pagination_links_and_total() {
    let ctx = start(relaxed()).await;
    let ids: Vec<u64> = (0..65)
        .map(|_| ctx.sim.create_order(NewOrder::default()))
        .collect();

    let r = ctx
        .get("/orders?status=open&per_page=30")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-total-count"], "65");
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    let rels = link_targets(&link);
    let host = ctx.server.addr().to_string();
    let next = format!(
        "http://{host}{}?status=open&page=2&per_page=30",
        ctx.path("/orders")
    );
    let last = format!(
        "http://{host}{}?status=open&page=3&per_page=30",
        ctx.path("/orders")
    );
    assert_eq!(
        rels,
        vec![("next".into(), next.clone()), ("last".into(), last.clone())]
    );
    let page1: Vec<Value> = r.json().await.unwrap();
    assert_eq!(page1.len(), 30);
    assert_eq!(page1[0]["id"], ids[0]);

    // Follow the Link URLs as a client should.
    let r = ctx.auth(ctx.client.get(&next)).send().await.unwrap();
    let rels = link_targets(r.headers()["link"].to_str().unwrap());
    assert!(rels.contains(&("next".into(), last.clone())));
    assert!(rels.iter().any(|(rel, _)| rel == "prev"));
    let page2: Vec<Value> = r.json().await.unwrap();
    assert_eq!(page2[0]["id"], ids[30]);

    let r = ctx.auth(ctx.client.get(&last)).send().await.unwrap();
    let rels = link_targets(r.headers()["link"].to_str().unwrap());
    assert!(!rels.iter().any(|(rel, _)| rel == "next"));
    let page3: Vec<Value> = r.json().await.unwrap();
    assert_eq!(page3.len(), 5);
    assert_eq!(page3[4]["id"], ids[64]);

    // Past the end: empty page.
    let r = ctx.get("/orders?page=4&per_page=30").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 0);

    // Default page size 30; max 200; above is refused.
    let r = ctx.get("/orders").send().await.unwrap();
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 30);
    let r = ctx.get("/orders?per_page=200").send().await.unwrap();
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 65);
    let r = ctx.get("/orders?per_page=201").send().await.unwrap();
    assert_eq!(r.status(), 422);

    // since_id
    let r = ctx
        .get(&format!("/orders?since_id={}&per_page=200", ids[59]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "5");
}

#[tokio::test]
async fn no_results_is_404_last_page_0() {
    let ctx = start(relaxed()).await;
    let r = ctx.get("/orders").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 404, "message": "Not Found", "description": "Last page is 0"})
    );
}

#[tokio::test]
async fn updated_at_min_filter_and_order() {
    let ctx = start(relaxed()).await;
    let ids: Vec<u64> = (0..5)
        .map(|_| ctx.sim.create_order(NewOrder::default()))
        .collect();
    // Two quick changes get distinct, increasing updated_at.
    ctx.sim.set_payment_status(ids[3], "paid").unwrap();
    ctx.sim.pack(ids[1]).unwrap();
    let o3 = ctx.sim.order(ids[3]).unwrap();
    let o1 = ctx.sim.order(ids[1]).unwrap();
    let (u3, u1) = (
        o3["updated_at"].as_str().unwrap(),
        o1["updated_at"].as_str().unwrap(),
    );
    assert!(u3 < u1, "{u3} < {u1}");
    assert!(o3["paid_at"].is_string());

    // Inclusive minimum, sorted by updated_at: 3 (paid) then 1 (packed).
    let r = ctx
        .client
        .get(format!("{}/orders", ctx.base))
        .query(&[("updated_at_min", u3)])
        .header("Authentication", format!("bearer {}", ctx.token))
        .header("User-Agent", common::UA)
        .send()
        .await
        .unwrap();
    let got: Vec<u64> = r
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[3], ids[1]]);

    // updated_at_max excludes the later change.
    let r = ctx
        .get(&format!("/orders?updated_at_min={u3}&updated_at_max={u3}").replace('+', "%2B"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "1");
    let r = ctx
        .get("/orders?updated_at_min=not-a-date")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn status_filters() {
    let ctx = start(relaxed()).await;
    let a = ctx.sim.create_order(NewOrder::default());
    let b = ctx.sim.create_order(NewOrder::default());
    let c = ctx.sim.create_order(NewOrder::default());
    ctx.sim.cancel(a, "fraud").unwrap();
    ctx.sim.set_payment_status(a, "voided").unwrap();
    ctx.sim.set_payment_status(b, "paid").unwrap();
    ctx.sim.fulfill(b, "QB123456789BR", None).unwrap();
    let total = |q: &str| {
        let rb = ctx.get(&format!("/orders?{q}"));
        async move {
            let r = rb.send().await.unwrap();
            if r.status() == 404 {
                return 0;
            }
            r.headers()["x-total-count"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        }
    };
    // Documented default: payment_status "any" = authorized, pending, paid.
    assert_eq!(total("").await, 2);
    assert_eq!(total("payment_status=voided").await, 1);
    assert_eq!(total("status=cancelled&payment_status=voided").await, 1);
    assert_eq!(total("status=open").await, 2);
    assert_eq!(total("shipping_status=fulfilled").await, 1);
    assert_eq!(total("shipping_status=unpacked").await, 1);
    assert_eq!(total("payment_status=paid").await, 1);
    let _ = c;

    let all = start(SimConfig {
        any_payment_status_is_all: true,
        ..relaxed()
    })
    .await;
    let x = all.sim.create_order(NewOrder::default());
    all.sim.set_payment_status(x, "refunded").unwrap();
    let r = all.get("/orders").send().await.unwrap();
    assert_eq!(r.headers()["x-total-count"], "1");
}

#[tokio::test]
async fn pack_fulfill_cancel_over_http() {
    let ctx = start(relaxed()).await;
    let (pid, vid) = ctx.sim.variants()[0];
    let stock0 = ctx.sim.variant_stock(pid, vid).unwrap();
    let mut new = NewOrder::default();
    new.lines[0].variant_id = Some(vid);
    new.lines[0].quantity = 2;
    let id = ctx.sim.create_order(new);
    assert_eq!(
        ctx.sim.variant_stock(pid, vid),
        Some(stock0 - 2),
        "sale claims stock"
    );
    let o = ctx.sim.order(id).unwrap();
    assert_eq!(o["shipping_status"], "unpacked");
    assert_eq!(o["products"][0]["variant_id"], vid);
    assert_eq!(o["products"][0]["product_id"], pid);

    let r = ctx
        .post(&format!("/orders/{id}/pack"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["shipping_status"], "unshipped");
    let fo = &ctx.sim.fulfillment_order(id).unwrap();
    assert_eq!(fo["status"], "PACKED");

    let r = ctx
        .post(&format!("/orders/{id}/pack"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 422);

    let body = json!({"shipping_tracking_number": "QB987654321BR", "shipping_tracking_url": "https://rastreamento.correios.com.br/x", "notify_customer": true});
    let r = ctx
        .post(&format!("/orders/{id}/fulfill"), body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["shipping_status"], "shipped");
    assert_eq!(o["shipping_tracking_number"], "QB987654321BR");
    assert!(o["shipped_at"].is_string());
    assert_eq!(
        ctx.sim.fulfillment_order(id).unwrap()["tracking_info"]["code"],
        "QB987654321BR"
    );

    let r = ctx
        .post(
            &format!("/orders/{id}/cancel"),
            json!({"reason": "nonsense"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = ctx
        .post(
            &format!("/orders/{id}/cancel"),
            json!({"reason": "inventory", "email": false, "restock": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["status"], "cancelled");
    assert_eq!(o["cancel_reason"], "inventory");
    assert!(o["cancelled_at"].is_string());
    assert_eq!(ctx.sim.variant_stock(pid, vid), Some(stock0), "restocked");

    let r = ctx
        .post(&format!("/orders/{id}/cancel"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 422, "message": "Unprocessable Entity", "description": "Order is already cancelled"})
    );

    let r = ctx
        .post(&format!("/orders/{id}/open"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "open");
    let r = ctx
        .post(&format!("/orders/{id}/close"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "closed");
    let r = ctx
        .post(&format!("/orders/{id}/close"), json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn fulfillment_order_flow() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let r = ctx
        .get(&format!("/orders/{id}/fulfillment-orders"))
        .send()
        .await
        .unwrap();
    let fos: Vec<Value> = r.json().await.unwrap();
    assert_eq!(fos.len(), 1);
    let fo_id = fos[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(fo_id.len(), 26);
    assert_eq!(fos[0]["status"], "UNPACKED");
    let fo_path = format!("/orders/{id}/fulfillment-orders/{fo_id}");

    // Tracking events need DISPATCHED.
    let ev = json!({"status": "in_transit", "description": "Objeto em trânsito"});
    let r = ctx
        .post(&format!("{fo_path}/tracking-events"), ev.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let r = ctx
        .patch(&fo_path, json!({"status": "PACKED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ctx.sim.order(id).unwrap()["shipping_status"], "unshipped");
    let r = ctx
        .patch(&fo_path, json!({"status": "BOGUS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = ctx
        .patch(
            &fo_path,
            json!({"status": "DISPATCHED", "tracking_info": {"code": "BR123", "url": "https://t/BR123", "notify_customer": true}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fo: Value = r.json().await.unwrap();
    assert_eq!(fo["status"], "DISPATCHED");
    assert_eq!(
        fo["tracking_info"],
        json!({"url": "https://t/BR123", "code": "BR123"})
    );
    let o = ctx.sim.order(id).unwrap();
    assert_eq!(o["shipping_status"], "shipped");
    assert_eq!(o["shipping_tracking_number"], "BR123");

    let r = ctx
        .post(&format!("{fo_path}/tracking-events"), ev.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["status"], "in_transit");
    let r = ctx
        .post(&format!("{fo_path}/tracking-events"), ev)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "identical event without happened_at is rejected"
    );

    let delivered = json!({"status": "delivered", "description": "Entregue", "happened_at": "2026-03-02T15:04:05+00:00"});
    let r = ctx
        .post(&format!("{fo_path}/tracking-events"), delivered)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let fo = ctx.sim.fulfillment_order(id).unwrap();
    assert_eq!(fo["status"], "DELIVERED");
    assert_eq!(fo["fulfilled_at"], "2026-03-02T15:04:05+00:00");
    assert_eq!(fo["tracking_events"].as_array().unwrap().len(), 2);
    assert_eq!(ctx.sim.order(id).unwrap()["shipping_status"], "delivered");

    let r = ctx
        .patch(&fo_path, json!({"status": "PACKED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = ctx
        .patch(
            &format!("/orders/{id}/fulfillment-orders/01NOPE0000000000000000000"),
            json!({"status": "PACKED"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn fixture_orders_load_and_serve() {
    let ctx = start(relaxed()).await;
    let ids = ctx.sim.load_fixture_orders(fixtures_dir()).unwrap();
    assert_eq!(ids, vec![450_789_469]);
    let r = ctx.get("/orders/450789469").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let o: Value = r.json().await.unwrap();
    // The list example (loaded second) wins; all of its keys are kept.
    assert_eq!(o["number"], 10872);
    assert_eq!(o["customer"]["identification"], "41913703");
    assert_eq!(o["payment_details"]["installments"], "6");
    assert_eq!(o["products"][0]["sku"], "12331471");
    assert_eq!(o["created_at"], "2022-02-23T12:25:18+0000");
    assert_eq!(ctx.sim.variant_stock(58_208_779, 169_164_456), Some(100));

    // A single fixture order: duplicate "number" key, last one (101) wins.
    let only_single = NuvemshopSim::new(relaxed());
    let dir = tempdir_with_order_json();
    only_single.load_fixture_orders(&dir).unwrap();
    assert_eq!(only_single.order(450_789_469).unwrap()["number"], 101);
    assert_eq!(
        only_single.order(450_789_469).unwrap()["shipping_status"],
        "unshipped"
    );
    only_single.pack(450_789_469).unwrap();
    assert_eq!(
        only_single.order(450_789_469).unwrap()["shipping_status"],
        "unshipped"
    );
    only_single
        .fulfill(
            450_789_469,
            "ABC1234",
            Some("https://shipping.com/tracking/ABC1234"),
        )
        .unwrap();
    let o = only_single.order(450_789_469).unwrap();
    assert_eq!(o["shipping_status"], "shipped");
    assert_eq!(
        o["shipping_tracking_url"],
        "https://shipping.com/tracking/ABC1234"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempdir_with_order_json() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ponte-sim-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures_dir().join("order.json"), dir.join("order.json")).unwrap();
    dir
}

#[tokio::test]
async fn fields_parameter() {
    let ctx = start(relaxed()).await;
    let id = ctx.sim.create_order(NewOrder::default());
    let r = ctx
        .get(&format!("/orders/{id}?fields=id,number,total"))
        .send()
        .await
        .unwrap();
    let o: Value = r.json().await.unwrap();
    assert_eq!(o.as_object().unwrap().len(), 3);
    let r = ctx.get("/orders?fields=id").send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!([{"id": id}]));
}
