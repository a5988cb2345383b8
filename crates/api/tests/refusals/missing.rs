//! Missing records: the same missing channel, order, status send, task, run or product
//! answers the same code on every route that names it, whether the id is well formed
//! and unknown or not an id at all.

use crate::fixtures::{invoice, World, APP_SECRET};
use crate::harness::{covered, unknown_id, Covered};
use ponte_core::ErrorCode as E;
use serde_json::{json, Value};

pub fn covers() -> Vec<Covered> {
    let mut out = vec![];
    for (m, p, _) in channel_routes() {
        out.push((m.to_lowercase(), p.to_owned(), E::ChannelNotFound));
    }
    out.push((
        "post".into(),
        "/webhooks/{channel_id}".into(),
        E::ChannelNotFound,
    ));
    out.push((
        "post".into(),
        "/api/v1/status-sends/resend".into(),
        E::ChannelNotFound,
    ));
    for (m, p, _) in order_routes() {
        out.push((m.to_lowercase(), p.to_owned(), E::OrderNotFound));
    }
    for (m, p, _) in task_routes() {
        out.push((m.to_lowercase(), p.to_owned(), E::TaskNotFound));
    }
    for (m, p, _) in product_routes() {
        out.push((m.to_lowercase(), p.to_owned(), E::ProductNotFound));
    }
    out.extend(covered(&[
        ("get", "/api/v1/status-sends/{id}", E::StatusSendNotFound),
        ("get", "/api/v1/task-runs/{id}", E::TaskRunNotFound),
    ]));
    out
}

/// Routes naming a channel, with a body they would accept.
fn channel_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/api/v1/channels/{id}", None),
        (
            "PATCH",
            "/api/v1/channels/{id}",
            Some(json!({"name": "Outra"})),
        ),
        ("DELETE", "/api/v1/channels/{id}", None),
        ("GET", "/api/v1/channels/{id}/listings", None),
        (
            "POST",
            "/api/v1/channels/{id}/listings",
            Some(json!({"sku": "SKU-1", "product_id": "10", "variant_id": "11"})),
        ),
        ("GET", "/api/v1/channels/{id}/stock", None),
        ("POST", "/api/v1/channels/{id}/stock/resync", None),
        ("GET", "/api/v1/channels/{id}/prices", None),
        ("POST", "/api/v1/channels/{id}/prices/resync", None),
        ("POST", "/api/v1/channels/{id}/subscription/check", None),
        ("GET", "/api/v1/channels/{id}/status-map", None),
        (
            "PUT",
            "/api/v1/channels/{id}/status-map",
            Some(json!({"rows": []})),
        ),
        ("GET", "/api/v1/channels/{id}/unmapped-statuses", None),
        ("GET", "/api/v1/channels/{id}/payment-map", None),
        (
            "PUT",
            "/api/v1/channels/{id}/payment-map",
            Some(json!({"rows": []})),
        ),
        ("GET", "/api/v1/channels/{id}/unmapped-payments", None),
        ("GET", "/api/v1/channels/{id}/customer-fields", None),
        (
            "PUT",
            "/api/v1/channels/{id}/customer-fields",
            Some(json!({"rules": []})),
        ),
        (
            "POST",
            "/api/v1/channels/{id}/remap",
            Some(json!({"since": "2026-01-01T00:00:00Z"})),
        ),
        (
            "POST",
            "/api/v1/channels/{id}/sync",
            Some(json!({"kind": "orders"})),
        ),
    ]
}

/// Routes naming an order, with a body they would accept.
fn order_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    let at = "2026-01-02T03:04:05Z";
    vec![
        ("GET", "/api/v1/orders/{id}", None),
        ("POST", "/api/v1/orders/{id}/separation", Some(json!({}))),
        ("POST", "/api/v1/orders/{id}/invoice", Some(invoice())),
        (
            "POST",
            "/api/v1/orders/{id}/collection-order",
            Some(json!({"code": "C1", "created_at": at})),
        ),
        (
            "POST",
            "/api/v1/orders/{id}/shipment",
            Some(json!({"shipped_at": at})),
        ),
        (
            "POST",
            "/api/v1/orders/{id}/shipment-exception",
            Some(json!({"observation": "Avaria", "occurred_at": at})),
        ),
        (
            "POST",
            "/api/v1/orders/{id}/delivery",
            Some(json!({"delivered_at": at})),
        ),
        (
            "POST",
            "/api/v1/orders/{id}/cancel",
            Some(json!({"reason": "customer"})),
        ),
    ]
}

