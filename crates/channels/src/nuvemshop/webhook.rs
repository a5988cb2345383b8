//! Nuvemshop webhook authentication and reading.

use super::dto::Notification;
use super::map::text;
use crate::{WebhookAction, WebhookError, WebhookEvent};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the hex HMAC-SHA256 of the raw body.
pub const SIGNATURE_HEADER: &str = "x-linkedstore-hmac-sha256";

/// Order events ponte acts on (`TN:resources/webhook.md`).
pub(super) const ORDER_EVENTS: [&str; 6] = [
    "order/created",
    "order/updated",
    "order/paid",
    "order/packed",
    "order/fulfilled",
    "order/cancelled",
];

/// Verifies the signature in constant time, then reads the notification.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    app_secret: &[u8],
    store_id: &str,
) -> Result<WebhookEvent, WebhookError> {
    let sig = headers
        .get(SIGNATURE_HEADER)
        .ok_or(WebhookError::MissingSignature("X-Linkedstore-HMAC-SHA256"))?;
    let sig =
        hex::decode(sig.as_bytes().trim_ascii()).map_err(|_| WebhookError::InvalidSignature)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret).map_err(|_| WebhookError::InvalidSignature)?;
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| WebhookError::InvalidSignature)?;

    let n: Notification =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let sent_store =
        text(&n.store_id).ok_or_else(|| WebhookError::Malformed("store_id missing".into()))?;
    if sent_store != store_id {
        return Err(WebhookError::StoreMismatch(sent_store));
    }
    let resource_id = text(&n.id).or_else(|| text(&n.order_id));
    let action = if ORDER_EVENTS.contains(&n.event.as_str()) {
        if resource_id.is_none() {
            return Err(WebhookError::Malformed("order id missing".into()));
        }
        WebhookAction::ImportOrder
    } else {
        WebhookAction::Ignore(format!("event {} is not imported", n.event))
    };
    Ok(WebhookEvent {
        event: n.event,
        resource_id,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(body: &[u8], secret: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|e| panic!("{e}"));
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(sig: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            SIGNATURE_HEADER,
            sig.parse().unwrap_or_else(|e| panic!("{e}")),
        );
        h
    }

    #[test]
    fn accepts_signed_order_events() {
        let body = br#"{"store_id":123,"event":"order/paid","id":450789469}"#;
        let ev = verify(&headers(&sign(body, b"s3cret")), body, b"s3cret", "123")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.resource_id.as_deref(), Some("450789469"));
        assert_eq!(ev.action, WebhookAction::ImportOrder);
        // Upper-case hex is the same signature.
        let upper = sign(body, b"s3cret").to_uppercase();
        assert!(verify(&headers(&upper), body, b"s3cret", "123").is_ok());
    }

    #[test]
    fn refuses_bad_input() {
        let body = br#"{"store_id":123,"event":"order/paid","id":1}"#;
        assert_eq!(
            verify(&http::HeaderMap::new(), body, b"k", "123")
                .err()
                .map(|e| e.code().as_str()),
            Some("missing_signature")
        );
        assert_eq!(
            verify(&headers(&sign(body, b"other")), body, b"k", "123"),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(
            verify(&headers("zz"), body, b"k", "123"),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(
            verify(&headers(&sign(body, b"k")), body, b"k", "999"),
            Err(WebhookError::StoreMismatch("123".into()))
        );
        let bad = b"{not json";
        assert_eq!(
            verify(&headers(&sign(bad, b"k")), bad, b"k", "123")
                .err()
                .map(|e| e.code().as_str()),
            Some("malformed_json")
        );
    }

    #[test]
    fn other_events_are_ignored() {
        let body = br#"{"store_id":"123","event":"product/created","id":1948209}"#;
        let ev = verify(&headers(&sign(body, b"k")), body, b"k", "123")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(ev.action, WebhookAction::Ignore(_)));
    }

    proptest::proptest! {
        /// Any body, signed or not, is accepted or refused with a code; never a panic.
        #[test]
        fn any_body_is_answered(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256), signed in proptest::prelude::any::<bool>()) {
            let sig = if signed { sign(&body, b"k") } else { "00".into() };
            let _ = verify(&headers(&sig), &body, b"k", "123");
        }
    }
}
