//! Pricing API: `PUT /pricing/prices/{itemId}` keeps the price as sent (exactly two of
//! `basePrice`, `costPrice`, `markup`; optional `listPrice`; `fixedPrices` with
//! `tradePolicyId`, `value`, `minQuantity`, optional `dateRange`) and replaces every
//! fixed price; `GET` answers it with `itemId` (fixtures `price_put_request.json`,
//! `price_get_response.json`). Assumption: a missing `basePrice` is derived from
//! `costPrice` and `markup` (percent), as the Pricing API describes.
// Checks return early with a ready `Response` as the error (cold path).
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;

use super::http::{error, ok, parse_body};
use super::routes::AppState;

fn number(b: &Value, key: &str) -> Result<Option<f64>, Response> {
    match b.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| *n >= 0.0)
            .map(Some)
            .ok_or_else(|| error(400, format!("{key} must be a number, at least 0"))),
    }
}

fn check_fixed(b: &Value) -> Result<(), Response> {
    let Some(list) = b.get("fixedPrices") else {
        return Ok(());
    };
    let list = list
        .as_array()
        .ok_or_else(|| error(400, "fixedPrices must be a list"))?;
    for f in list {
        if !f.get("tradePolicyId").is_some_and(Value::is_string) {
            return Err(error(400, "fixedPrices[].tradePolicyId is required"));
        }
        number(f, "value")?.ok_or_else(|| error(400, "fixedPrices[].value is required"))?;
        if let Some(r) = f.get("dateRange") {
            let from = r.get("from").and_then(Value::as_str);
            let to = r.get("to").and_then(Value::as_str);
            if let (Some(from), Some(to)) = (from, to) {
                let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
                if parse(from).zip(parse(to)).is_none_or(|(f, t)| t <= f) {
                    return Err(error(
                        400,
                        "fixedPrices[].dateRange must end after it starts",
                    ));
                }
            }
        }
    }
    Ok(())
}

pub async fn put_price(
    State(st): State<AppState>,
    Path(item): Path<String>,
    body: Bytes,
) -> Response {
    let mut b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let base = match number(&b, "basePrice") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cost = match number(&b, "costPrice") {
        Ok(v) => v,
        Err(r) => return r,
    };
    let markup = match b.get("markup") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(m) => Some(m),
            None => return error(400, "markup must be a number"),
        },
    };
    let given = [base.is_some(), cost.is_some(), markup.is_some()]
        .iter()
        .filter(|g| **g)
        .count();
    if given != 2 {
        return error(400, "give exactly two of basePrice, costPrice and markup");
    }
    if let Err(r) = check_fixed(&b) {
        return r;
    }
    let Some(obj) = b.as_object_mut() else {
        return error(400, "the body must be an object");
    };
    if let (None, Some(c), Some(m)) = (base, cost, markup) {
        obj.insert("basePrice".into(), Value::from(c * (1.0 + m / 100.0)));
    }
    obj.insert("itemId".into(), Value::String(item.clone()));
    obj.entry("fixedPrices").or_insert(Value::Array(vec![]));
    st.sim.write().prices.insert(item, b);
    ok(&Value::Null)
}

pub async fn get_price(State(st): State<AppState>, Path(item): Path<String>) -> Response {
    match st.sim.read().prices.get(&item) {
        Some(p) => ok(p),
        None => error(404, format!("Price of item {item} not found")),
    }
}
