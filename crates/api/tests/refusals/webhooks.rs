//! `POST /webhooks/{channel_id}`: authenticated by the platform's signature alone. A
//! refused webhook stores no delivery and queues no import.

use crate::fixtures::{sign, APP_SECRET};
use crate::harness::{covered, Api, Covered};
use axum::body::Body;
use axum::http::Request;
use ponte_core::ErrorCode as E;

pub fn covers() -> Vec<Covered> {
    let p = "/webhooks/{channel_id}";
    covered(&[
        ("post", p, E::MissingSignature),
        ("post", p, E::InvalidSignature),
        ("post", p, E::MalformedJson),
        ("post", p, E::StoreMismatch),
        ("post", p, E::ChannelDisabled),
        ("post", p, E::PayloadTooLarge),
    ])
}

/// What Nuvemshop posts when order 4501 is paid at store 1001.
const PAID: &[u8] = br#"{"store_id": 1001, "event": "order/paid", "id": 4501}"#;

#[tokio::test]
async fn a_webhook_without_its_signature_header_is_missing_signature() {
    let api = Api::new().await;
    let c = api.channel().await;
    api.expect(api.webhook(&c, PAID, None), E::MissingSignature)
        .await;
    // The API token is no signature.
    let req = Request::builder()
        .method("POST")
        .uri(format!("/webhooks/{c}"))
        .header("authorization", format!("Bearer {}", crate::harness::TOKEN))
        .body(Body::from(PAID))
        .unwrap();
    api.expect(api.send(req), E::MissingSignature).await;
}

#[tokio::test]
async fn a_signature_that_does_not_match_is_invalid_signature() {
    let api = Api::new().await;
    let c = api.channel().await;
    api.expect(
        api.webhook(&c, PAID, Some("another-secret")),
        E::InvalidSignature,
    )
    .await;
    for sig in [
        "zz".to_owned(),
        String::new(),
        sign(b"{}", APP_SECRET),
        sign(PAID, APP_SECRET)[..62].to_owned(),
    ] {
        let req = Request::builder()
            .method("POST")
            .uri(format!("/webhooks/{c}"))
            .header("x-linkedstore-hmac-sha256", sig)
            .body(Body::from(PAID))
            .unwrap();
        api.expect(api.send(req), E::InvalidSignature).await;
    }
}

#[tokio::test]
async fn a_signed_body_that_is_not_the_platform_json_is_malformed_json() {
    let api = Api::new().await;
    let c = api.channel().await;
    let bodies: [&[u8]; 4] = [
        b"{not json",
        b"",
        br#"{"event": "order/paid", "id": 4501}"#,
        br#"{"store_id": 1001, "event": "order/paid"}"#,
    ];
    for body in bodies {
        let reply = api.webhook(&c, body, Some(APP_SECRET));
        api.expect(reply, E::MalformedJson).await;
    }
}

#[tokio::test]
async fn a_signed_webhook_for_another_store_is_store_mismatch() {
    let api = Api::new().await;
    let c = api.channel().await;
    let other = br#"{"store_id": 999, "event": "order/paid", "id": 4501}"#;
    api.expect(api.webhook(&c, other, Some(APP_SECRET)), E::StoreMismatch)
        .await;
}

#[tokio::test]
async fn a_signed_webhook_for_a_disabled_channel_is_channel_disabled() {
    let api = Api::new().await;
    let c = api.channel().await;
    api.call("DELETE", &format!("/api/v1/channels/{c}"), None)
        .await
        .ok();
    api.expect(api.webhook(&c, PAID, Some(APP_SECRET)), E::ChannelDisabled)
        .await;
    // The signature first: a disabled channel tells only its platform so.
    api.expect(api.webhook(&c, PAID, None), E::MissingSignature)
        .await;
    api.expect(
        api.webhook(&c, PAID, Some("another-secret")),
        E::InvalidSignature,
    )
    .await;
}

#[tokio::test]
async fn a_webhook_over_64_kib_is_payload_too_large() {
    let api = Api::new().await;
    let c = api.channel().await;
    let mut big = vec![b' '; ponte_api::MAX_WEBHOOK_BODY + 1];
    big[..PAID.len()].copy_from_slice(PAID);
    let reply = api.webhook(&c, &big, Some(APP_SECRET));
    api.expect(reply, E::PayloadTooLarge).await;
    // At the limit it is read (and accepted).
    let at_limit = &big[..ponte_api::MAX_WEBHOOK_BODY];
    let ok = api.webhook(&c, at_limit, Some(APP_SECRET)).await.ok();
    assert_eq!(ok["state"], "received");
}

#[tokio::test]
async fn a_webhook_while_shutting_down_is_refused_and_not_stored() {
    let api = Api::new().await;
    let c = api.channel().await;
    api.engine.drain_ingest().await;
    api.expect(api.webhook(&c, PAID, Some(APP_SECRET)), E::ShuttingDown)
        .await;
}

#[tokio::test]
async fn a_valid_webhook_is_stored_so_the_refusals_above_are_not_vacuous() {
    let api = Api::new().await;
    let c = api.channel().await;
    let ack = api.webhook(&c, PAID, Some(APP_SECRET)).await.ok();
    assert_eq!(ack["state"], "received");
    let stored = api.get("/api/v1/webhook-deliveries").await;
    assert_eq!(stored["items"][0]["id"], ack["delivery_id"]);
}
