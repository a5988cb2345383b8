//! Price pushes: `PATCH /products/{product_id}/variants` with
//! `[{"id": <variant id>, "price": "19.90", "promotional_price": "17.90"}, ...]`
//! (platforms.md §1 "Stock & price"; `TN:resources/product_variant.md`), one call per
//! product, like stock.
//!
//! Decisions:
//! - Nuvemshop keeps no promotional window: the promotional price in force at the
//!   push's time is sent, `null` otherwise (which clears a promotion). The engine
//!   pushes again when a window opens or closes.
//! - Duplicate variants in one push keep the last item's price (newest wins); ids that
//!   are not numeric fail Permanent without a call.
//! - A 200 is taken as applied (the answer, the product's variants, is not compared
//!   with what was sent, unlike stock); a 422 fails the call's items Permanent.

use super::client::{rate_limit_wait, NuvemshopConnector};
use crate::http_call::send;
use crate::price::{cents, decimal, not_read, not_sent};
use crate::{PlatformError, PlatformErrorKind, PriceCall, PriceItem, PriceRead, ShownPrice};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{json, Value};

/// Most variants per call (as for stock: no documented maximum).
pub(super) const BATCH_MAX: usize = 50;

fn numeric(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Pushes the items (one product, at most [`BATCH_MAX`]) in one PATCH.
pub(super) async fn push(
    conn: &NuvemshopConnector,
    items: &[PriceItem],
    now: DateTime<Utc>,
) -> Vec<PriceCall> {
    let mut out = Vec::new();
    let mut by_product: Vec<(u64, Vec<(u64, &PriceItem)>)> = Vec::new();
    for item in items {
        let label = format!("PATCH /products/{}/variants", item.product_id);
        let (Some(pid), Some(vid)) = (numeric(&item.product_id), numeric(&item.variant_id)) else {
            let why = format!(
                "not Nuvemshop product and variant ids: {:?}, {:?}",
                item.product_id, item.variant_id
            );
            out.push(not_sent(item, label, why));
            continue;
        };
        let at = match by_product.iter().position(|(p, _)| *p == pid) {
            Some(at) => at,
            None => {
                by_product.push((pid, Vec::new()));
                by_product.len() - 1
            }
        };
        by_product[at].1.push((vid, item));
    }
    for (pid, lines) in by_product {
        // The last item of a variant wins.
        let mut body: Vec<(u64, Value)> = Vec::new();
        for (vid, item) in &lines {
            let v = json!({
                "id": vid,
                "price": decimal(item.price.price),
                "promotional_price": item.price.promotion_at(now).map(decimal),
            });
            match body.iter_mut().find(|(id, _)| id == vid) {
                Some(slot) => slot.1 = v,
                None => body.push((*vid, v)),
            }
        }
        let n = body.len();
        let body = Value::Array(body.into_iter().map(|(_, v)| v).collect());
        let path = format!("/products/{pid}/variants");
        let req = conn.request(Method::PATCH, &path).json(&body);
        let label = format!("PATCH {path} (prices of {n} variant(s))");
        let (info, result) = send(req, label, rate_limit_wait).await;
        out.push(PriceCall {
            items: lines.into_iter().map(|(_, i)| i.clone()).collect(),
            info,
            result: result.map(drop),
        });
    }
    out
}

/// Reads each item's variant back: `GET /products/{product_id}/variants/{id}`
/// (`TN:resources/product_variant.md`), its `price` and `promotional_price`.
pub(super) async fn read(conn: &NuvemshopConnector, items: &[PriceItem]) -> Vec<PriceRead> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let path = format!("/products/{}/variants/{}", item.product_id, item.variant_id);
        if numeric(&item.product_id).is_none() || numeric(&item.variant_id).is_none() {
            out.push(not_read(
                item,
                format!("GET {path}"),
                "not Nuvemshop ids".into(),
            ));
            continue;
        }
        let req = conn.request(Method::GET, &path);
        let (info, result) = send(req, format!("GET {path}"), rate_limit_wait).await;
        let result = result.and_then(|body| {
            let v: Value = serde_json::from_slice(&body).map_err(|e| PlatformError {
                kind: PlatformErrorKind::Permanent,
                status: info.status,
                message: format!("the variant read back is not JSON: {e}"),
            })?;
            Ok(ShownPrice {
                price: cents(&v["price"]),
                promotional_price: cents(&v["promotional_price"]),
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
