//! Product data: a bulk refuses unknown SKUs, bad EAN/GTIN check digits, NCMs that are
//! not 8 digits, negative weights or dimensions and empty names, naming the rows and
//! writing none of them.

use crate::harness::{covered, Api, Covered};
use ponte_core::ErrorCode as E;
use serde_json::{json, Value};

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/product-data", E::UnknownSku),
        ("post", "/api/v1/product-data", E::InvalidGtin),
        ("post", "/api/v1/product-data", E::InvalidNcm),
        ("post", "/api/v1/product-data", E::InvalidMeasure),
        ("post", "/api/v1/product-data", E::ValidationFailed),
    ])
}

const PATH: &str = "/api/v1/product-data";

fn good(sku: &str) -> Value {
    json!({"sku": sku, "name": "Camiseta", "ean": "7891234567895", "ncm": "61091000",
           "weight_g": 250, "height_mm": 10})
}

async fn refused_naming(api: &Api, rows: Vec<Value>, code: E, row: &str) {
    let r = api
        .refuses("POST", PATH, Some(json!({"products": rows})), code)
        .await;
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(row), "{detail}");
}

#[tokio::test]
async fn a_bulk_with_a_bad_row_is_refused_naming_it_and_writes_nothing() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    api.product("SKU-2").await;
    let with = |k: &str, v: Value| {
        let mut r = good("SKU-2");
        r[k] = v;
        r
    };
    refused_naming(
        &api,
        vec![good("SKU-1"), good("NOPE")],
        E::UnknownSku,
        "row 1",
    )
    .await;
    let gtin = with("ean", json!("7891234567890"));
    refused_naming(&api, vec![good("SKU-1"), gtin], E::InvalidGtin, "row 1").await;
    let ncm = with("ncm", json!("6109.10.00"));
    refused_naming(&api, vec![ncm, good("SKU-1")], E::InvalidNcm, "row 0").await;
    let weight = with("weight_g", json!(-1));
    let depth = with("length_mm", json!(-5));
    refused_naming(
        &api,
        vec![good("SKU-1"), weight, depth],
        E::InvalidMeasure,
        "row 2",
    )
    .await;
    let unnamed = with("name", json!("  "));
    refused_naming(&api, vec![unnamed], E::ValidationFailed, "row 0").await;
    api.refuses(
        "POST",
        PATH,
        Some(json!({"products": []})),
        E::ValidationFailed,
    )
    .await;
    let d = api.get("/api/v1/product-data/SKU-1").await;
    assert!(d["ncm"].is_null(), "nothing written: {d}");
    // A good bulk writes every row.
    let w = api
        .call(
            "POST",
            PATH,
            Some(&json!({"products": [good("SKU-1"), good("SKU-2")]})),
        )
        .await
        .ok();
    assert_eq!(w["written"], 2, "{w}");
    let d = api.get("/api/v1/product-data/SKU-2").await;
    assert_eq!(
        (d["ncm"].as_str(), d["weight_g"].as_i64()),
        (Some("61091000"), Some(250)),
        "{d}"
    );
}
