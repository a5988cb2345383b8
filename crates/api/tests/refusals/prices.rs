//! Prices: a bulk refuses unknown SKUs, negative prices, promotions above the regular
//! price and windows ending before they start, naming the rows and writing none of
//! them; a scheduled price that is not waiting cannot be cancelled; a resync marks
//! every priced listing of the channel and says how many.

use crate::harness::{covered, unknown_id, Api, Covered};
use ponte_core::ErrorCode as E;
use serde_json::{json, Value};

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/prices", E::UnknownSku),
        ("post", "/api/v1/prices", E::NegativePrice),
        ("post", "/api/v1/prices", E::PromotionalAboveRegular),
        ("post", "/api/v1/prices", E::InvalidPromotionalWindow),
        ("post", "/api/v1/prices", E::ValidationFailed),
        (
            "delete",
            "/api/v1/prices/scheduled/{id}",
            E::ScheduledPriceNotFound,
        ),
    ])
}

const PATH: &str = "/api/v1/prices";

fn good() -> Value {
    json!({"sku": "SKU-1", "price_cents": 1990, "promotional_price_cents": 1790})
}

async fn refused_naming(api: &Api, rows: Vec<Value>, code: E, row: &str) {
    let r = api
        .refuses("POST", PATH, Some(json!({"prices": rows})), code)
        .await;
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(row), "{detail}");
}

#[tokio::test]
async fn a_bulk_with_a_bad_row_is_refused_naming_it_and_writes_nothing() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    api.product("SKU-2").await;
    let two = json!({"sku": "SKU-2", "price_cents": 500});
    let nope = json!({"sku": "NOPE", "price_cents": 500});
    refused_naming(&api, vec![good(), nope.clone()], E::UnknownSku, "row 1").await;
    let negative = json!({"sku": "SKU-2", "price_cents": -1});
    refused_naming(
        &api,
        vec![good(), two.clone(), negative],
        E::NegativePrice,
        "row 2",
    )
    .await;
    let negative_promo = json!({"sku": "SKU-2", "price_cents": 10, "promotional_price_cents": -5});
    refused_naming(&api, vec![negative_promo], E::NegativePrice, "row 0").await;
    let above = json!({"sku": "SKU-2", "price_cents": 500, "promotional_price_cents": 600});
    refused_naming(
        &api,
        vec![good(), above],
        E::PromotionalAboveRegular,
        "row 1",
    )
    .await;
    let backwards = json!({"sku": "SKU-2", "price_cents": 500, "promotional_price_cents": 400,
        "promotional_from": "2026-12-10T00:00:00Z", "promotional_until": "2026-12-01T00:00:00Z"});
    refused_naming(
        &api,
        vec![two.clone(), good(), backwards],
        E::InvalidPromotionalWindow,
        "row 2",
    )
    .await;
    let no_promo =
        json!({"sku": "SKU-2", "price_cents": 500, "promotional_until": "2026-12-01T00:00:00Z"});
    refused_naming(&api, vec![no_promo], E::InvalidPromotionalWindow, "row 0").await;
    // A future row in a refused bulk is not scheduled either.
    let future =
        json!({"sku": "SKU-2", "price_cents": 500, "effective_at": "2099-01-01T00:00:00Z"});
    refused_naming(&api, vec![future, nope], E::UnknownSku, "NOPE").await;
    let p = api.get("/api/v1/prices/SKU-1").await;
    assert!(p["current"].is_null(), "{p}");
}

#[tokio::test]
async fn an_empty_bulk_is_validation_failed() {
    let api = Api::new().await;
    api.refuses(
        "POST",
        PATH,
        Some(json!({"prices": []})),
        E::ValidationFailed,
    )
    .await;
}

#[tokio::test]
async fn a_good_bulk_sets_and_schedules_and_a_scheduled_price_cancels_once() {
    let api = Api::new().await;
    api.product("SKU-1").await;
    let future =
        json!({"sku": "SKU-1", "price_cents": 990, "effective_at": "2099-01-01T00:00:00Z"});
    let w = api
        .call("POST", PATH, Some(&json!({"prices": [good(), future]})))
        .await
        .ok();
    assert_eq!(w["applied"], 1, "{w}");
    let id = w["scheduled"][0]["id"].as_str().unwrap().to_owned();
    let p = api.get("/api/v1/prices/SKU-1").await;
    assert_eq!(p["current"]["price_cents"], 1990, "{p}");
    assert_eq!(p["promotional_now_cents"], 1790, "{p}");
    assert_eq!(p["scheduled"][0]["id"], id.as_str());
    let listed = api.get("/api/v1/prices/scheduled").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let path = format!("/api/v1/prices/scheduled/{id}");
    let r = api.call("DELETE", &path, None).await;
    assert_eq!(r.status, 204);
    api.refuses("DELETE", &path, None, E::ScheduledPriceNotFound)
        .await;
    for other in [unknown_id(), "not-an-id".to_owned()] {
        let path = format!("/api/v1/prices/scheduled/{other}");
        api.refuses("DELETE", &path, None, E::ScheduledPriceNotFound)
            .await;
    }
}

#[tokio::test]
async fn a_resync_marks_every_priced_listing_and_counts_them() {
    let api = Api::new().await;
    let ch = api.channel().await;
    for sku in ["SKU-1", "SKU-2", "SKU-3"] {
        api.product(sku).await;
    }
    let listings: Vec<Value> = ["SKU-1", "SKU-2", "SKU-3"]
        .iter()
        .enumerate()
        .map(|(i, sku)| json!({"sku": sku, "product_id": "10", "variant_id": (20 + i).to_string()}))
        .collect();
    api.call(
        "POST",
        &format!("/api/v1/channels/{ch}/listings"),
        Some(&json!({ "listings": listings })),
    )
    .await
    .ok();
    let resync = format!("/api/v1/channels/{ch}/prices/resync");
    // Prices off: nothing to push.
    let r = api.call("POST", &resync, Some(&json!({}))).await;
    assert_eq!(
        (r.status, r.body["resynced"].as_u64()),
        (202, Some(0)),
        "{}",
        r.body
    );
    api.call(
        "PATCH",
        &format!("/api/v1/channels/{ch}"),
        Some(&json!({"settings": {"send_prices": true}})),
    )
    .await
    .ok();
    let two = json!({"prices": [{"sku": "SKU-1", "price_cents": 100}, {"sku": "SKU-2", "price_cents": 200}]});
    api.call("POST", PATH, Some(&two)).await.ok();
    let r = api.call("POST", &resync, Some(&json!({}))).await;
    assert_eq!(
        (r.status, r.body["resynced"].as_u64()),
        (202, Some(2)),
        "{}",
        r.body
    );
    // The channel calls nowhere: both stay pending (or fail), none is lost.
    let c = api.get(&format!("/api/v1/channels/{ch}/prices")).await;
    let n = |k: &str| c[k].as_u64().unwrap();
    assert_eq!(n("pending") + n("pushed") + n("failed"), 2, "{c}");
    assert!(c.get("resynced").is_none(), "{c}");
    let p = api.get("/api/v1/prices/SKU-1").await;
    assert!(p["channels"][0].get("last_attempt_at").is_some(), "{p}");
}
