//! Stock pushes: `PUT /api/logistics/pvt/inventory/skus/{skuId}/warehouses/{warehouseId}`
//! with `{"quantity": n, "unlimitedQuantity": false}` (platforms.md §2 "Stock & price";
//! `VX:VTEX - Logistics API.json`; fixture `inventory_put_request.json`).
//!
//! Decisions:
//! - One call per item: `skuId` = the item's `variant_id` (the VTEX SKU id),
//!   `warehouseId` = the channel's `warehouse_id` setting. The batch key is the variant
//!   id and `stock_batch_max` is 1.
//! - Without `warehouse_id` every item fails Permanent, naming the setting. Ids that are
//!   not plain (letters, digits, `-`, `_`, `.`) and negative quantities (the engine
//!   clamps to 0, so one here is a bug upstream) fail Permanent too. Such a
//!   [`StockCall`] has no status, a zero duration and a label ending in `(not sent)`.
//! - 423 "Unable to acquire lock" is Transient (platforms.md: "retry"); `http_call`
//!   classifies it with the other 4xx as Permanent, so it is remapped here.
//! - `dateUtcOnBalanceSystem` and `leadTime` are left out (VTEX then uses the request's
//!   time). Caveat: the simulator, after the spec, resets a missing `leadTime` to 0, so a
//!   push would also clear a lead time set in VTEX for that SKU and warehouse
//!   (`PATCH …/quantity` keeps it).
//! - A 200 is taken as applied; its body (`true`) is not checked.

use super::client::VtexConnector;
use crate::{CallInfo, PlatformError, PlatformErrorKind, StockCall, StockItem};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

/// The batch key: the variant (one PUT per VTEX SKU).
pub(super) fn batch_key(_product_id: &str, variant_id: &str) -> String {
    variant_id.to_owned()
}

/// Pushes each item with its own PUT.
pub(super) async fn push(conn: &VtexConnector, items: &[StockItem]) -> Vec<StockCall> {
    let warehouse = conn.settings().warehouse_id.as_deref();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(match warehouse {
            Some(wh) => push_one(conn, wh, item).await,
            None => not_sent(
                item,
                "{warehouseId}",
                "the VTEX channel needs the `warehouse_id` setting (the logistics warehouse \
                 stock is written to)"
                    .into(),
            ),
        });
    }
    out
}

/// One PUT, after checking what goes into the path and body.
async fn push_one(conn: &VtexConnector, warehouse: &str, item: &StockItem) -> StockCall {
    if !plain_id(warehouse) {
        let why = format!("warehouse_id {warehouse:?} is not a VTEX warehouse id");
        return not_sent(item, warehouse, why);
    }
    if !plain_id(&item.variant_id) {
        let why = format!("not a VTEX SKU id: {:?}", item.variant_id);
        return not_sent(item, warehouse, why);
    }
    if item.quantity < 0 {
        let why = format!("negative stock {} (never sent)", item.quantity);
        return not_sent(item, warehouse, why);
    }
    let body = json!({"quantity": item.quantity, "unlimitedQuantity": false});
    let path = path(&item.variant_id, warehouse);
    let (info, result) = conn.call(Method::PUT, &path, Some(&body)).await;
    StockCall {
        items: vec![item.clone()],
        info,
        result: result.map(drop).map_err(lock_is_transient),
    }
}

/// 423 "Unable to acquire lock": another write holds the SKU; retrying helps.
fn lock_is_transient(e: PlatformError) -> PlatformError {
    if e.status != Some(423) {
        return e;
    }
    PlatformError {
        kind: PlatformErrorKind::Transient,
        message: format!("inventory locked, retry later: {}", e.message),
        ..e
    }
}

fn path(sku: &str, warehouse: &str) -> String {
    format!("/api/logistics/pvt/inventory/skus/{sku}/warehouses/{warehouse}")
}

/// VTEX SKU and warehouse ids are plain tokens (`123`, `1_1`, `cd-sp`): safe in a path.
fn plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s != "."
        && s != ".."
}

/// A Permanent failure without a call.
fn not_sent(item: &StockItem, warehouse: &str, message: String) -> StockCall {
    StockCall {
        items: vec![item.clone()],
        info: CallInfo {
            request: format!("PUT {} (not sent)", path(&item.variant_id, warehouse)),
            status: None,
            duration: Duration::ZERO,
            response: None,
        },
        result: Err(PlatformError {
            kind: PlatformErrorKind::Permanent,
            status: None,
            message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_lock_mapping() {
        for ok in ["1", "1_1", "cd-sp", "SKU.9"] {
            assert!(plain_id(ok), "{ok}");
        }
        for bad in ["", "a/b", "..", "a b", "é", &"9".repeat(65)] {
            assert!(!plain_id(bad), "{bad}");
        }
        assert_eq!(batch_key("10", "7"), "7");
        let locked = PlatformError {
            kind: PlatformErrorKind::Permanent,
            status: Some(423),
            message: "HTTP 423: Unable to acquire lock".into(),
        };
        let e = lock_is_transient(locked);
        assert_eq!(e.kind, PlatformErrorKind::Transient);
        assert_eq!(e.status, Some(423));
        let other = PlatformError {
            status: Some(400),
            ..e.clone()
        };
        assert_eq!(lock_is_transient(other.clone()), other);
    }
}
