//! Catalog API, SKUs: `GET /api/catalog/pvt/stockkeepingunit/{skuId}` answers the SKU
//! object and `PUT` REPLACES it with the body (every field not sent is lost), as the
//! Catalog API's "Update SKU" describes (`VX:VTEX - Catalog API.json`; field names as
//! in its SKU schema: `Id`, `ProductId`, `IsActive`, `Name`, `RefId`, `Packaged*`,
//! `Height`, `Length`, `Width`, `WeightKg`, ...).
//!
//! Assumptions: the PUT requires what Create SKU requires (`ProductId`, `Name`,
//! `PackagedHeight`, `PackagedLength`, `PackagedWidth`, `PackagedWeightKg`), answers
//! 400 with a message otherwise, and 404 for an unknown SKU; sizes are centimetres
//! and weights grams (the store's default units).
// Checks return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::catalog::Sku;
use super::http::{error, ok, parse_body};
use super::routes::AppState;

/// The SKU object the catalogue starts with.
pub fn render(s: &Sku) -> Value {
    let grams = (s.weight_kg * 1000.0).round();
    json!({
        "Id": s.id.parse::<u64>().unwrap_or_default(),
        "ProductId": s.product_id.parse::<u64>().unwrap_or_default(),
        "IsActive": true,
        "Name": s.name,
        "RefId": s.ref_id,
        "PackagedHeight": 10.0,
        "PackagedLength": 30.0,
        "PackagedWidth": 20.0,
        "PackagedWeightKg": grams,
        "Height": 10.0,
        "Length": 30.0,
        "Width": 20.0,
        "WeightKg": grams,
        "CubicWeight": 0.0,
        "IsKit": false,
        "CreationDate": "2024-01-10T12:00:00",
        "RewardValue": null,
        "EstimatedDateArrival": null,
        "ManufacturerCode": "",
        "CommercialConditionId": 1,
        "MeasurementUnit": "un",
        "UnitMultiplier": 1.0,
        "ModalType": null,
        "KitItensSellApart": false,
        "Videos": []
    })
}

pub async fn get_sku(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match st.sim.read().catalog_skus.get(&id) {
        Some(s) => ok(s),
        None => error(404, format!("SKU {id} not found")),
    }
}

pub async fn put_sku(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(o) = b.as_object() else {
        return error(400, "the body must be an SKU object");
    };
    for key in [
        "ProductId",
        "Name",
        "PackagedHeight",
        "PackagedLength",
        "PackagedWidth",
        "PackagedWeightKg",
    ] {
        if o.get(key).is_none_or(Value::is_null) {
            return error(400, format!("{key} is required"));
        }
    }
    if o.get("Name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return error(400, "Name must be a non-empty string");
    }
    let mut store = st.sim.write();
    let Some(slot) = store.catalog_skus.get_mut(&id) else {
        return error(404, format!("SKU {id} not found"));
    };
    let mut next = b.clone();
    if let Some(m) = next.as_object_mut() {
        m.insert("Id".into(), slot.get("Id").cloned().unwrap_or(Value::Null));
    }
    *slot = next;
    ok(slot)
}
