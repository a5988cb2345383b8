//! Logistics API: inventory by SKU and warehouse.
//!
//! Documented (`VTEX - Logistics API.json`): `PUT .../skus/{skuId}/warehouses/
//! {warehouseId}` with `quantity`, `unlimitedQuantity`,
//! `dateUtcOnBalanceSystem`, `leadTime` answers 200 with `true`; a missing
//! `quantity` sets 0, a missing `leadTime` sets 0, a missing
//! `unlimitedQuantity` sets false; unlimited stock counts as 1000000 units;
//! errors are 400. `PATCH .../quantity` answers 204. `GET .../skus/{skuId}`
//! answers `{skuId, balance[{warehouseId, warehouseName, totalQuantity,
//! reservedQuantity, hasUnlimitedQuantity, timeToRefill, dateOfSupplyUtc,
//! leadTime}]}` (the documented example lists every warehouse, with 0 where
//! the SKU has no stock). Lock contention answers 423 "Unable to acquire lock"
//! (transient; injected with [`super::lock_fault`]).
//!
//! Assumptions: an unknown warehouse answers 400; a negative or non-integer
//! `quantity` answers 400; `leadTime` must look like `dd.hh:mm:ss`,
//! `hh:mm:ss` or a day count (400 otherwise); `reservedQuantity` counts the
//! units of orders not yet in handling.
// Handlers return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::http::{error, ok, parse_body};
use super::routes::AppState;
use super::state::{InvRec, Store};

/// Documented: unlimited stock is reported as this many units.
pub const UNLIMITED_UNITS: i64 = 1_000_000;

fn lead_time_ok(s: &str) -> bool {
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let hms = |x: &str| {
        let p: Vec<&str> = x.split(':').collect();
        p.len() == 3 && p.iter().all(|x| digits(x))
    };
    match s.split_once('.') {
        Some((d, rest)) => digits(d) && hms(rest),
        None => hms(s) || digits(s),
    }
}

/// Units reserved by orders not yet in handling.
pub fn reserved(store: &Store, sku: &str, wh: &str) -> i64 {
    store
        .orders
        .values()
        .filter(|o| o.status.reserves_stock())
        .flat_map(|o| o.items.iter())
        .filter(|i| i.sku_id == sku && i.warehouse_id == wh)
        .map(|i| i64::from(i.quantity))
        .sum()
}

pub fn balance(store: &Store, sku: &str) -> Value {
    let mut whs: Vec<(String, String)> = store.warehouses.clone();
    for (s, w) in store.inventory.keys() {
        if s == sku && !whs.iter().any(|(id, _)| id == w) {
            whs.push((w.clone(), w.clone()));
        }
    }
    let balance: Vec<Value> = whs
        .iter()
        .map(|(wh, name)| {
            let rec = store.inventory.get(&(sku.to_owned(), wh.clone()));
            let unlimited = rec.is_some_and(|r| r.unlimited);
            let total = match rec {
                Some(r) if r.unlimited => UNLIMITED_UNITS,
                Some(r) => r.quantity,
                None => 0,
            };
            json!({
                "warehouseId": wh,
                "warehouseName": name,
                "totalQuantity": total,
                "reservedQuantity": reserved(store, sku, wh),
                "hasUnlimitedQuantity": unlimited,
                "timeToRefill": null,
                "dateOfSupplyUtc": null,
                "leadTime": rec.map_or("00:00:00", |r| r.lead_time.as_str()),
            })
        })
        .collect();
    json!({"skuId": sku, "balance": balance})
}

pub async fn inventory_by_sku(State(st): State<AppState>, Path(sku): Path<String>) -> Response {
    ok(&balance(&st.sim.read(), &sku))
}

fn parse_quantity(b: &Value) -> Result<i64, Response> {
    match b.get("quantity") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(q) if (0..=i64::from(i32::MAX)).contains(&q) => Ok(q),
            _ => Err(error(400, "quantity must be a non-negative 32-bit integer")),
        },
        Some(_) => Err(error(400, "quantity must be an integer")),
    }
}

fn parse_unlimited(b: &Value) -> Result<bool, Response> {
    match b.get("unlimitedQuantity") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(x)) => Ok(*x),
        Some(_) => Err(error(400, "unlimitedQuantity must be a boolean")),
    }
}

fn check_warehouse(store: &Store, wh: &str) -> Result<(), Response> {
    if store.warehouses.iter().any(|(id, _)| id == wh) {
        Ok(())
    } else {
        Err(error(400, format!("Warehouse {wh} not found")))
    }
}

pub async fn put_inventory(
    State(st): State<AppState>,
    Path((sku, wh)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let quantity = match parse_quantity(&b) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let unlimited = match parse_unlimited(&b) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lead_time = match b.get("leadTime") {
        None | Some(Value::Null) => "00:00:00".to_owned(),
        Some(Value::String(s)) if lead_time_ok(s) => s.clone(),
        Some(_) => return error(400, "leadTime must look like dd.hh:mm:ss"),
    };
    let date = b
        .get("dateUtcOnBalanceSystem")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut store = st.sim.write();
    if let Err(r) = check_warehouse(&store, &wh) {
        return r;
    }
    let now = store.clock.tick();
    store.inventory.insert(
        (sku, wh),
        InvRec {
            quantity,
            unlimited,
            lead_time,
            date_utc_on_balance_system: date,
            updated_at: now,
        },
    );
    ok(&Value::Bool(true))
}

/// `PATCH .../quantity`: `quantity`, `unlimitedQuantity` (required),
/// `dateUtcOnBalanceSystem`; keeps the lead time; 204.
pub async fn patch_quantity(
    State(st): State<AppState>,
    Path((sku, wh)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.get("quantity").is_none() || b.get("unlimitedQuantity").is_none() {
        return error(400, "quantity and unlimitedQuantity are required");
    }
    let quantity = match parse_quantity(&b) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let unlimited = match parse_unlimited(&b) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let date = b
        .get("dateUtcOnBalanceSystem")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let mut store = st.sim.write();
    if let Err(r) = check_warehouse(&store, &wh) {
        return r;
    }
    let now = store.clock.tick();
    let rec = store.inventory.entry((sku, wh)).or_insert_with(|| InvRec {
        quantity: 0,
        unlimited: false,
        lead_time: "00:00:00".into(),
        date_utc_on_balance_system: None,
        updated_at: now,
    });
    rec.quantity = quantity;
    rec.unlimited = unlimited;
    rec.date_utc_on_balance_system = date;
    rec.updated_at = now;
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_times() {
        assert!(lead_time_ok("10.10:00:00"));
        assert!(lead_time_ok("00:00:00"));
        assert!(lead_time_ok("3"));
        assert!(!lead_time_ok("3 days"));
        assert!(!lead_time_ok(""));
    }
}
