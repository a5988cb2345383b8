//! A channel's DE-PARA tables: a row naming a value the platform does not have, or a
//! ponte status that does not exist, a malformed payment row or customer field rule, is
//! refused with the row named and nothing is saved.

use crate::fixtures::World;
use crate::harness::{covered, Api, Covered};
use ponte_core::ErrorCode as E;
use serde_json::json;

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("put", "/api/v1/channels/{id}/status-map", E::InvalidMapping),
        (
            "put",
            "/api/v1/channels/{id}/payment-map",
            E::InvalidMapping,
        ),
        (
            "put",
            "/api/v1/channels/{id}/customer-fields",
            E::InvalidMapping,
        ),
        ("post", "/api/v1/channels/{id}/remap", E::TaskBusy),
        ("post", "/api/v1/channels/{id}/remap", E::ValidationFailed),
    ])
}

#[tokio::test]
async fn a_status_row_the_platform_or_ponte_does_not_have_is_invalid_mapping() {
    let api = Api::new().await;
    let c = api.channel().await;
    let path = format!("/api/v1/channels/{c}/status-map");
    let good = json!({"status": "open", "payment_status": "paid", "to": "approved"});
    for (rows, row, says) in [
        (
            json!([good, {"status": "lost", "to": "approved"}]),
            "row 2",
            "`lost` is not a platform status",
        ),
        (
            json!([{"payment_status": "paid", "to": "paid"}]),
            "row 1",
            "`paid` is not a ponte status",
        ),
        (
            json!([good, good, {"shipping_status": "teleported", "to": "shipped"}]),
            "row 3",
            "`teleported` is not a platform shipping_status",
        ),
        (
            json!([{"colour": "blue", "to": "approved"}]),
            "row 1",
            "unknown field",
        ),
        (json!([{"status": "open"}]), "row 1", "missing field `to`"),
        (json!({"to": "approved"}), "row 0", "a list of rows"),
    ] {
        let reply = api
            .refuses("PUT", &path, Some(json!({"rows": rows})), E::InvalidMapping)
            .await;
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(row) && detail.contains(says),
            "{rows}: {detail}"
        );
    }
    // Still the connector's defaults.
    assert_eq!(api.get(&path).await["source"], "default");
}

#[tokio::test]
async fn a_remap_while_another_is_queued_is_task_busy() {
    let w = World::new().await;
    let remap = w.path("/api/v1/channels/{id}/remap");
    let since = json!({"since": "2026-01-01T00:00:00Z"});
    // No worker runs here: the first remap stays queued.
    let run = w.api.call("POST", &remap, Some(&since)).await.ok();
    assert_eq!(run["kind"], "remap_orders");
    assert_eq!(run["state"], "queued");
    w.api
        .refuses("POST", &remap, Some(since), E::TaskBusy)
        .await;
}

#[tokio::test]
async fn a_remap_window_that_ends_before_it_starts_is_validation_failed() {
    let w = World::new().await;
    let remap = w.path("/api/v1/channels/{id}/remap");
    let body = json!({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"});
    w.api
        .refuses("POST", &remap, Some(body), E::ValidationFailed)
        .await;
}

#[tokio::test]
async fn a_malformed_payment_row_is_invalid_mapping() {
    let api = Api::new().await;
    let c = api.channel().await;
    let path = format!("/api/v1/channels/{c}/payment-map");
    let good = json!({"method": "pix", "code": "17", "name": "PIX"});
    for (rows, row, says) in [
        (
            json!([good, {"method": "pix", "code": "", "name": "PIX"}]),
            "row 2",
            "code must have",
        ),
        (
            json!([{"method": "credit_card", "code": "03", "name": "Cartão", "min_installments": 6, "max_installments": 2}]),
            "row 1",
            "above max_installments",
        ),
        (
            json!([{"method": "pix", "code": "17"}]),
            "row 1",
            "missing field `name`",
        ),
    ] {
        let reply = api
            .refuses("PUT", &path, Some(json!({"rows": rows})), E::InvalidMapping)
            .await;
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(row) && detail.contains(says),
            "{rows}: {detail}"
        );
    }
    assert_eq!(api.get(&path).await["source"], "default");
}

#[tokio::test]
async fn a_customer_field_rule_with_a_bad_value_or_condition_is_invalid_mapping() {
    let api = Api::new().await;
    let c = api.channel().await;
    let path = format!("/api/v1/channels/{c}/customer-fields");
    let good = json!({"field": "produtor_rural", "value": true});
    for (rules, row, says) in [
        (
            json!([good, {"field": "limite", "value": [1, 2]}]),
            "row 2",
            "text, a number or true/false",
        ),
        (
            json!([{"field": "tipo", "value": "PJ", "when": [{"document": "rg"}]}]),
            "row 1",
            "unknown variant",
        ),
        (
            json!([{"field": "tipo", "value": "PJ", "when": [{"state": "ZZ"}]}]),
            "row 1",
            "not a state",
        ),
        (
            json!([good, good, {"field": "x", "value": 1, "when": [{"run": "code"}]}]),
            "row 3",
            "unknown variant",
        ),
    ] {
        let reply = api
            .refuses(
                "PUT",
                &path,
                Some(json!({"rules": rules})),
                E::InvalidMapping,
            )
            .await;
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(row) && detail.contains(says),
            "{rules}: {detail}"
        );
    }
    assert_eq!(api.get(&path).await["rules"], json!([]));
}
