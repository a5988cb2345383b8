//! Stock: products, warehouses, listings and movements refuse unknown SKUs and
//! warehouses, duplicates and bad values; a refused bulk records none of its rows.

use crate::harness::{covered, Api, Covered};
use ponte_core::ErrorCode as E;
use serde_json::json;

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/products", E::SkuExists),
        ("post", "/api/v1/products", E::InvalidGtin),
        ("post", "/api/v1/products", E::ValidationFailed),
        ("patch", "/api/v1/products/{sku}", E::InvalidGtin),
        ("patch", "/api/v1/products/{sku}", E::ValidationFailed),
        ("post", "/api/v1/warehouses", E::WarehouseExists),
        ("post", "/api/v1/warehouses", E::ValidationFailed),
        ("post", "/api/v1/channels/{id}/listings", E::UnknownSku),
        (
            "post",
            "/api/v1/channels/{id}/listings",
            E::ValidationFailed,
        ),
        ("post", "/api/v1/stock/movements", E::UnknownSku),
        ("post", "/api/v1/stock/movements", E::UnknownWarehouse),
        ("post", "/api/v1/stock/movements", E::ValidationFailed),
    ])
}

/// GTINs with a wrong length or check digit (4006381333931 is a valid EAN-13).
const BAD_GTINS: &[&str] = &["4006381333932", "123", "40063813339310", "ABCDEFGHIJKLM"];

#[tokio::test]
async fn an_existing_sku_is_sku_exists() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    let again = json!({"sku": "SKU-1", "name": "Outro"});
    api.refuses("POST", "/api/v1/products", Some(again), E::SkuExists)
        .await;
    let padded = json!({"sku": " SKU-1 ", "name": "Outro"});
    api.refuses("POST", "/api/v1/products", Some(padded), E::SkuExists)
        .await;
}

#[tokio::test]
async fn a_wrong_ean_is_invalid_gtin() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    for ean in BAD_GTINS {
        let create = json!({"sku": "SKU-2", "name": "Produto", "ean": ean});
        api.refuses("POST", "/api/v1/products", Some(create), E::InvalidGtin)
            .await;
        let change = json!({"ean": ean});
        api.refuses(
            "PATCH",
            "/api/v1/products/SKU-1",
            Some(change),
            E::InvalidGtin,
        )
        .await;
    }
    let valid = json!({"sku": "SKU-2", "name": "Produto", "ean": "4006381333931"});
    api.call("POST", "/api/v1/products", Some(&valid))
        .await
        .ok();
}

#[tokio::test]
async fn a_bad_sku_or_empty_name_is_validation_failed() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    for create in [
        json!({"sku": "", "name": "Produto"}),
        json!({"sku": "SKU 2", "name": "Produto"}),
        json!({"sku": "SKU#2", "name": "Produto"}),
        json!({"sku": "S".repeat(61), "name": "Produto"}),
        json!({"sku": "SKU-2", "name": "  "}),
    ] {
        api.refuses(
            "POST",
            "/api/v1/products",
            Some(create),
            E::ValidationFailed,
        )
        .await;
    }
    let change = json!({"name": " "});
    api.refuses(
        "PATCH",
        "/api/v1/products/SKU-1",
        Some(change),
        E::ValidationFailed,
    )
    .await;
}

#[tokio::test]
async fn an_existing_or_bad_warehouse_code_is_refused() {
    let api = Api::new().await;
    api.warehouse("CD1").await;
    let again = json!({"code": "CD1", "name": "Outro"});
    api.refuses(
        "POST",
        "/api/v1/warehouses",
        Some(again),
        E::WarehouseExists,
    )
    .await;
    for code in ["", "CD 2", "CD#2"] {
        let bad = json!({"code": code, "name": "Outro"});
        api.refuses("POST", "/api/v1/warehouses", Some(bad), E::ValidationFailed)
            .await;
    }
}

#[tokio::test]
async fn listings_refuse_unknown_skus_and_missing_ids() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    let c = api.channel().await;
    let path = format!("/api/v1/channels/{c}/listings");
    let unknown = json!({"listings": [
        {"sku": "SKU-1", "product_id": "10", "variant_id": "11"},
        {"sku": "NOPE", "product_id": "12", "variant_id": "13"},
    ]});
    let r = api
        .refuses("POST", &path, Some(unknown), E::UnknownSku)
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("NOPE"),
        "{}",
        r.body
    );
    for (product, variant) in [("", "11"), ("10", " ")] {
        let one = json!({"sku": "SKU-1", "product_id": product, "variant_id": variant});
        api.refuses("POST", &path, Some(one), E::ValidationFailed)
            .await;
    }
}

#[tokio::test]
async fn movements_refuse_unknown_skus_and_warehouses_all_or_none() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    api.warehouse("CD1").await;
    let path = "/api/v1/stock/movements";
    let good = json!({"sku": "SKU-1", "warehouse": "CD1", "set": 10});
    let unknown_sku = json!({"movements": [good, {"sku": "NOPE", "warehouse": "CD1", "delta": 1}]});
    let r = api
        .refuses("POST", path, Some(unknown_sku), E::UnknownSku)
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("row 1"),
        "{}",
        r.body
    );
    let unknown_wh = json!({"movements": [good, {"sku": "SKU-1", "warehouse": "CD9", "delta": 1}]});
    api.refuses("POST", path, Some(unknown_wh), E::UnknownWarehouse)
        .await;
    let single = json!({"sku": "SKU-1", "warehouse": "CD9", "set": 1});
    api.refuses("POST", path, Some(single), E::UnknownWarehouse)
        .await;
}

#[tokio::test]
async fn a_movement_that_is_not_exactly_one_change_is_validation_failed() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    api.warehouse("CD1").await;
    let path = "/api/v1/stock/movements";
    for body in [
        json!({"sku": "SKU-1", "warehouse": "CD1", "set": 1, "delta": 1}),
        json!({"sku": "SKU-1", "warehouse": "CD1"}),
        json!({"movements": []}),
        json!({"movements": [{"sku": "SKU-1", "warehouse": "CD1", "set": 5}, {"sku": "SKU-1", "warehouse": "CD1"}]}),
    ] {
        api.refuses("POST", path, Some(body), E::ValidationFailed)
            .await;
    }
}
