//! Product data end to end (real binary, simulated Nuvemshop and VTEX): off by default
//! nothing is sent; turned on, every listed product goes out; a field change reaches
//! the platform with the minimal calls (only the changed fields: Nuvemshop's product
//! PUT, variants PATCH, or both; VTEX's SKU read and put back whole, its other fields
//! kept); a bad row is refused and nothing changes; a platform failure is retried (in
//! full) and recorded. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
// The shared VTEX harness re-exports helpers this file does not use.
#[allow(unused_imports)]
#[path = "common/vtex.rs"]
mod vtex_harness;

use common::{wait_for, Backend, Sim};
use ponte_sim::nuvemshop::{Fault, FaultKind, Method};
use serde_json::{json, Value};
use std::time::Duration;
use vtex_harness::{start_public, Vtex};

both_backends!(
    product_data_reaches_nuvemshop_minimal_refused_and_retried,
    product_data_reaches_vtex_skus_merged_and_retried
);

fn row(sku: &str, name: &str, description: &str) -> Value {
    json!({"sku": sku, "name": name, "description": description, "brand": "Marca",
           "ean": "7891234567895", "ncm": "61091000", "weight_g": 250,
           "height_mm": 105, "width_mm": 200, "length_mm": 300})
}

async fn product_data_reaches_nuvemshop_minimal_refused_and_retried(backend: Backend) {
    let sim = Sim::start(Sim::unlimited()).await;
    let storage = common::Storage::new(backend).await;
    let env = storage.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ponte = start_public(storage.dir.path(), &env);
    // Two products of two variants.
    let catalogue = sim.sim.add_catalogue(2, 2);
    for (_, _, sku) in &catalogue {
        let (s, v) = ponte
            .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let cfg = sim.sim.config();
    let (s, ch) = ponte
        .post(
            "/api/v1/channels",
            &json!({
                "platform": "nuvemshop",
                "name": "Loja",
                "settings": {"store_id": cfg.store_id.to_string(), "api_base_url": sim.base_url,
                             "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6},
                "credentials": {"access_token": cfg.access_token, "app_secret": cfg.app_secret}
            }),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    let ch = ch["id"].as_str().unwrap().to_owned();
    let listings: Vec<Value> = catalogue
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p.to_string(), "variant_id": v.to_string()}))
        .collect();
    let (s, v) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/listings"),
            &json!({ "listings": listings }),
        )
        .await;
    assert!((200..300).contains(&s), "{v}");
    sim.sim.clear_requests();
    let calls = |m: &Method| sim.sim.request_count(m, "/products/");

    // 1. Off by default: product data is stored, nothing is sent.
    let rows: Vec<Value> = catalogue
        .iter()
        .map(|(_, _, sku)| row(sku, &format!("Camiseta {sku}"), "<p>Algodão</p>"))
        .collect();
    let (s, w) = ponte
        .post("/api/v1/product-data", &json!({ "products": rows }))
        .await;
    assert_eq!((s, w["written"].as_u64()), (200, Some(4)), "{w}");
    assert_eq!(w["channel_values"], 0, "{w}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(calls(&Method::PUT) + calls(&Method::PATCH), 0);
    let first = &catalogue[0].2;
    let d = ponte.get(&format!("/api/v1/product-data/{first}")).await;
    assert_eq!(d["ncm"], "61091000", "{d}");
    assert!(d["channels"].as_array().unwrap().is_empty(), "{d}");

    // 2. Turned on: every listed product goes out, one PUT and one PATCH per product.
    let fields = json!([
        "name",
        "description",
        "brand",
        "ean",
        "ncm",
        "weight",
        "dimensions",
        "active"
    ]);
    let (s, v) = ponte
        .patch(
            &format!("/api/v1/channels/{ch}"),
            &json!({"settings": {"send_product_data": true, "product_fields": fields}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (p0, v0, _) = catalogue[0].clone();
    let (p1, _, _) = catalogue[2].clone();
    wait_for(Duration::from_secs(30), || async {
        sim.sim.product_info(p0).unwrap()["description"] == "<p>Algodão</p>"
            && sim.sim.product_info(p1).unwrap()["description"] == "<p>Algodão</p>"
            && sim.sim.variant(p0, v0).unwrap()["barcode"] == "7891234567895"
    })
    .await;
    wait_for(Duration::from_secs(10), || async {
        let d = ponte.get(&format!("/api/v1/product-data/{first}")).await;
        d["channels"][0]["state"] == "pushed"
    })
    .await;
    assert_eq!((calls(&Method::PUT), calls(&Method::PATCH)), (2, 2));
    let v = sim.sim.variant(p0, v0).unwrap();
    assert_eq!(
        (&v["weight"], &v["height"], &v["width"], &v["depth"]),
        (
            &json!("0.250"),
            &json!("10.5"),
            &json!("20.0"),
            &json!("30.0")
        ),
        "{v}"
    );
    let info = sim.sim.product_info(p0).unwrap();
    assert_eq!(info["brand"], "Marca", "{info}");
    assert_eq!(info["published"], true, "{info}");

    // 3. A name change of one SKU (the API's PATCH): one PUT, no PATCH.
    sim.sim.clear_requests();
    let (s, v) = ponte
        .patch(
            &format!("/api/v1/products/{first}"),
            &json!({"name": "Camiseta Azul"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    wait_for(Duration::from_secs(15), || async {
        sim.sim.product_info(p0).unwrap()["name"] == "Camiseta Azul"
    })
    .await;
    wait_for(Duration::from_secs(10), || async {
        let d = ponte.get(&format!("/api/v1/product-data/{first}")).await;
        d["channels"][0]["state"] == "pushed"
    })
    .await;
    assert_eq!((calls(&Method::PUT), calls(&Method::PATCH)), (1, 0));

    // 4. A weight change of both variants of product 0: one PATCH, no PUT.
    sim.sim.clear_requests();
    let second = &catalogue[1].2;
    let (s, w) = ponte
        .post(
            "/api/v1/product-data",
            &json!({"products": [
                {"sku": first, "name": "Camiseta Azul", "description": "<p>Algodão</p>", "brand": "Marca",
                 "ean": "7891234567895", "ncm": "61091000", "weight_g": 300,
                 "height_mm": 105, "width_mm": 200, "length_mm": 300},
                {"sku": second, "name": format!("Camiseta {second}"), "description": "<p>Algodão</p>",
                 "brand": "Marca", "ean": "7891234567895", "ncm": "61091000", "weight_g": 300,
                 "height_mm": 105, "width_mm": 200, "length_mm": 300}]}),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    wait_for(Duration::from_secs(15), || async {
        sim.sim.variant(p0, v0).unwrap()["weight"] == "0.300"
            && sim.sim.variant(p0, catalogue[1].1).unwrap()["weight"] == "0.300"
    })
    .await;
    assert_eq!((calls(&Method::PUT), calls(&Method::PATCH)), (0, 1));

    // 5. A bulk with a bad row is refused, naming it; nothing changes.
    sim.sim.clear_requests();
    let mut bad = row(second, "Outro", "x");
    bad["ncm"] = json!("6109");
    let (s, e) = ponte
        .post(
            "/api/v1/product-data",
            &json!({"products": [row(first, "Outro", "x"), bad]}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (422, Some("invalid_ncm")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("row 1"), "{e}");
    let mut bad = row(second, "Outro", "x");
    bad["ean"] = json!("7891234567890");
    let (s, e) = ponte
        .post("/api/v1/product-data", &json!({"products": [bad]}))
        .await;
    assert_eq!((s, e["code"].as_str()), (422, Some("invalid_gtin")), "{e}");
    let (s, e) = ponte
        .post(
            "/api/v1/product-data",
            &json!({"products": [row(first, "Outro", "x"), row("NOPE", "N", "x")]}),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (422, Some("unknown_sku")), "{e}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(calls(&Method::PUT) + calls(&Method::PATCH), 0);
    let d = ponte.get(&format!("/api/v1/product-data/{first}")).await;
    assert_eq!(d["name"], "Camiseta Azul", "{d}");

    // 6. A platform failure is retried, in full (the failed call may have reached the
    // platform: what it shows is not known); every call is in the SKU's history.
    sim.sim.clear_requests();
    sim.sim
        .inject(Fault::new("/products/", 1, FaultKind::Status(500)));
    let mut r = row(first, "Camiseta Verde", "<p>Algodão</p>");
    r["weight_g"] = json!(300);
    let (s, w) = ponte.post("/api/v1/product-data", &r).await;
    assert_eq!(s, 200, "{w}");
    wait_for(Duration::from_secs(30), || async {
        sim.sim.product_info(p0).unwrap()["name"] == "Camiseta Verde"
    })
    .await;
    wait_for(Duration::from_secs(10), || async {
        let d = ponte.get(&format!("/api/v1/product-data/{first}")).await;
        d["channels"][0]["state"] == "pushed"
    })
    .await;
    assert_eq!((calls(&Method::PUT), calls(&Method::PATCH)), (2, 1));
    let h = ponte
        .get(&format!("/api/v1/product-data/pushes?sku={first}&limit=2"))
        .await;
    let items = h["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{h}");
    assert_eq!(items[0]["outcome"], "succeeded", "{h}");
    assert_eq!(items[1]["outcome"], "retrying", "{h}");
    assert_eq!(items[1]["http_status"], 500, "{h}");
}

async fn product_data_reaches_vtex_skus_merged_and_retried(backend: Backend) {
    let vtex = Vtex::start().await;
    let storage = common::Storage::new(backend).await;
    let env = storage.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ponte = start_public(storage.dir.path(), &env);
    let skus: Vec<(String, String, String)> = vtex
        .sim
        .skus()
        .into_iter()
        .take(2)
        .map(|s| (s.product_id.clone(), s.id.clone(), format!("VTEX-{}", s.id)))
        .collect();
    for (_, _, sku) in &skus {
        let (s, v) = ponte
            .post("/api/v1/products", &json!({"sku": sku, "name": sku}))
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let fields = json!(["name", "ean", "weight", "dimensions", "active"]);
    let ch = vtex
        .channel(
            &ponte,
            &json!({"send_product_data": true, "product_fields": fields}),
        )
        .await;
    let ch = ch["id"].as_str().unwrap().to_owned();
    let before = vtex.sim.catalog_sku(&skus[0].1).unwrap();
    vtex.sim.clear_requests();
    // Listed: each SKU's fields go out, one read and one PUT per SKU.
    let listings: Vec<Value> = skus
        .iter()
        .map(|(p, v, sku)| json!({"sku": sku, "product_id": p, "variant_id": v}))
        .collect();
    let (s, v) = ponte
        .post(
            &format!("/api/v1/channels/{ch}/listings"),
            &json!({ "listings": listings }),
        )
        .await;
    assert!((200..300).contains(&s), "{v}");
    let sku0 = &skus[0].2;
    let pushed = || async {
        let d = ponte.get(&format!("/api/v1/product-data/{sku0}")).await;
        d["channels"][0]["state"] == "pushed"
    };
    wait_for(Duration::from_secs(20), || async {
        vtex.sim.catalog_sku(&skus[1].1).unwrap()["Name"] == json!(skus[1].2)
    })
    .await;
    wait_for(Duration::from_secs(10), pushed).await;
    let path = "/api/catalog/pvt/stockkeepingunit/";
    assert_eq!(vtex.sim.request_count(&Method::GET, path), 2);
    assert_eq!(vtex.sim.request_count(&Method::PUT, path), 2);

    // A name, weight and size change: the SKU is put back whole, its other fields kept.
    vtex.sim.clear_requests();
    let row = json!({"sku": sku0, "name": "Camiseta P", "ean": "7891234567895",
                     "weight_g": 250, "height_mm": 105, "width_mm": 200, "length_mm": 300});
    let (s, w) = ponte.post("/api/v1/product-data", &row).await;
    assert_eq!(s, 200, "{w}");
    wait_for(Duration::from_secs(20), || async {
        vtex.sim.catalog_sku(&skus[0].1).unwrap()["Name"] == "Camiseta P"
    })
    .await;
    wait_for(Duration::from_secs(10), pushed).await;
    let after = vtex.sim.catalog_sku(&skus[0].1).unwrap();
    assert_eq!(after["WeightKg"], 250.0, "{after}");
    assert_eq!(after["PackagedHeight"], 10.5, "{after}");
    for kept in [
        "RefId",
        "ProductId",
        "MeasurementUnit",
        "CommercialConditionId",
    ] {
        assert_eq!(after[kept], before[kept], "{kept} kept: {after}");
    }
    assert_eq!(
        (
            vtex.sim.request_count(&Method::GET, path),
            vtex.sim.request_count(&Method::PUT, path)
        ),
        (1, 1)
    );

    // Only the EAN changes: nothing the VTEX SKU takes, no call.
    vtex.sim.clear_requests();
    let mut only_ean = row.clone();
    only_ean["ean"] = json!("7891234567888");
    let (s, w) = ponte.post("/api/v1/product-data", &only_ean).await;
    assert_eq!(s, 200, "{w}");
    wait_for(Duration::from_secs(10), || async {
        let d = ponte.get(&format!("/api/v1/product-data/{sku0}")).await;
        d["channels"][0]["state"] == "pushed"
            && d["channels"][0]["last_pushed"]["ean"] == "7891234567888"
    })
    .await;
    assert_eq!(vtex.sim.request_count(&Method::PUT, path), 0);

    // A failed PUT is retried (and read again first).
    vtex.sim.clear_requests();
    let mut f = Fault::new(path, 1, FaultKind::Status(503));
    f.method = Some(Method::PUT);
    vtex.sim.inject(f);
    let mut renamed = only_ean.clone();
    renamed["name"] = json!("Camiseta M");
    let (s, w) = ponte.post("/api/v1/product-data", &renamed).await;
    assert_eq!(s, 200, "{w}");
    wait_for(Duration::from_secs(30), || async {
        vtex.sim.catalog_sku(&skus[0].1).unwrap()["Name"] == "Camiseta M"
    })
    .await;
    assert_eq!(vtex.sim.request_count(&Method::PUT, path), 2);
    let h = ponte
        .get(&format!("/api/v1/product-data/pushes?sku={sku0}&limit=2"))
        .await;
    assert_eq!(h["items"][1]["outcome"], "retrying", "{h}");
}
