//! Stock pushes: `PATCH /products/{product_id}/variants` with
//! `[{"id": <variant id>, "stock": n}, ...]` (platforms.md §1 "Stock & price";
//! `TN:resources/product_variant.md`; fixture `variants_patch_request.json`).
//!
//! The endpoint only updates variants that exist and belong to the product; if any
//! item breaks a precondition the whole array is refused with 422, and the body names
//! the failed ids (documented example: `duplicate_variant_ids`). A 200 answers the
//! product's whole, updated variant collection, which is checked against what was sent.
//!
//! Decisions:
//! - Batch key: the product id (one call per product). Items of several products in
//!   one push still make one call per product.
//! - Duplicate variants in one push are merged before sending, keeping the last item's
//!   quantity (newest wins; the platform would refuse the array with 422
//!   `duplicate_variant_ids`). The superseded items ride in the same [`StockCall`].
//! - Ids are numeric in Nuvemshop: a non-numeric product or variant id, or a negative
//!   quantity (the engine clamps to 0, so one here is a bug upstream), is a Permanent
//!   error for that item without any call. Such a [`StockCall`] has `status: None`,
//!   a zero duration and a request label ending in `(not sent)`.
//! - A 422 naming some (not all) of the call's variants: those items fail Permanent
//!   with that call, and the others are sent again once, in a second call (so one
//!   stale variant mapping does not block the product's other variants). Every item
//!   is in exactly one [`StockCall`]: the call that decided it.
//! - A 200 whose collection lacks a pushed variant, or shows another stock for it
//!   (e.g. `null` when the store does not manage that variant's stock), fails the
//!   whole call Permanent, naming the variants.
//!
//! Not covered: multi-location stores (`inventory_levels` per location); the variant
//! `stock` field is written as the single store-wide quantity.

use super::client::{rate_limit_wait, NuvemshopConnector};
use crate::http_call::send;
use crate::{CallInfo, PlatformError, PlatformErrorKind, StockCall, StockItem};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// Most variants per `PATCH /products/{id}/variants`. Assumption: the docs give no
/// maximum for the array (only that a product has at most 1000 variants); 50 keeps
/// bodies and answers (the whole variant collection comes back) small.
pub(super) const BATCH_MAX: usize = 50;

/// The batch key: the product (one PATCH per product).
pub(super) fn batch_key(product_id: &str, _variant_id: &str) -> String {
    product_id.to_owned()
}

/// One variant's new stock, with every item that asked for it (the last one wins).
#[derive(Debug, Clone, PartialEq)]
struct Line {
    variant_id: u64,
    quantity: i64,
    items: Vec<StockItem>,
}

/// What a push does, in order.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// One PATCH for these lines of one product.
    Call { product_id: u64, lines: Vec<Line> },
    /// Refused without a call.
    Reject {
        items: Vec<StockItem>,
        request: String,
        message: String,
    },
}

fn label(product_id: &str, what: &str) -> String {
    format!("PATCH /products/{product_id}/variants ({what})")
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 variant".into()
    } else {
        format!("{n} variants")
    }
}

