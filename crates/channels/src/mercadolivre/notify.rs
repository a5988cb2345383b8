//! Reading ML notifications (addendum "Notifications"). They are resource pointers
//! without a signature: ponte accepts one only when `user_id` is the channel's seller
//! and `application_id` its application, and the import then fetches the resource
//! with the seller's token (the real check). ML's source IPs are documented, but
//! ponte may sit behind a proxy, so they are not checked here.

use super::dto;
use super::map::text;
use crate::{WebhookAction, WebhookError, WebhookEvent};

/// The order topic.
pub const ORDERS_V2: &str = "orders_v2";

/// Authenticates a notification body and reads what it is about.
pub fn verify(body: &[u8], seller_id: &str, app_id: &str) -> Result<WebhookEvent, WebhookError> {
    let n: dto::Notification =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let user = text(&n.user_id).ok_or_else(|| WebhookError::Malformed("no user_id".into()))?;
    if user != seller_id {
        return Err(WebhookError::StoreMismatch(user));
    }
    let app = text(&n.application_id)
        .ok_or_else(|| WebhookError::Malformed("no application_id".into()))?;
    if app != app_id {
        return Err(WebhookError::StoreMismatch(format!("application {app}")));
    }
    let topic = text(&n.topic).unwrap_or_default();
    let resource = text(&n.resource).unwrap_or_default();
    Ok(event(&topic, &resource))
}

/// The topic of shipment changes.
pub const SHIPMENTS: &str = "shipments";

/// How an import names the order of a shipment (`shipment:{id}`): the fetch reads the
/// shipment, then its order (which is stored under its own id).
pub const SHIPMENT_PREFIX: &str = "shipment:";

/// What a (verified) notification asks for.
pub fn event(topic: &str, resource: &str) -> WebhookEvent {
    let pointer = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .filter(|id| super::client::order_id_ok(id))
    };
    if let Some(ticket) = super::sac::notified(topic, resource) {
        return WebhookEvent {
            event: topic.to_owned(),
            resource_id: Some(ticket),
            action: WebhookAction::ImportTicket,
        };
    }
    let action = match topic {
        ORDERS_V2 => pointer("/orders/").map(str::to_owned),
        // Whether ML also sends `orders_v2` when only the shipment moved is not
        // documented: ponte re-reads the order for either.
        SHIPMENTS => pointer("/shipments/").map(|id| format!("{SHIPMENT_PREFIX}{id}")),
        _ => {
            return WebhookEvent {
                event: topic.to_owned(),
                resource_id: Some(resource.to_owned()),
                action: WebhookAction::Ignore(format!("topic {topic} is not imported")),
            }
        }
    };
    match action {
        Some(id) => WebhookEvent {
            event: topic.to_owned(),
            resource_id: Some(id),
            action: WebhookAction::ImportOrder,
        },
        None => WebhookEvent {
            event: topic.to_owned(),
            resource_id: Some(resource.to_owned()),
            action: WebhookAction::Ignore(format!("not a {topic} resource: {resource}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_channel_seller_and_app() {
        let body = std::fs::read(format!(
            "{}/../../fixtures/mercadolivre/notification_orders_v2.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let e = verify(&body, "468424240", "5503910054141466").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.resource_id.as_deref(), Some("2195160686"));
        assert_eq!(e.action, WebhookAction::ImportOrder);
        assert!(matches!(
            verify(&body, "1", "5503910054141466"),
            Err(WebhookError::StoreMismatch(_))
        ));
        assert!(matches!(
            verify(&body, "468424240", "1"),
            Err(WebhookError::StoreMismatch(_))
        ));
        assert!(matches!(
            verify(b"[]", "1", "1"),
            Err(WebhookError::Malformed(_))
        ));
        // `user_id` as a string (other topics) is read too.
        let s =
            br#"{"resource":"/shipments/1","user_id":"7","topic":"shipments","application_id":9}"#;
        let e = verify(s, "7", "9").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.action, WebhookAction::ImportOrder);
        assert_eq!(e.resource_id.as_deref(), Some("shipment:1"));
        let s =
            br#"{"resource":"/questions/1","user_id":7,"topic":"questions","application_id":9}"#;
        let e = verify(s, "7", "9").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.action, WebhookAction::ImportTicket);
        assert_eq!(e.resource_id.as_deref(), Some("question:1"));
        let s = br#"{"resource":"/messages/5a2e4b1c","user_id":7,"topic":"messages","application_id":9}"#;
        let e = verify(s, "7", "9").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.resource_id.as_deref(), Some("message:5a2e4b1c"));
        let s = br#"{"resource":"/post-purchase/v1/claims/5","user_id":7,"topic":"claims","application_id":9}"#;
        let e = verify(s, "7", "9").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.resource_id.as_deref(), Some("claim:5"));
        let s =
            br#"{"resource":"/questions/x","user_id":7,"topic":"questions","application_id":9}"#;
        let e = verify(s, "7", "9").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(e.action, WebhookAction::Ignore(_)));
        let s =
            br#"{"resource":"/orders/../x","user_id":7,"topic":"orders_v2","application_id":9}"#;
        assert!(matches!(
            verify(s, "7", "9").map(|e| e.action),
            Ok(WebhookAction::Ignore(_))
        ));
    }
}
