//! VTEX hook notifications: authentication and reading.
//!
//! VTEX does not sign hook notifications (platforms.md §2: the hook config only lets the
//! subscriber add `headers` to every notification). ponte therefore configures the hook
//! with a per-channel secret header, [`SECRET_HEADER`], and accepts a notification only
//! when that header matches the channel's secret AND `Origin.Account` is the channel's
//! account — both compared in constant time. The `{"hookConfig":"ping"}` VTEX posts while
//! a hook is being configured is acknowledged without touching any order (it carries the
//! configured headers too; assumption: VTEX sends the configured headers with the ping —
//! the docs show only the body).

use crate::{WebhookAction, WebhookError, WebhookEvent};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The header ponte adds to its hook configuration, carrying the channel's secret.
pub const SECRET_HEADER: &str = "x-ponte-hook-secret";

/// A hook notification (fixture `vtex/hook_notification.json`) or the ping.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Notification {
    #[serde(rename = "hookConfig")]
    hook_config: Option<String>,
    order_id: Option<String>,
    state: Option<String>,
    origin: Option<Origin>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Origin {
    account: Option<String>,
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Authenticates a hook notification for the channel of `account` with `secret`, then
/// reads which order it is about.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    secret: &str,
    account: &str,
) -> Result<WebhookEvent, WebhookError> {
    let sent = headers
        .get(SECRET_HEADER)
        .ok_or(WebhookError::MissingSignature("X-Ponte-Hook-Secret"))?;
    if secret.is_empty() || !same(sent.to_str().unwrap_or_default().trim(), secret) {
        return Err(WebhookError::InvalidSignature);
    }
    let n: Notification =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    if n.hook_config.as_deref() == Some("ping") {
        return Ok(WebhookEvent {
            event: "hook/ping".into(),
            resource_id: None,
            action: WebhookAction::Ignore("hook configuration ping".into()),
        });
    }
    let sent_account = n
        .origin
        .and_then(|o| o.account)
        .ok_or_else(|| WebhookError::Malformed("Origin.Account missing".into()))?;
    if !same(
        &sent_account.to_ascii_lowercase(),
        &account.to_ascii_lowercase(),
    ) {
        return Err(WebhookError::StoreMismatch(sent_account));
    }
    let order_id = n
        .order_id
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| WebhookError::Malformed("OrderId missing".into()))?;
    Ok(WebhookEvent {
        event: n.state.unwrap_or_else(|| "order/changed".into()),
        resource_id: Some(order_id),
        action: WebhookAction::ImportOrder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../../fixtures/vtex/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn with_secret(s: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(SECRET_HEADER, s.parse().unwrap_or_else(|e| panic!("{e}")));
        h
    }

    #[test]
    fn the_fixture_notification_names_its_order() {
        let e = verify(
            &with_secret("s3cret"),
            &fixture("hook_notification.json"),
            "s3cret",
            "accountABC",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.resource_id.as_deref(), Some("v40484048naf-01"));
        assert_eq!(e.event, "payment-approved");
        assert_eq!(e.action, WebhookAction::ImportOrder);
    }

    #[test]
    fn the_ping_is_acknowledged_and_ignored() {
        let e = verify(&with_secret("s"), &fixture("hook_ping.json"), "s", "acc")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(e.action, WebhookAction::Ignore(_)));
    }

    #[test]
    fn refusals_have_codes() {
        let body = fixture("hook_notification.json");
        let code = |r: Result<WebhookEvent, WebhookError>| r.err().map(|e| e.code().as_str());
        assert_eq!(
            code(verify(&http::HeaderMap::new(), &body, "s", "accountABC")),
            Some("missing_signature")
        );
        assert_eq!(
            code(verify(&with_secret("nope"), &body, "s", "accountABC")),
            Some("invalid_signature")
        );
        assert_eq!(
            code(verify(&with_secret(""), &body, "", "accountABC")),
            Some("invalid_signature"),
            "an empty secret never matches"
        );
        assert_eq!(
            code(verify(&with_secret("s"), &body, "s", "otherstore")),
            Some("store_mismatch")
        );
        assert_eq!(
            code(verify(&with_secret("s"), b"{not json", "s", "accountABC")),
            Some("malformed_json")
        );
        assert_eq!(
            code(verify(
                &with_secret("s"),
                br#"{"Origin":{"Account":"accountABC"}}"#,
                "s",
                "accountABC"
            )),
            Some("malformed_json")
        );
    }
}
