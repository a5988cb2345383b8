//! Stock pushes to Americanas (platforms.md §8 "Stock/price"): one call per SKU.
//!
//! - A product sold as itself (`variant_id` = `product_id`, the order item's `id` =
//!   its `product_id`): `PUT /products/{sku} {"product": {"qty": n}}`.
//! - A variation (its own SKU differs from its product's):
//!   `PUT /variations/{sku} {"variation": {"qty": n}}`. **Assumption**: the path is
//!   the one the SkyHub SDK names (unverified) and the body mirrors the product's;
//!   the addendum's rate-limit table lists "Variations" as an endpoint of its own.
//!
//! Prices go the same way, one call per SKU (`price.rs`).

use super::client::{encode, AmericanasConnector};
use crate::{StockCall, StockItem};
use reqwest::Method;
use serde_json::json;

/// Every SKU is its own call (stock and price).
pub(super) fn batch_key(product_id: &str, variant_id: &str) -> String {
    format!("{product_id}/{variant_id}")
}

/// The path and body of one item's push.
pub(super) fn request(item: &StockItem) -> (String, serde_json::Value) {
    let qty = item.quantity.max(0);
    if item.variant_id.is_empty() || item.variant_id == item.product_id {
        (
            format!("/products/{}", encode(&item.product_id)),
            json!({"product": {"qty": qty}}),
        )
    } else {
        (
            format!("/variations/{}", encode(&item.variant_id)),
            json!({"variation": {"qty": qty}}),
        )
    }
}

/// Pushes each item with its own call.
pub(super) async fn push(conn: &AmericanasConnector, items: &[StockItem]) -> Vec<StockCall> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (path, body) = request(item);
        let (info, r) = conn.call(Method::PUT, &path, Some(&body)).await;
        out.push(StockCall {
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

    #[test]
    fn product_or_variation() {
        let item = |p: &str, v: &str, q| StockItem {
            sku: v.into(),
            product_id: p.into(),
            variant_id: v.into(),
            quantity: q,
        };
        assert_eq!(
            request(&item("SKU 1", "SKU 1", 5)),
            ("/products/SKU%201".into(), json!({"product": {"qty": 5}}))
        );
        assert_eq!(
            request(&item("P1", "P1-AZUL", -2)),
            (
                "/variations/P1-AZUL".into(),
                json!({"variation": {"qty": 0}})
            )
        );
    }
}
