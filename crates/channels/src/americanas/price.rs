//! Price pushes to Americanas (platforms.md §8 "Stock/price": `PUT /products/{sku}
//! {"product": {"price": x, "promotional_price": y}}`, from the SkyHub SDK's
//! `Price/Update.php`): one call per SKU, like stock.
//!
//! - A variation (its own SKU differs from its product's) goes to
//!   `PUT /variations/{sku} {"variation": {...}}`: the same assumption as stock (path
//!   unverified, body mirroring the product's).
//! - Americanas has no promotional window: `promotional_price` is the promotion in
//!   force at push time, else the regular price (the "por" price shown equals the "de";
//!   sending nothing would leave an ended promotion on the listing). **Assumption**:
//!   amounts go as JSON numbers in reais, as the SDK's floats.

use super::client::{encode, AmericanasConnector};
use crate::{PriceCall, PriceItem};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{json, Value};

/// Centavos as the reais number Americanas takes (`19990` → `199.9`).
fn reais(cents: i64) -> Value {
    json!(cents as f64 / 100.0)
}

/// The path and body of one item's push at `now`.
pub(super) fn request(item: &PriceItem, now: DateTime<Utc>) -> (String, Value) {
    let p = &item.price;
    let promotional = p.promotion_at(now).unwrap_or(p.price);
    let fields = json!({"price": reais(p.price), "promotional_price": reais(promotional)});
    if item.variant_id.is_empty() || item.variant_id == item.product_id {
        (
            format!("/products/{}", encode(&item.product_id)),
            json!({ "product": fields }),
        )
    } else {
        (
            format!("/variations/{}", encode(&item.variant_id)),
            json!({ "variation": fields }),
        )
    }
}

/// Pushes each item with its own call.
pub(super) async fn push(
    conn: &AmericanasConnector,
    items: &[PriceItem],
    now: DateTime<Utc>,
) -> Vec<PriceCall> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (path, body) = request(item, now);
        let (info, r) = conn.call(Method::PUT, &path, Some(&body)).await;
        out.push(PriceCall {
            items: vec![item.clone()],
            info,
            result: r.map(|_| ()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::price::PriceValue;

    #[test]
    fn product_or_variation_with_the_promotion_in_force() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let item = |p: &str, v: &str| PriceItem {
            sku: v.into(),
            product_id: p.into(),
            variant_id: v.into(),
            price: PriceValue {
                price: 19_990,
                promotional_price: Some(17_990),
                promotional_from: Some(at("2026-12-01T00:00:00Z")),
                promotional_until: Some(at("2026-12-10T00:00:00Z")),
            },
        };
        assert_eq!(
            request(&item("SKU 1", "SKU 1"), at("2026-12-05T00:00:00Z")),
            (
                "/products/SKU%201".into(),
                json!({"product": {"price": 199.9, "promotional_price": 179.9}})
            )
        );
        assert_eq!(
            request(&item("P1", "P1-AZUL"), at("2026-12-11T00:00:00Z")),
            (
                "/variations/P1-AZUL".into(),
                json!({"variation": {"price": 199.9, "promotional_price": 199.9}})
            )
        );
    }
}