/// A Nuvemshop id: digits only, as a number.
fn numeric_id(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Groups `items` by product (first appearance first), merges duplicate variants,
/// refuses what cannot be sent and splits each product into calls of at most `max`.
fn plan(items: &[StockItem], max: usize) -> Vec<Step> {
    let max = max.max(1);
    let mut products: Vec<(u64, Vec<Line>)> = Vec::new();
    let mut steps = Vec::new();
    for item in items {
        let Some(pid) = numeric_id(&item.product_id) else {
            steps.push(Step::Reject {
                items: vec![item.clone()],
                request: label(&item.product_id, "not sent"),
                message: format!("not a Nuvemshop product id: {:?}", item.product_id),
            });
            continue;
        };
        let Some(vid) = numeric_id(&item.variant_id) else {
            steps.push(Step::Reject {
                items: vec![item.clone()],
                request: label(&pid.to_string(), "not sent"),
                message: format!("not a Nuvemshop variant id: {:?}", item.variant_id),
            });
            continue;
        };
        let at = match products.iter().position(|(p, _)| *p == pid) {
            Some(at) => at,
            None => {
                products.push((pid, Vec::new()));
                products.len() - 1
            }
        };
        let lines = &mut products[at].1;
        match lines.iter_mut().find(|l| l.variant_id == vid) {
            Some(line) => {
                line.quantity = item.quantity;
                line.items.push(item.clone());
            }
            None => lines.push(Line {
                variant_id: vid,
                quantity: item.quantity,
                items: vec![item.clone()],
            }),
        }
    }
    for (pid, lines) in products {
        let (negative, lines): (Vec<Line>, Vec<Line>) =
            lines.into_iter().partition(|l| l.quantity < 0);
        for line in negative {
            steps.push(Step::Reject {
                request: label(&pid.to_string(), "not sent"),
                message: format!(
                    "negative stock {} for variant {} (never sent)",
                    line.quantity, line.variant_id
                ),
                items: line.items,
            });
        }
        for chunk in lines.chunks(max) {
            steps.push(Step::Call {
                product_id: pid,
                lines: chunk.to_vec(),
            });
        }
    }
    steps
}

fn permanent(status: Option<u16>, message: String) -> PlatformError {
    PlatformError {
        kind: PlatformErrorKind::Permanent,
        status,
        message,
    }
}

fn items_of(lines: &[Line]) -> Vec<StockItem> {
    lines.iter().flat_map(|l| l.items.iter().cloned()).collect()
}

fn ids(list: &[u64]) -> String {
    list.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pushes `items`, at most `max` variants per call.
pub(super) async fn push(
    conn: &NuvemshopConnector,
    items: &[StockItem],
    max: usize,
) -> Vec<StockCall> {
    let mut out = Vec::new();
    for step in plan(items, max) {
        match step {
            Step::Reject {
                items,
                request,
                message,
            } => out.push(StockCall {
                items,
                info: CallInfo {
                    request,
                    status: None,
                    duration: Duration::ZERO,
                    response: None,
                },
                result: Err(permanent(None, message)),
            }),
            Step::Call { product_id, lines } => {
                push_product(conn, product_id, lines, &mut out).await;
            }
        }
    }
    out
}

/// One PATCH; after a 422 naming some of the variants, the others once more.
async fn push_product(
    conn: &NuvemshopConnector,
    product_id: u64,
    lines: Vec<Line>,
    out: &mut Vec<StockCall>,
) {
    let (info, result) = patch(conn, product_id, &lines).await;
    let Err(err) = result else {
        out.push(StockCall {
            items: items_of(&lines),
            info,
            result: Ok(()),
        });
        return;
    };
    if err.status != Some(422) {
        out.push(StockCall {
            items: items_of(&lines),
            info,
            result: Err(err),
        });
        return;
    }
    let named = refused_ids(info.response.as_deref().unwrap_or_default());
    let (refused, rest): (Vec<Line>, Vec<Line>) = lines
        .into_iter()
        .partition(|l| named.contains(&l.variant_id));
    let err = if refused.is_empty() {
        err
    } else {
        let list: Vec<u64> = refused.iter().map(|l| l.variant_id).collect();
        permanent(
            err.status,
            format!(
                "product {product_id} refused variant(s) {} (unknown, of another product, \
                 or repeated): {}",
                ids(&list),
                err.message
            ),
        )
    };
    if refused.is_empty() || rest.is_empty() {
        let mut lines = refused;
        lines.extend(rest);
        out.push(StockCall {
            items: items_of(&lines),
            info,
            result: Err(err),
        });
        return;
    }
    out.push(StockCall {
        items: items_of(&refused),
        info,
        result: Err(err),
    });
    let (info, result) = patch(conn, product_id, &rest).await;
    out.push(StockCall {
        items: items_of(&rest),
        info,
        result,
    });
}

/// The body of one call: `[{"id": 123, "stock": 4}, ...]`.
fn body(lines: &[Line]) -> Value {
    Value::Array(
        lines
            .iter()
            .map(|l| json!({"id": l.variant_id, "stock": l.quantity}))
            .collect(),
    )
}

/// Sends one PATCH and checks the answer.
async fn patch(
    conn: &NuvemshopConnector,
    product_id: u64,
    lines: &[Line],
) -> (CallInfo, Result<(), PlatformError>) {
    let path = format!("/products/{product_id}/variants");
    let req = conn.request(Method::PATCH, &path).json(&body(lines));
    let (info, result) = send(
        req,
        label(&product_id.to_string(), &count(lines.len())),
        rate_limit_wait,
    )
    .await;
    let result =
        result.and_then(|b| verify(&b, product_id, lines).map_err(|m| permanent(info.status, m)));
    (info, result)
}

/// A variant id in an answer (a number; a digit string is accepted too).
fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => numeric_id(s.trim()),
        _ => None,
    }
}