/// Routes naming a scheduled task, with a body they would accept.
fn task_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/api/v1/scheduled-tasks/{id}", None),
        (
            "PATCH",
            "/api/v1/scheduled-tasks/{id}",
            Some(json!({"enabled": false})),
        ),
        ("POST", "/api/v1/scheduled-tasks/{id}/run", None),
        ("GET", "/api/v1/scheduled-tasks/{id}/runs", None),
    ]
}

/// Routes naming a product, with a body they would accept.
fn product_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/api/v1/products/{sku}", None),
        (
            "PATCH",
            "/api/v1/products/{sku}",
            Some(json!({"name": "Outro"})),
        ),
        ("GET", "/api/v1/stock/{sku}", None),
        ("GET", "/api/v1/prices/{sku}", None),
        ("GET", "/api/v1/product-data/{sku}", None),
    ]
}

/// Each route, with each missing id in place of `{id}` (or `{sku}`), answers `code`.
async fn refused_everywhere(
    w: &World,
    routes: Vec<(&str, &str, Option<Value>)>,
    ids: &[String],
    code: E,
) {
    for (method, template, body) in routes {
        for id in ids {
            let path = template.replace("{id}", id).replace("{sku}", id);
            w.api.refuses(method, &path, body.clone(), code).await;
        }
    }
}

fn missing_ids() -> Vec<String> {
    vec![unknown_id(), "not-an-id".into()]
}

#[tokio::test]
async fn a_missing_channel_is_channel_not_found_on_every_route() {
    let w = World::new().await;
    refused_everywhere(&w, channel_routes(), &missing_ids(), E::ChannelNotFound).await;
    let body = br#"{"store_id": 1001, "event": "order/paid", "id": 1}"#;
    for id in missing_ids() {
        let reply = w.api.webhook(&id, body, Some(APP_SECRET));
        w.api.expect(reply, E::ChannelNotFound).await;
    }
    let resend = json!({"channel_id": unknown_id(), "all_failed": true});
    w.api
        .refuses(
            "POST",
            "/api/v1/status-sends/resend",
            Some(resend),
            E::ChannelNotFound,
        )
        .await;
}

#[tokio::test]
async fn a_missing_order_is_order_not_found_on_every_route() {
    let w = World::new().await;
    refused_everywhere(&w, order_routes(), &missing_ids(), E::OrderNotFound).await;
}

#[tokio::test]
async fn a_missing_status_send_is_status_send_not_found() {
    let w = World::new().await;
    refused_everywhere(
        &w,
        vec![("GET", "/api/v1/status-sends/{id}", None)],
        &missing_ids(),
        E::StatusSendNotFound,
    )
    .await;
}

#[tokio::test]
async fn a_missing_task_is_task_not_found_on_every_route() {
    let w = World::new().await;
    refused_everywhere(&w, task_routes(), &missing_ids(), E::TaskNotFound).await;
}

#[tokio::test]
async fn a_missing_task_run_is_task_run_not_found() {
    let w = World::new().await;
    refused_everywhere(
        &w,
        vec![("GET", "/api/v1/task-runs/{id}", None)],
        &missing_ids(),
        E::TaskRunNotFound,
    )
    .await;
}

#[tokio::test]
async fn a_missing_product_is_product_not_found_on_every_route() {
    let w = World::new().await;
    let ids = ["NO-SUCH-SKU".to_owned(), "sku%20with%20spaces".to_owned()];
    refused_everywhere(&w, product_routes(), &ids, E::ProductNotFound).await;
}
