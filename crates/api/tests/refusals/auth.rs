//! The API token: every `/api` route refuses a request without a valid one, before
//! it reads anything else (ponte has one kind of token, with no roles or scopes: a
//! valid token may do everything its tenant may).

use crate::fixtures::World;
use crate::harness::{operations, Covered, TOKEN};
use axum::body::Body;
use axum::http::{header, Request};
use ponte_core::ErrorCode as E;

/// Authorization headers that are not a valid token.
const NOT_A_TOKEN: &[Option<&str>] = &[
    None,
    Some("Bearer wrong-token-0123456789abcdef"),
    Some("Bearer "),
    Some("Basic dXNlcjpwYXNz"),
    Some(TOKEN),
    Some("Token refusals-token-0123456789abcdef"),
];

/// Every `/api` operation of the document, and the document itself.
fn api_routes() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = operations()
        .into_iter()
        .filter(|(_, p, _)| p.starts_with("/api/"))
        .map(|(m, p, _)| (m, p))
        .collect();
    out.push(("get".into(), "/api/v1/openapi.json".into()));
    out
}

pub fn covers() -> Vec<Covered> {
    api_routes()
        .into_iter()
        .map(|(m, p)| (m, p, E::Unauthorized))
        .collect()
}

#[tokio::test]
async fn every_api_route_refuses_a_missing_or_wrong_token_before_reading_the_request() {
    let w = World::new().await;
    let before = w.api.snapshot().await;
    for (method, template) in api_routes() {
        let path = w.path(&template);
        for auth in NOT_A_TOKEN {
            let mut req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&path)
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, *a);
            }
            // A malformed body: the token is checked first.
            let reply = w.api.send(req.body(Body::from("{")).unwrap()).await;
            assert_eq!(
                reply.status, 401,
                "{method} {path} with {auth:?}: {}",
                reply.body
            );
            reply.refused(E::Unauthorized);
            assert_eq!(
                reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
                "Bearer",
                "{method} {path}"
            );
        }
    }
    assert_eq!(w.api.snapshot().await, before);
}

#[tokio::test]
async fn a_token_that_is_not_text_is_no_token() {
    let w = World::new().await;
    let req = Request::builder()
        .uri("/api/v1/channels")
        .header(header::AUTHORIZATION, &b"Bearer \xff\xfe"[..])
        .body(Body::empty())
        .unwrap();
    w.api.expect(w.api.send(req), E::Unauthorized).await;
}

#[tokio::test]
async fn unknown_routes_answer_not_found_with_or_without_a_token() {
    let w = World::new().await;
    for path in ["/api/v1/nothing-here", "/api/v2/channels", "/nothing-here"] {
        w.api.refuses("GET", path, None, E::NotFound).await;
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        w.api.expect(w.api.send(req), E::NotFound).await;
    }
}