/// Checks a 200 answer (the product's whole variant collection): every pushed
/// variant is there with the stock sent.
fn verify(body: &[u8], product_id: u64, lines: &[Line]) -> Result<(), String> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| format!("unreadable variants answer for product {product_id}: {e}"))?;
    let list = answer
        .as_array()
        .ok_or_else(|| format!("variants answer for product {product_id} is not a list"))?;
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for line in lines {
        let found = list
            .iter()
            .find(|v| v.get("id").and_then(id_of) == Some(line.variant_id));
        match found {
            None => missing.push(line.variant_id),
            Some(v) => {
                let stock = v.get("stock").cloned().unwrap_or(Value::Null);
                if stock.as_i64() != Some(line.quantity) {
                    let hint = if stock.is_null() {
                        " (stock management off?)"
                    } else {
                        ""
                    };
                    wrong.push(format!(
                        "variant {} shows stock {stock}, not {}{hint}",
                        line.variant_id, line.quantity
                    ));
                }
            }
        }
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "variant(s) {} not in product {product_id}",
            ids(&missing)
        ));
    }
    if !wrong.is_empty() {
        problems.push(wrong.join("; "));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The variant ids a 422 names: every `*variant_ids` array of the body (documented:
/// `duplicate_variant_ids`; the simulator also uses `not_found_variant_ids`). The body
/// is the kept excerpt of the answer: a cut-off one names nothing.
fn refused_ids(body: &str) -> Vec<u64> {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    m.iter()
        .filter(|(k, _)| k.ends_with("variant_ids"))
        .filter_map(|(_, v)| v.as_array())
        .flatten()
        .filter_map(id_of)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuvemshop::{NuvemshopCredentials, NuvemshopSettings};

    fn item(p: &str, v: &str, q: i64) -> StockItem {
        StockItem {
            sku: format!("SKU-{v}"),
            product_id: p.into(),
            variant_id: v.into(),
            quantity: q,
        }
    }

    fn calls(steps: &[Step]) -> Vec<(u64, Vec<(u64, i64)>)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Call { product_id, lines } => Some((
                    *product_id,
                    lines.iter().map(|l| (l.variant_id, l.quantity)).collect(),
                )),
                Step::Reject { .. } => None,
            })
            .collect()
    }

    fn rejects(steps: &[Step]) -> Vec<(Vec<String>, String)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Reject { items, message, .. } => Some((
                    items.iter().map(|i| i.variant_id.clone()).collect(),
                    message.clone(),
                )),
                Step::Call { .. } => None,
            })
            .collect()
    }

    #[test]
    fn plan_groups_by_product_merges_duplicates_and_splits() {
        let items = [
            item("10", "1", 5),
            item("20", "7", 1),
            item("10", "2", 6),
            item("10", "1", 9),
            item("10", "3", 0),
        ];
        let steps = plan(&items, 2);
        assert_eq!(
            calls(&steps),
            [
                (10, vec![(1, 9), (2, 6)]),
                (10, vec![(3, 0)]),
                (20, vec![(7, 1)])
            ]
        );
        let Step::Call { lines, .. } = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(lines[0].items.len(), 2, "the superseded item rides along");
        assert_eq!(
            steps
                .iter()
                .map(|s| match s {
                    Step::Call { lines, .. } => lines.iter().map(|l| l.items.len()).sum(),
                    Step::Reject { items, .. } => items.len(),
                })
                .sum::<usize>(),
            items.len(),
            "every item is accounted for once"
        );
        assert_eq!(
            body(lines),
            json!([{"id": 1, "stock": 9}, {"id": 2, "stock": 6}])
        );
        assert!(plan(&[], 50).is_empty());
        assert_eq!(calls(&plan(&items, 0)).len(), 4, "a zero max acts as 1");
    }

    #[test]
    fn plan_refuses_what_cannot_be_sent() {
        let items = [
            item("10", "abc", 1),
            item("x1", "2", 1),
            item("", "2", 1),
            item("10", "3", -1),
            item("10", "4", -2),
            item("10", "4", 2),
            item("10", "5", 3),
            item("10", "5", -3),
        ];
        let steps = plan(&items, 50);
        assert_eq!(calls(&steps), [(10, vec![(4, 2)])]);
        let r = rejects(&steps);
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(r[0].1.contains("variant id") && r[1].1.contains("product id"));
        assert_eq!(r[3].0, ["3"]);
        assert_eq!(
            r[4].0,
            ["5", "5"],
            "a negative newest value fails both items"
        );
        assert!(r[4].1.contains("negative stock -3"));
        let Step::Reject { request, .. } = &steps[3] else {
            panic!("{steps:?}")
        };
        assert_eq!(request, "PATCH /products/10/variants (not sent)");
    }

    #[test]
    fn plan_merges_ids_written_differently() {
        let steps = plan(&[item("10", "007", 1), item("010", "7", 2)], 50);
        assert_eq!(calls(&steps), [(10, vec![(7, 2)])]);
    }

    fn line(v: u64, q: i64) -> Line {
        Line {
            variant_id: v,
            quantity: q,
            items: vec![],
        }
    }

    #[test]
    fn verify_checks_presence_and_stock() {
        let lines = [line(1, 5), line(2, 0)];
        let ok = json!([{"id": 1, "stock": 5}, {"id": "2", "stock": 0}, {"id": 3, "stock": 9}]);
        assert_eq!(verify(ok.to_string().as_bytes(), 10, &lines), Ok(()));
        let missing = json!([{"id": 1, "stock": 5}]);
        let e = verify(missing.to_string().as_bytes(), 10, &lines).unwrap_err();
        assert!(e.contains("variant(s) 2 not in product 10"), "{e}");
        let unmanaged = json!([{"id": 1, "stock": null}, {"id": 2, "stock": 0}]);
        let e = verify(unmanaged.to_string().as_bytes(), 10, &lines).unwrap_err();
        assert!(
            e.contains("variant 1 shows stock null, not 5 (stock management off?)"),
            "{e}"
        );
        let other = json!([{"id": 1, "stock": 4}, {"id": 2, "stock": 0}]);
        let e = verify(other.to_string().as_bytes(), 10, &lines).unwrap_err();
        assert_eq!(e, "variant 1 shows stock 4, not 5");
        for garbage in [&b"{}"[..], b"null", b"\xff", b"[1,2]"] {
            assert!(verify(garbage, 10, &lines).is_err());
        }
    }

    #[test]
    fn refused_ids_reads_every_variant_id_list() {
        let body = r#"{"code":422,"description":"Variants cannot be repeated",
            "duplicate_variant_ids":[33745216,"33745217"],"not_found_variant_ids":[9]}"#;
        assert_eq!(refused_ids(body), [33745216, 33745217, 9]);
        assert!(refused_ids(r#"{"code":422,"duplicate_variant_ids":[1,2"#).is_empty());
        assert!(refused_ids("[]").is_empty());
    }

    /// Splitting against the simulator: its products have at most five variants,
    /// fewer than `BATCH_MAX`, so a small max stands in for a big batch.
    #[tokio::test]
    async fn a_batch_over_the_max_is_several_calls_all_applied() {
        use ponte_sim::nuvemshop::{Method as SimMethod, NuvemshopSim, SimConfig};
        let sim = NuvemshopSim::new(SimConfig {
            bucket_size: 0,
            ..SimConfig::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let server = sim.serve(listener).await;
        let settings = NuvemshopSettings::parse(&json!({
            "store_id": sim.config().store_id.to_string(),
            "api_base_url": server.base_url(),
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let credentials = NuvemshopCredentials::parse(
            &json!({"access_token": sim.config().access_token, "app_secret": "s"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let http =
            crate::Outbound::new(Duration::from_secs(5), true).unwrap_or_else(|e| panic!("{e}"));
        let conn = NuvemshopConnector::new(settings, credentials, http);

        let variants = sim.variants();
        let pid = variants
            .iter()
            .map(|(p, _)| *p)
            .find(|p| variants.iter().filter(|(q, _)| q == p).count() == 5)
            .unwrap_or_else(|| panic!("no product with five variants"));
        let items: Vec<StockItem> = variants
            .iter()
            .filter(|(p, _)| *p == pid)
            .enumerate()
            .map(|(i, (p, v))| item(&p.to_string(), &v.to_string(), 100 + i as i64))
            .collect();
        let out = push(&conn, &items, 2).await;
        assert_eq!(out.len(), 3, "{out:#?}");
        assert!(out.iter().all(|c| c.result.is_ok()), "{out:#?}");
        assert_eq!(
            out.iter().map(|c| c.items.len()).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        assert_eq!(
            out[0].info.request,
            format!("PATCH /products/{pid}/variants (2 variants)")
        );
        assert_eq!(
            out[2].info.request,
            format!("PATCH /products/{pid}/variants (1 variant)")
        );
        assert_eq!(
            sim.request_count(
                &SimMethod::PATCH,
                &format!("/v1/{}/products/", sim.config().store_id)
            ),
            3
        );
        for i in &items {
            let (p, v) = (numeric_id(&i.product_id), numeric_id(&i.variant_id));
            let (Some(p), Some(v)) = (p, v) else {
                panic!("{i:?}")
            };
            assert_eq!(sim.variant_stock(p, v), Some(i.quantity));
        }
        server.shutdown().await;
    }
}
