//! The event feed's query string: unknown types, waits and limits out of range are
//! `invalid_query`; an `after` the API did not hand out is `invalid_cursor`. Webhook
//! endpoints: a URL that is not http(s), a private address (strict instance), a bad
//! rate or description; an unknown endpoint or attempt.

use crate::fixtures::World;
use crate::harness::{covered, unknown_id, Api, Covered};
use ponte_core::ErrorCode as E;
use serde_json::json;

/// Every route naming an endpoint by id.
const ENDPOINT_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/webhook-endpoints/{id}"),
    ("PATCH", "/api/v1/webhook-endpoints/{id}"),
    ("DELETE", "/api/v1/webhook-endpoints/{id}"),
    ("POST", "/api/v1/webhook-endpoints/{id}/rotate-secret"),
    ("POST", "/api/v1/webhook-endpoints/{id}/recover"),
    ("GET", "/api/v1/webhook-endpoints/{id}/attempts"),
    (
        "POST",
        "/api/v1/webhook-endpoints/{id}/attempts/{attempt_id}/resend",
    ),
];

pub fn covers() -> Vec<Covered> {
    let feed = "/api/v1/events";
    let mut out: Vec<Covered> = vec![
        ("get".into(), feed.into(), E::InvalidQuery),
        ("get".into(), feed.into(), E::InvalidCursor),
    ];
    for (m, p) in ENDPOINT_ROUTES {
        out.push((m.to_lowercase(), (*p).to_owned(), E::EndpointNotFound));
    }
    out.extend(covered(&[
        ("post", "/api/v1/webhook-endpoints", E::ValidationFailed),
        (
            "patch",
            "/api/v1/webhook-endpoints/{id}",
            E::ValidationFailed,
        ),
        ("post", "/api/v1/webhook-endpoints", E::ForbiddenAddress),
        (
            "patch",
            "/api/v1/webhook-endpoints/{id}",
            E::ForbiddenAddress,
        ),
        (
            "post",
            "/api/v1/webhook-endpoints/{id}/attempts/{attempt_id}/resend",
            E::AttemptNotFound,
        ),
    ]));
    out
}

/// A new endpoint's id.
async fn endpoint(api: &Api, url: &str) -> String {
    let body = json!({"url": url});
    let r = api
        .call("POST", "/api/v1/webhook-endpoints", Some(&body))
        .await
        .ok();
    r["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_unknown_endpoint_or_attempt_is_not_found() {
    let api = Api::new().await;
    let ep = endpoint(&api, "http://127.0.0.1:1/hooks").await;
    let body = json!({"since": "2026-01-01T00:00:00Z"});
    for (m, template) in ENDPOINT_ROUTES {
        for id in [unknown_id(), "nope".to_owned()] {
            let path = template
                .replace("{id}", &id)
                .replace("{attempt_id}", &unknown_id());
            let body = if template.ends_with("/recover") {
                Some(body.clone())
            } else {
                (*m == "PATCH").then(|| json!({}))
            };
            api.refuses(m, &path, body, E::EndpointNotFound).await;
        }
    }
    for attempt in [unknown_id(), "nope".to_owned()] {
        let path = format!("/api/v1/webhook-endpoints/{ep}/attempts/{attempt}/resend");
        api.refuses("POST", &path, None, E::AttemptNotFound).await;
    }
}

#[tokio::test]
async fn an_endpoint_needs_an_http_url_a_rate_and_a_short_description() {
    let api = Api::new().await;
    let ep = endpoint(&api, "http://127.0.0.1:1/hooks").await;
    let path = format!("/api/v1/webhook-endpoints/{ep}");
    for body in [
        json!({"url": "ftp://erp.example/hooks"}),
        json!({"url": "not a url"}),
        json!({"url": "https://erp.example/hooks", "rate_limit_per_sec": 0}),
        json!({"url": "https://erp.example/hooks", "description": "x".repeat(201)}),
        json!({"url": "https://erp.example/hooks", "channel_id": unknown_id()}),
    ] {
        let url = "/api/v1/webhook-endpoints";
        api.refuses("POST", url, Some(body.clone()), E::ValidationFailed)
            .await;
        api.refuses("PATCH", &path, Some(body), E::ValidationFailed)
            .await;
    }
}

#[tokio::test]
async fn a_private_address_is_forbidden_unless_allowed() {
    let api = Api::strict().await;
    let ep = endpoint(&api, "https://93.184.215.14/hooks").await;
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://10.0.0.5/hooks",
        "http://[::1]/x",
    ] {
        let body = json!({"url": url});
        api.refuses(
            "POST",
            "/api/v1/webhook-endpoints",
            Some(body.clone()),
            E::ForbiddenAddress,
        )
        .await;
        let path = format!("/api/v1/webhook-endpoints/{ep}");
        api.refuses("PATCH", &path, Some(body), E::ForbiddenAddress)
            .await;
    }
}

#[tokio::test]
async fn the_feed_refuses_what_it_cannot_read() {
    let w = World::new().await;
    for query in [
        "types=order.deleted",
        "types=order.created,nope",
        "wait=31",
        "wait=soon",
        "limit=0",
        "limit=501",
        "cursor=1",
    ] {
        let path = format!("/api/v1/events?{query}");
        w.api.refuses("GET", &path, None, E::InvalidQuery).await;
    }
    for after in ["-1", "abc", "1.5"] {
        let path = format!("/api/v1/events?after={after}");
        w.api.refuses("GET", &path, None, E::InvalidCursor).await;
    }
}
