//! Price pushes: `PUT /pricing/prices/{itemId}` (platforms.md §2 "Stock & price";
//! `VX:VTEX - Pricing API.json`; fixture `price_put_request.json`), one call per SKU.
//!
//! Body: `basePrice` (the regular price) and `markup: 0` (the API takes exactly two of
//! `basePrice`, `costPrice` and `markup`; VTEX then derives the cost from them), and
//! `listPrice` (the regular price, shown struck through next to a promotion). A
//! promotional price goes out as a fixed price on the channel's trade policy
//! (`sales_channel`, default `1`) with `minQuantity: 1` and its window as `dateRange`.
//!
//! Fixed prices: the PUT replaces every fixed price of the SKU, so **ponte owns them
//! all**: it does not read and merge, and a push erases fixed prices set in VTEX by
//! hand or for other trade policies. (Reading first would cost a second call per SKU
//! and still race with edits made in between.)
//!
//! Assumption (unverified): the Pricing API is on the channel's base URL; VTEX serves
//! it at `https://api.vtex.com/{account}`, so a live channel would need its own base.

use super::client::VtexConnector;
use crate::price::{cents, not_read, not_sent};
use crate::{PlatformError, PlatformErrorKind, PriceCall, PriceItem, PriceRead, ShownPrice};
use chrono::SecondsFormat;
use reqwest::Method;
use serde_json::{json, Value};

/// The batch key: the variant (one PUT per VTEX SKU).
pub(super) fn batch_key(_product_id: &str, variant_id: &str) -> String {
    variant_id.to_owned()
}

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Centavos as the decimal number VTEX takes.
fn amount(cents: i64) -> Value {
    json!(cents as f64 / 100.0)
}

/// The body of one item's PUT.
fn body(item: &PriceItem, trade_policy: &str) -> Value {
    let p = &item.price;
    let mut fixed = Vec::new();
    if let Some(promo) = p.promotional_price {
        let mut f = json!({
            "tradePolicyId": trade_policy,
            "value": amount(promo),
            "listPrice": amount(p.price),
            "minQuantity": 1,
        });
        let mut range = serde_json::Map::new();
        if let Some(from) = p.promotional_from {
            range.insert(
                "from".into(),
                from.to_rfc3339_opts(SecondsFormat::Secs, true).into(),
            );
        }
        if let Some(to) = p.promotional_until {
            range.insert(
                "to".into(),
                to.to_rfc3339_opts(SecondsFormat::Secs, true).into(),
            );
        }
        if !range.is_empty() {
            f["dateRange"] = Value::Object(range);
        }
        fixed.push(f);
    }
    json!({
        "basePrice": amount(p.price),
        "markup": 0,
        "listPrice": amount(p.price),
        "fixedPrices": fixed,
    })
}

/// Pushes each item with its own PUT.
pub(super) async fn push(conn: &VtexConnector, items: &[PriceItem]) -> Vec<PriceCall> {
    let policy = conn
        .settings()
        .sales_channel
        .clone()
        .unwrap_or_else(|| "1".into());
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let path = format!("/pricing/prices/{}", item.variant_id);
        if !plain(&item.variant_id) {
            let why = format!("not a VTEX SKU id: {:?}", item.variant_id);
            out.push(not_sent(item, format!("PUT {path}"), why));
            continue;
        }
        let (info, result) = conn
            .call(Method::PUT, &path, Some(&body(item, &policy)))
            .await;
        out.push(PriceCall {
            items: vec![item.clone()],
            info,
            result: result.map(drop),
        });
    }
    out
}

/// What a price read back shows: `basePrice`, and the value of the fixed price on the
/// channel's trade policy (what ponte pushes a promotion as).
fn shown(v: &Value, trade_policy: &str) -> ShownPrice {
    let promo = v["fixedPrices"].as_array().and_then(|list| {
        list.iter()
            .find(|f| f["tradePolicyId"].as_str() == Some(trade_policy))
            .and_then(|f| cents(&f["value"]))
    });
    ShownPrice {
        price: cents(&v["basePrice"]),
        promotional_price: promo,
    }
}

/// Reads each item's price back: `GET /pricing/prices/{itemId}` (`VX:VTEX - Pricing
/// API.json`; fixture `price_get_response.json`).
pub(super) async fn read(conn: &VtexConnector, items: &[PriceItem]) -> Vec<PriceRead> {
    let policy = conn
        .settings()
        .sales_channel
        .clone()
        .unwrap_or_else(|| "1".into());
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let path = format!("/pricing/prices/{}", item.variant_id);
        if !plain(&item.variant_id) {
            out.push(not_read(
                item,
                format!("GET {path}"),
                "not a VTEX SKU id".into(),
            ));
            continue;
        }
        let (info, result) = conn.call(Method::GET, &path, None).await;
        let result = result.and_then(|body| {
            serde_json::from_slice::<Value>(&body)
                .map(|v| shown(&v, &policy))
                .map_err(|e| PlatformError {
                    kind: PlatformErrorKind::Permanent,
                    status: info.status,
                    message: format!("the price read back is not JSON: {e}"),
                })
        });
        out.push(PriceRead {
            item: item.clone(),
            info,
            result,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use ponte_core::price::PriceValue;

    #[test]
    fn a_promotion_is_a_fixed_price_with_its_window() {
        let from = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let item = PriceItem {
            sku: "S".into(),
            product_id: "1".into(),
            variant_id: "2".into(),
            price: PriceValue {
                price: 1990,
                promotional_price: Some(1790),
                promotional_from: Some(from),
                promotional_until: None,
            },
        };
        let b = body(&item, "1");
        assert_eq!(b["basePrice"], 19.9);
        assert_eq!(b["fixedPrices"][0]["value"], 17.9);
        assert_eq!(b["fixedPrices"][0]["tradePolicyId"], "1");
        assert_eq!(
            b["fixedPrices"][0]["dateRange"]["from"],
            "2026-12-01T00:00:00Z"
        );
        assert!(b["fixedPrices"][0]["dateRange"].get("to").is_none());
        let mut plain_price = item.clone();
        plain_price.price.promotional_price = None;
        plain_price.price.promotional_from = None;
        assert_eq!(body(&plain_price, "1")["fixedPrices"], json!([]));
    }
}
