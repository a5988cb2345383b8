//! Product data pushes (issue 21), one record per product:
//! - product fields on the product, `PUT /products/{id}` with `name` and `description`
//!   as language maps (`{"pt": ...}`), `brand` and `published` (ponte's `active`);
//! - variant fields in one `PATCH /products/{id}/variants` with
//!   `[{"id": <variant id>, "barcode": ..., "weight": "0.250", "width": "10.0",
//!   "height": ..., "depth": ...}]` (weight in kilograms, sizes in centimetres).
//!
//! Source: `TN:resources/product.md` (properties and `PUT /products/{id}`) and
//! `TN:resources/product_variant.md` (variant properties, the PATCH of the collection),
//! TiendaNube/api-docs as read in the code corpus.
//!
//! Decisions:
//! - The product's language is `pt` (Brazilian stores). Assumption: the PUT merges
//!   the language map given into the product's; the docs show only whole objects.
//! - Product fields of several SKUs of one product: the last item's win (ponte keeps a
//!   name per SKU; the platform one per product).
//! - The NCM has no field on the Product or Variant resources: it is not sent.
//! - Only the fields changed since the channel last took the variant are sent (the
//!   product PUT is skipped when no product field changed, the PATCH likewise).
//! - When both calls are needed the PUT goes first; a failed PUT stops there. The
//!   record carries every item and joins the calls (`PUT … + PATCH …`), its status the
//!   last answer's: the items' targets follow the batch as a whole.

use super::client::{rate_limit_wait, NuvemshopConnector};
use crate::catalog::{centimetres, kilograms, not_sent};
use crate::http_call::send;
use crate::{CallInfo, CatalogCall, CatalogItem};
use ponte_core::catalog::CatalogField;
use reqwest::Method;
use serde_json::{json, Map, Value};

/// Most variants per push (as for stock and prices).
pub(super) const BATCH_MAX: usize = 50;

fn numeric(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The product body of the items (the last item's fields win); empty when they carry
/// no product field.
pub(super) fn product_body(items: &[CatalogItem]) -> Map<String, Value> {
    let mut m = Map::new();
    for i in items {
        let f = &i.send;
        if let Some(n) = f.text(CatalogField::Name) {
            m.insert("name".into(), json!({"pt": n}));
        }
        if let Some(d) = f.text(CatalogField::Description) {
            m.insert("description".into(), json!({"pt": d.unwrap_or("")}));
        }
        if let Some(b) = f.text(CatalogField::Brand) {
            m.insert("brand".into(), json!(b));
        }
        if let Some(a) = f.active() {
            m.insert("published".into(), json!(a));
        }
    }
    m
}

/// One variant's body; `None` when the item carries no variant field.
pub(super) fn variant_body(id: u64, item: &CatalogItem) -> Option<Value> {
    let f = &item.send;
    let mut m = Map::new();
    if let Some(e) = f.text(CatalogField::Ean) {
        m.insert("barcode".into(), json!(e));
    }
    if let Some(w) = f.number(CatalogField::Weight) {
        m.insert("weight".into(), json!(w.map(kilograms)));
    }
    if let Some([h, w, l]) = f.dimensions() {
        m.insert("height".into(), json!(h.map(centimetres)));
        m.insert("width".into(), json!(w.map(centimetres)));
        m.insert("depth".into(), json!(l.map(centimetres)));
    }
    if m.is_empty() {
        return None;
    }
    m.insert("id".into(), json!(id));
    Some(Value::Object(m))
}

/// Pushes the items (one product, at most [`BATCH_MAX`]): one record.
pub(super) async fn push(conn: &NuvemshopConnector, items: &[CatalogItem]) -> Vec<CatalogCall> {
    let Some(first) = items.first() else {
        return vec![];
    };
    let label = format!("PUT /products/{}", first.product_id);
    let Some(pid) = numeric(&first.product_id) else {
        let why = format!("not a Nuvemshop product id: {:?}", first.product_id);
        return vec![not_sent(items, label, why)];
    };
    let mut variants: Vec<(u64, Value)> = Vec::new();
    for item in items {
        let Some(vid) = numeric(&item.variant_id) else {
            let why = format!("not a Nuvemshop variant id: {:?}", item.variant_id);
            return vec![not_sent(items, label, why)];
        };
        if let Some(v) = variant_body(vid, item) {
            // The last item of a variant wins.
            match variants.iter_mut().find(|(id, _)| *id == vid) {
                Some(slot) => slot.1 = v,
                None => variants.push((vid, v)),
            }
        }
    }
    let product = product_body(items);
    let mut joined: Option<CallInfo> = None;
    let mut result = Ok(());
    if !product.is_empty() {
        let path = format!("/products/{pid}");
        let req = conn
            .request(Method::PUT, &path)
            .json(&Value::Object(product));
        let (info, r) = send(req, format!("PUT {path}"), rate_limit_wait).await;
        joined = Some(info);
        result = r.map(drop);
    }
    if result.is_ok() && !variants.is_empty() {
        let n = variants.len();
        let path = format!("/products/{pid}/variants");
        let body = Value::Array(variants.into_iter().map(|(_, v)| v).collect());
        let req = conn.request(Method::PATCH, &path).json(&body);
        let label = format!("PATCH {path} (product data of {n} variant(s))");
        let (info, r) = send(req, label, rate_limit_wait).await;
        joined = Some(match joined {
            None => info,
            Some(before) => CallInfo {
                request: format!("{} + {}", before.request, info.request),
                duration: before.duration + info.duration,
                ..info
            },
        });
        result = r.map(drop);
    }
    match joined {
        Some(info) => vec![CatalogCall {
            items: items.to_vec(),
            info,
            result,
        }],
        // Nothing the platform takes (only the NCM): taken as pushed, no call.
        None => vec![CatalogCall {
            items: items.to_vec(),
            info: CallInfo {
                request: format!("{label} (nothing Nuvemshop takes: not sent)"),
                status: None,
                duration: std::time::Duration::ZERO,
                response: None,
            },
            result: Ok(()),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::catalog::ProductData;

    fn item(fields: &[CatalogField]) -> CatalogItem {
        let d = ProductData {
            name: "Camiseta".into(),
            ean: Some("7891234567895".into()),
            weight_g: Some(250),
            height_mm: Some(105),
            active: true,
            ..ProductData::default()
        };
        CatalogItem {
            sku: "S".into(),
            product_id: "1".into(),
            variant_id: "2".into(),
            fields: d.carried(fields),
            send: d.carried(fields),
        }
    }

    #[test]
    fn fields_go_where_nuvemshop_takes_them() {
        let i = item(&[CatalogField::Name, CatalogField::Ean, CatalogField::Ncm]);
        let p = product_body(std::slice::from_ref(&i));
        assert_eq!(Value::Object(p), json!({"name": {"pt": "Camiseta"}}));
        assert_eq!(
            variant_body(2, &i),
            Some(json!({"id": 2, "barcode": "7891234567895"}))
        );
        let i = item(&[
            CatalogField::Weight,
            CatalogField::Dimensions,
            CatalogField::Active,
        ]);
        assert_eq!(
            variant_body(2, &i),
            Some(
                json!({"id": 2, "weight": "0.250", "height": "10.5", "width": null, "depth": null})
            )
        );
        assert_eq!(
            Value::Object(product_body(&[i])),
            json!({"published": true})
        );
        assert_eq!(variant_body(2, &item(&[CatalogField::Name])), None);
    }
}
