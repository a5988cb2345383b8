//! Request bodies: every route that takes a JSON body answers the same four codes for
//! the same four faults (not JSON, not the object the route takes, not sent as JSON,
//! too large), naming existing records so that only the body is wrong.

use crate::fixtures::World;
use crate::harness::Covered;
use ponte_core::ErrorCode as E;

/// Every route that reads a JSON body.
const BODY_ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/carrier-accounts"),
    ("post", "/api/v1/channels"),
    ("patch", "/api/v1/channels/{id}"),
    ("post", "/api/v1/channels/{id}/listings"),
    ("post", "/api/v1/channels/{id}/sync"),
    ("put", "/api/v1/channels/{id}/status-map"),
    ("put", "/api/v1/channels/{id}/payment-map"),
    ("put", "/api/v1/channels/{id}/customer-fields"),
    ("post", "/api/v1/channels/{id}/remap"),
    ("post", "/api/v1/orders/{id}/cancel"),
    ("post", "/api/v1/orders/{id}/collection-order"),
    ("post", "/api/v1/orders/{id}/delivery"),
    ("post", "/api/v1/orders/{id}/invoice"),
    ("post", "/api/v1/orders/{id}/separation"),
    ("post", "/api/v1/orders/{id}/shipment"),
    ("post", "/api/v1/orders/{id}/shipment-exception"),
    ("post", "/api/v1/product-data"),
    ("post", "/api/v1/products"),
    ("patch", "/api/v1/products/{sku}"),
    ("post", "/api/v1/prices"),
    ("patch", "/api/v1/scheduled-tasks/{id}"),
    ("patch", "/api/v1/settings"),
    ("post", "/api/v1/status-sends/resend"),
    ("post", "/api/v1/stock/movements"),
    ("post", "/api/v1/tickets"),
    ("post", "/api/v1/tickets/{id}/messages"),
    ("post", "/api/v1/tokens"),
    ("post", "/api/v1/users"),
    ("patch", "/api/v1/users/{id}"),
    ("post", "/api/v1/warehouses"),
    ("post", "/api/v1/webhook-endpoints"),
    ("patch", "/api/v1/webhook-endpoints/{id}"),
    ("post", "/api/v1/webhook-endpoints/{id}/recover"),
];

/// The largest body of a route (`POST /api/v1/stock/movements`, `POST /api/v1/prices`
/// and `POST /api/v1/product-data` take bulk loads).
fn limit(path: &str) -> usize {
    if [
        "/api/v1/stock/movements",
        "/api/v1/prices",
        "/api/v1/product-data",
    ]
    .contains(&path)
    {
        32 * 1024 * 1024
    } else {
        2 * 1024 * 1024
    }
}

pub fn covers() -> Vec<Covered> {
    let mut out = vec![];
    for (m, p) in BODY_ROUTES {
        for code in [
            E::MalformedJson,
            E::InvalidBody,
            E::UnsupportedMediaType,
            E::PayloadTooLarge,
        ] {
            out.push(((*m).to_owned(), (*p).to_owned(), code));
        }
    }
    out
}

/// Sends `body` as `content_type` to every body route; each must answer `code`.
async fn every_route_refuses(content_type: &str, body: impl Fn(&str) -> Vec<u8>, code: E) {
    let w = World::new().await;
    for (method, template) in BODY_ROUTES {
        let path = w.path(template);
        let m = method.to_uppercase();
        let reply = w
            .api
            .expect(w.api.raw(&m, &path, content_type, body(template)), code)
            .await;
        assert!(
            reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{method} {template}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed_json_everywhere() {
    every_route_refuses("application/json", |_| b"{oops}".to_vec(), E::MalformedJson).await;
}

#[tokio::test]
async fn a_body_cut_short_after_a_field_the_route_does_not_know_is_malformed_json() {
    every_route_refuses(
        "application/json",
        |_| b"{\"name\": ".to_vec(),
        E::MalformedJson,
    )
    .await;
}

#[tokio::test]
async fn an_empty_body_is_malformed_json_everywhere() {
    every_route_refuses("application/json", |_| vec![], E::MalformedJson).await;
}

#[tokio::test]
async fn an_unknown_field_is_an_invalid_body_everywhere() {
    every_route_refuses(
        "application/json",
        |_| br#"{"no_such_field": 1}"#.to_vec(),
        E::InvalidBody,
    )
    .await;
}

// Every body is an object: a list or a number is the wrong type for all of them.
#[tokio::test]
async fn a_list_for_the_body_is_an_invalid_body_everywhere() {
    every_route_refuses("application/json", |_| b"[1, 2]".to_vec(), E::InvalidBody).await;
}

#[tokio::test]
async fn a_number_for_the_body_is_an_invalid_body_everywhere() {
    every_route_refuses("application/json", |_| b"42".to_vec(), E::InvalidBody).await;
}

#[tokio::test]
async fn a_number_where_a_name_is_expected_is_an_invalid_body() {
    let w = World::new().await;
    for (template, body) in [
        (
            "/api/v1/orders/{id}/cancel",
            serde_json::json!({"reason": 1}),
        ),
        (
            "/api/v1/orders/{id}/separation",
            serde_json::json!({"kind": 2}),
        ),
    ] {
        let path = w.path(template);
        w.api
            .refuses("POST", &path, Some(body), E::InvalidBody)
            .await;
    }
}

#[tokio::test]
async fn json_sent_as_text_is_an_unsupported_media_type_everywhere() {
    every_route_refuses("text/plain", |_| b"{}".to_vec(), E::UnsupportedMediaType).await;
}

#[tokio::test]
async fn a_form_is_an_unsupported_media_type_everywhere() {
    every_route_refuses(
        "application/x-www-form-urlencoded",
        |_| b"name=x".to_vec(),
        E::UnsupportedMediaType,
    )
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_payload_too_large_everywhere() {
    every_route_refuses(
        "application/json",
        |template| {
            let mut b = vec![b' '; limit(template) + 1];
            b[0] = b'{';
            b
        },
        E::PayloadTooLarge,
    )
    .await;
}

#[tokio::test]
async fn missing_required_fields_are_an_invalid_body() {
    let w = World::new().await;
    for (method, template) in [
        ("POST", "/api/v1/channels"),
        ("POST", "/api/v1/channels/{id}/listings"),
        ("POST", "/api/v1/channels/{id}/sync"),
        ("PUT", "/api/v1/channels/{id}/status-map"),
        ("PUT", "/api/v1/channels/{id}/payment-map"),
        ("PUT", "/api/v1/channels/{id}/customer-fields"),
        ("POST", "/api/v1/channels/{id}/remap"),
        ("POST", "/api/v1/orders/{id}/cancel"),
        ("POST", "/api/v1/orders/{id}/collection-order"),
        ("POST", "/api/v1/orders/{id}/delivery"),
        ("POST", "/api/v1/orders/{id}/invoice"),
        ("POST", "/api/v1/orders/{id}/shipment"),
        ("POST", "/api/v1/orders/{id}/shipment-exception"),
        ("POST", "/api/v1/product-data"),
        ("POST", "/api/v1/products"),
        ("POST", "/api/v1/stock/movements"),
        ("POST", "/api/v1/warehouses"),
    ] {
        let path = w.path(template);
        w.api
            .refuses(method, &path, Some(serde_json::json!({})), E::InvalidBody)
            .await;
    }
}
