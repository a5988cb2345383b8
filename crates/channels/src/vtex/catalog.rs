//! Product data pushes (issue 21): the Catalog API's SKU,
//! `GET /api/catalog/pvt/stockkeepingunit/{skuId}` then `PUT` of the same path with the
//! object read and ponte's fields merged in. VTEX's SKU PUT REPLACES the whole object
//! (every field not sent is lost), so ponte never sends a partial SKU: it reads it first
//! and puts it back with only its fields changed (two calls, recorded as one; a change
//! made in VTEX between the two is overwritten). Source: `VX:VTEX - Catalog API.json`
//! ("Get SKU", "Update SKU"; SKU fields `Name`, `IsActive`, `Height`, `Width`,
//! `Length`, `WeightKg`, `Packaged*`), as read in the code corpus.
//!
//! Fields: `name` → `Name` (the SKU's name), `active` → `IsActive`, `weight` →
//! `WeightKg` and `PackagedWeightKg`, `dimensions` → `Height`/`Width`/`Length` and
//! their `Packaged*` twins. A weight or size ponte does not know (null) keeps the SKU's
//! (the `Packaged*` ones are required by the PUT). Assumption (unverified): the store keeps the default units,
//! grams for the weights despite the `Kg` in their names and centimetres for sizes.
//! Not sent: the EAN (a separate resource, `…/stockkeepingunit/{skuId}/ean/{ean}`),
//! the description and brand (the product's, `/api/catalog/pvt/product/{id}`), the NCM
//! (no catalogue field); a push carrying only those makes no call.

use super::client::VtexConnector;
use crate::catalog::not_sent;
use crate::{CallInfo, CatalogCall, CatalogItem, PlatformError, PlatformErrorKind};
use ponte_core::catalog::{CatalogField, CatalogValue};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// The batch key: the variant (one SKU per push).
pub(super) fn batch_key(_product_id: &str, variant_id: &str) -> String {
    variant_id.to_owned()
}

fn plain(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The SKU fields the changed fields set (empty: nothing VTEX's SKU takes).
pub(super) fn changes(send: &CatalogValue) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(Some(n)) = send.text(CatalogField::Name) {
        m.insert("Name".into(), json!(n));
    }
    if let Some(a) = send.active() {
        m.insert("IsActive".into(), json!(a));
    }
    if let Some(Some(g)) = send.number(CatalogField::Weight) {
        m.insert("WeightKg".into(), json!(g as f64));
        m.insert("PackagedWeightKg".into(), json!(g as f64));
    }
    if let Some(sizes) = send.dimensions() {
        for (k, v) in ["Height", "Width", "Length"].into_iter().zip(sizes) {
            if let Some(mm) = v {
                m.insert(k.into(), json!(mm as f64 / 10.0));
                m.insert(format!("Packaged{k}"), json!(mm as f64 / 10.0));
            }
        }
    }
    m
}

fn joined(read: CallInfo, put: CallInfo) -> CallInfo {
    CallInfo {
        request: format!("{} + {}", read.request, put.request),
        duration: read.duration + put.duration,
        ..put
    }
}

/// Pushes each item: read its SKU, put it back merged.
pub(super) async fn push(conn: &VtexConnector, items: &[CatalogItem]) -> Vec<CatalogCall> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let path = format!("/api/catalog/pvt/stockkeepingunit/{}", item.variant_id);
        if !plain(&item.variant_id) {
            let why = format!("not a VTEX SKU id: {:?}", item.variant_id);
            out.push(not_sent(
                std::slice::from_ref(item),
                format!("PUT {path}"),
                why,
            ));
            continue;
        }
        let set = changes(&item.send);
        if set.is_empty() {
            out.push(CatalogCall {
                items: vec![item.clone()],
                info: CallInfo {
                    request: format!("PUT {path} (nothing the VTEX SKU takes: not sent)"),
                    status: None,
                    duration: std::time::Duration::ZERO,
                    response: None,
                },
                result: Ok(()),
            });
            continue;
        }
        let (read, body) = conn.call(Method::GET, &path, None).await;
        let sku = match body.map(|b| serde_json::from_slice::<Value>(&b)) {
            Ok(Ok(Value::Object(sku))) => sku,
            Ok(_) => {
                let message = "the SKU read back is not a JSON object".to_owned();
                out.push(CatalogCall {
                    items: vec![item.clone()],
                    info: read,
                    result: Err(PlatformError {
                        kind: PlatformErrorKind::Permanent,
                        status: None,
                        message,
                    }),
                });
                continue;
            }
            Err(e) => {
                out.push(CatalogCall {
                    items: vec![item.clone()],
                    info: read,
                    result: Err(e),
                });
                continue;
            }
        };
        let mut merged = sku;
        merged.extend(set);
        let (put, result) = conn
            .call(Method::PUT, &path, Some(&Value::Object(merged)))
            .await;
        out.push(CatalogCall {
            items: vec![item.clone()],
            info: joined(read, put),
            result: result.map(drop),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::catalog::ProductData;

    #[test]
    fn fields_map_to_the_sku_object() {
        let d = ProductData {
            name: "Camiseta P".into(),
            weight_g: Some(250),
            height_mm: Some(105),
            active: false,
            ..ProductData::default()
        };
        let all = [
            CatalogField::Name,
            CatalogField::Weight,
            CatalogField::Dimensions,
            CatalogField::Active,
            CatalogField::Ean,
        ];
        let m = Value::Object(changes(&d.carried(&all)));
        assert_eq!(m["Name"], "Camiseta P");
        assert_eq!(m["IsActive"], false);
        assert_eq!(m["WeightKg"], 250.0);
        assert_eq!(m["PackagedHeight"], 10.5);
        assert!(m.get("Width").is_none(), "unknown sizes keep VTEX's");
        assert!(m.get("EAN").is_none());
        assert!(changes(&d.carried(&[CatalogField::Ean, CatalogField::Brand])).is_empty());
    }
}
