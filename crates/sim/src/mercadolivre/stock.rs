//! Stock handlers: items (`available_quantity`, `variations[]`) and user products
//! (`x-version`, 409 on a stale one).
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::{json, Value};

use super::routes::{ml_error, ok, AppState};

pub(super) async fn item(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    let s = st.sim.store();
    let Some(i) = s.items.get(&id) else {
        return ml_error(404, "not_found", format!("item {id} not found"));
    };
    let variations: Vec<Value> = i
        .variations
        .iter()
        .map(|(v, (q, up))| json!({"id": v, "available_quantity": q, "user_product_id": up}))
        .collect();
    ok(&json!({
        "id": id, "seller_id": st.sim.config().seller_id, "available_quantity": i.available_quantity,
        "user_product_id": i.user_product_id, "variations": variations,
    }))
}

pub(super) async fn put_item(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return ml_error(400, "bad_request", "invalid JSON");
    };
    if b.get("price").is_some()
        && b.get("available_quantity").is_none()
        && b.get("variations").is_none()
    {
        // Since 18 March 2026 (PRICE).
        return ml_error(
            400,
            "bad_request",
            "price updates are not accepted on /items",
        );
    }
    let multi = st.sim.config().warehouse_management;
    let mut s = st.sim.store();
    let Some(i) = s.items.get_mut(&id) else {
        return ml_error(404, "not_found", format!("item {id} not found"));
    };
    if let Some(q) = b.get("available_quantity") {
        if multi {
            return ml_error(
                400,
                "validation_error",
                "available_quantity is not allowed for multi-origin stock",
            );
        }
        let Some(q) = q.as_i64().filter(|q| *q >= 0) else {
            return ml_error(
                400,
                "validation_error",
                "available_quantity must be a non-negative integer",
            );
        };
        i.available_quantity = q;
    }
    if let Some(vs) = b.get("variations").and_then(Value::as_array) {
        for v in vs {
            let (Some(vid), Some(q)) = (v["id"].as_u64(), v["available_quantity"].as_i64()) else {
                return ml_error(
                    400,
                    "validation_error",
                    "variations need id and available_quantity",
                );
            };
            match i.variations.get_mut(&vid) {
                Some(slot) => slot.0 = q,
                None => {
                    return ml_error(
                        400,
                        "validation_error",
                        format!("variation {vid} not found"),
                    )
                }
            }
        }
    }
    ok(&json!({"id": id, "available_quantity": i.available_quantity}))
}

pub(super) async fn user_product_stock(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    let s = st.sim.store();
    let Some(u) = s.user_products.get(&id) else {
        return ml_error(404, "not_found", "user product not found");
    };
    let locations: Vec<Value> = u
        .locations
        .iter()
        .map(|(store, q)| json!({"type": "seller_warehouse", "store_id": store, "network_node_id": null, "quantity": q}))
        .collect();
    let mut r = ok(
        &json!({"locations": locations, "user_id": st.sim.config().seller_id.parse::<u64>().unwrap_or(0), "id": id}),
    );
    r.headers_mut()
        .insert("x-version", HeaderValue::from(u.version));
    r
}

pub(super) async fn put_user_product_stock(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(version) = headers
        .get("x-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return ml_error(400, "bad_request", "Missing X-Version header");
    };
    let Ok(b) = serde_json::from_slice::<Value>(&body) else {
        return ml_error(400, "bad_request", "invalid JSON");
    };
    let mut s = st.sim.store();
    let Some(u) = s.user_products.get_mut(&id) else {
        return ml_error(404, "not_found", "user product not found");
    };
    if version != u.version {
        return ml_error(409, "conflict", "Version mismatch");
    }
    for l in b["locations"].as_array().into_iter().flatten() {
        let Some(store) = l["store_id"].as_str().filter(|s| !s.is_empty()) else {
            return ml_error(400, "bad_request", "store cannot be null or empty");
        };
        let Some(q) = l["quantity"].as_i64() else {
            return ml_error(400, "bad_request", "quantity is required");
        };
        if !u.locations.contains_key(store) {
            return ml_error(400, "bad_request", "store does not belong to seller");
        }
        u.locations.insert(store.to_owned(), q);
    }
    u.version += 1;
    let locations: Vec<Value> = u
        .locations
        .iter()
        .map(|(store, q)| json!({"type": "seller_warehouse", "store_id": store, "quantity": q}))
        .collect();
    ok(
        &json!({"id": id, "user_id": st.sim.config().seller_id.parse::<u64>().unwrap_or(0), "locations": locations}),
    )
}
