//! Stock pushes to Mercado Livre (addendum "Stock"; platforms.md §3 "Stock & price").
//!
//! - Plain accounts: `PUT /items/{item_id}` with `{"available_quantity": n}` for an
//!   item without variations (its listing's variant id is the item id, see map.rs), or
//!   `{"variations": [{"id", "available_quantity"}]}` for variations: one call per item,
//!   all its variations together.
//! - Multi-origin accounts (`warehouse_management`): `available_quantity` is refused,
//!   so each listing goes to its user product: `GET /items/{id}` gives
//!   `user_product_id` (of the variation when there is one), `GET
//!   /user-products/{id}/stock` gives the `x-version` header, and `PUT
//!   /user-products/{id}/stock/type/seller_warehouse` `{"locations":[{"store_id",
//!   "quantity"}]}` sends it back. A 409 (`Version mismatch`, another writer came
//!   first) reads again and retries, up to [`VERSION_TRIES`] times.
//!
//! A 429 comes back as [`PlatformErrorKind::RateLimited`]; the flusher waits (the
//! wait has jitter, see `client::rate_limit_wait`).

use super::client::{encode, Body, MlConnector};
use super::settings::MlSettings;
use crate::{CallInfo, PlatformError, PlatformErrorKind, StockCall, StockItem};
use reqwest::Method;
use serde_json::{json, Value};

/// Variations one item call carries at most (assumption: no limit is documented).
const MAX_VARIATIONS: usize = 100;

/// Reads and writes of a user product's stock before a version conflict is final.
pub(super) const VERSION_TRIES: usize = 3;

/// The batch key: the item (plain), or the listing itself (multi-origin).
pub(super) fn batch_key(s: &MlSettings, product_id: &str, variant_id: &str) -> String {
    if s.warehouse_management {
        format!("{product_id}/{variant_id}")
    } else {
        product_id.to_owned()
    }
}

/// Items per call.
pub(super) fn batch_max(s: &MlSettings) -> usize {
    if s.warehouse_management {
        1
    } else {
        MAX_VARIATIONS
    }
}

/// Pushes one batch.
pub(super) async fn push(conn: &MlConnector, items: &[StockItem]) -> Vec<StockCall> {
    let Some(first) = items.first() else {
        return vec![];
    };
    if conn.settings().warehouse_management {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let (info, result) = push_user_product(conn, item).await;
            out.push(StockCall {
                items: vec![item.clone()],
                info,
                result,
            });
        }
        return out;
    }
    let product = &first.product_id;
    let plain: Vec<&StockItem> = items.iter().filter(|i| i.variant_id == *product).collect();
    let variations: Vec<&StockItem> = items.iter().filter(|i| i.variant_id != *product).collect();
    let mut out = vec![];
    let path = format!("/items/{}", encode(product));
    if let Some(last) = plain.last() {
        let body = json!({ "available_quantity": last.quantity.max(0) });
        let (info, r) = conn.call(Method::PUT, &path, &[], Body::Json(&body)).await;
        out.push(StockCall {
            items: plain.into_iter().cloned().collect(),
            info,
            result: r.map(|_| ()),
        });
    }
    if !variations.is_empty() {
        let list: Vec<Value> = variations
            .iter()
            .map(|i| json!({ "id": variation_id(&i.variant_id), "available_quantity": i.quantity.max(0) }))
            .collect();
        let body = json!({ "variations": list });
        let (info, r) = conn.call(Method::PUT, &path, &[], Body::Json(&body)).await;
        out.push(StockCall {
            items: variations.into_iter().cloned().collect(),
            info,
            result: r.map(|_| ()),
        });
    }
    out
}

/// Variation ids are numbers in ML's payloads; sent as numbers when they are.
fn variation_id(v: &str) -> Value {
    v.parse::<u64>()
        .map_or_else(|_| Value::from(v), Value::from)
}

async fn push_user_product(
    conn: &MlConnector,
    item: &StockItem,
) -> (CallInfo, Result<(), PlatformError>) {
    let (info, body) = conn
        .get_json(&format!("/items/{}", encode(&item.product_id)), &[])
        .await;
    let item_body = match body {
        Ok(b) => b,
        Err(e) => return (info, Err(e)),
    };
    let up = user_product_id(&item_body, &item.product_id, &item.variant_id);
    let Some(up) = up else {
        return (
            info,
            Err(PlatformError::permanent(format!(
                "item {} has no user_product_id for this listing",
                item.product_id
            ))),
        );
    };
    let store = conn.settings().stock_store_id.clone().unwrap_or_default();
    let body = json!({ "locations": [{ "store_id": store, "quantity": item.quantity.max(0) }] });
    let stock_path = format!("/user-products/{}/stock", encode(&up));
    let mut last = (info, Ok(()));
    for _ in 0..VERSION_TRIES {
        let (info, r) = conn.call(Method::GET, &stock_path, &[], Body::None).await;
        let version = match r {
            Ok((h, _)) => h
                .get("x-version")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .unwrap_or_default(),
            Err(e) => return (info, Err(e)),
        };
        let put = format!("{stock_path}/type/seller_warehouse");
        let (info, r) = conn
            .call(
                Method::PUT,
                &put,
                &[("x-version", version)],
                Body::Json(&body),
            )
            .await;
        match r {
            Ok(_) => return (info, Ok(())),
            Err(e) if e.status == Some(409) => {
                last = (
                    info,
                    Err(PlatformError {
                        kind: PlatformErrorKind::Transient,
                        ..e
                    }),
                );
            }
            Err(e) => return (info, Err(e)),
        }
    }
    last
}

/// The user product of a listing: the variation's, else the item's.
pub(super) fn user_product_id(item: &Value, product_id: &str, variant_id: &str) -> Option<String> {
    let text = super::map::text;
    if variant_id != product_id {
        if let Some(v) = item["variations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| text(&v["id"]).as_deref() == Some(variant_id))
        {
            if let Some(up) = text(&v["user_product_id"]) {
                return Some(up);
            }
        }
    }
    text(&item["user_product_id"])
}
