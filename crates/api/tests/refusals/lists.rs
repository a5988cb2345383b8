//! Query strings of the list routes: an unknown or malformed parameter is
//! `invalid_query` on every one, a cursor the API did not hand out `invalid_cursor` on
//! those paged by id.

use crate::fixtures::World;
use crate::harness::Covered;
use ponte_core::ErrorCode as E;

/// Every route that reads a query string.
const QUERY_ROUTES: &[&str] = &[
    "/api/v1/audit",
    "/api/v1/channels/{id}/listings",
    "/api/v1/orders",
    "/api/v1/prices/pushes",
    "/api/v1/prices/scheduled",
    "/api/v1/product-data/pushes",
    "/api/v1/products",
    "/api/v1/scheduled-tasks",
    "/api/v1/scheduled-tasks/{id}/runs",
    "/api/v1/status-sends",
    "/api/v1/stock/pushes",
    "/api/v1/tickets",
    "/api/v1/unmapped-skus",
    "/api/v1/webhook-deliveries",
    "/api/v1/webhook-endpoints/{id}/attempts",
];

/// The routes paged by an opaque id cursor (the others page by SKU, which any text
/// is, or not at all).
const CURSOR_ROUTES: &[&str] = &[
    "/api/v1/audit",
    "/api/v1/orders",
    "/api/v1/prices/pushes",
    "/api/v1/prices/scheduled",
    "/api/v1/product-data/pushes",
    "/api/v1/scheduled-tasks/{id}/runs",
    "/api/v1/status-sends",
    "/api/v1/stock/pushes",
    "/api/v1/webhook-deliveries",
    "/api/v1/webhook-endpoints/{id}/attempts",
];

pub fn covers() -> Vec<Covered> {
    let q = QUERY_ROUTES
        .iter()
        .map(|p| ("get".to_owned(), (*p).to_owned(), E::InvalidQuery));
    let c = CURSOR_ROUTES
        .iter()
        .map(|p| ("get".to_owned(), (*p).to_owned(), E::InvalidCursor));
    q.chain(c).collect()
}

#[tokio::test]
async fn an_unknown_parameter_is_an_invalid_query_everywhere() {
    let w = World::new().await;
    for template in QUERY_ROUTES {
        let path = format!("{}?no_such_parameter=1", w.path(template));
        w.api.refuses("GET", &path, None, E::InvalidQuery).await;
    }
}

#[tokio::test]
async fn a_malformed_parameter_is_an_invalid_query() {
    let w = World::new().await;
    for query in [
        "/api/v1/orders?status=lost",
        "/api/v1/orders?limit=ten",
        "/api/v1/orders?limit=-1",
        "/api/v1/orders?updated_since=yesterday",
        "/api/v1/orders?channel_id=nope",
        "/api/v1/status-sends?state=lost",
        "/api/v1/status-sends?format=xml",
        "/api/v1/status-sends?from=monday",
        "/api/v1/status-sends?order_id=nope",
        "/api/v1/webhook-deliveries?state=lost",
        "/api/v1/webhook-deliveries?channel_id=nope",
        "/api/v1/scheduled-tasks?channel_id=nope",
        "/api/v1/unmapped-skus?channel_id=nope",
        "/api/v1/stock/pushes?channel_id=nope",
        "/api/v1/stock/pushes?limit=many",
        "/api/v1/products?limit=many",
        "/api/v1/channels/{id}/listings?limit=many",
        "/api/v1/scheduled-tasks/{id}/runs?limit=many",
    ] {
        w.api
            .refuses("GET", &w.path(query), None, E::InvalidQuery)
            .await;
    }
}

#[tokio::test]
async fn a_cursor_the_api_did_not_hand_out_is_an_invalid_cursor() {
    let w = World::new().await;
    for template in CURSOR_ROUTES {
        for cursor in ["not-a-cursor", "12abc"] {
            let path = format!("{}?cursor={cursor}", w.path(template));
            w.api.refuses("GET", &path, None, E::InvalidCursor).await;
        }
    }
}
