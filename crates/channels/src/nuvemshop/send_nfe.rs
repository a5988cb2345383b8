//! The NF-e as order metafields: Nuvemshop has no invoice API; the documented
//! convention (platforms.md §1 "NF-e", "use this example as-is" so other apps can read
//! it) is namespace `nfe` with key `key` (access key) and key `link` (XML/DANFE URL).

use super::send::Trail;
use crate::PlatformError;
use ponte_core::action::Invoice;
use reqwest::Method;
use serde_json::{json, Value};

const NAMESPACE: &str = "nfe";

/// A metafield create body (fixtures `metafield_nfe_key_request.json` and
/// `metafield_nfe_link_request.json`).
pub(super) fn metafield_body(order_id: u64, key: &str, value: &str, description: &str) -> Value {
    json!({
        "namespace": NAMESPACE,
        "key": key,
        "value": value,
        "description": description,
        "owner_resource": "Order",
        "owner_id": order_id,
    })
}

/// Stores the access key, then the link when there is one.
pub(super) async fn send(
    trail: &mut Trail<'_>,
    order_id: u64,
    invoice: &Invoice,
) -> Result<(), PlatformError> {
    let key = invoice.access_key.as_str();
    set(trail, order_id, "key", key, "Chave da NFe").await?;
    if let Some(url) = &invoice.xml_url {
        set(trail, order_id, "link", url, "Link da NFe").await?;
    }
    Ok(())
}

/// `POST /metafields`; when the key is already taken, reads the stored value back and
/// updates it if it differs.
async fn set(
    trail: &mut Trail<'_>,
    order_id: u64,
    key: &str,
    value: &str,
    description: &str,
) -> Result<(), PlatformError> {
    let body = metafield_body(order_id, key, value, description);
    match trail.call(Method::POST, "/metafields", Some(&body)).await {
        Ok(_) => Ok(()),
        Err(e) if e.status == Some(422) && trail.last_response().is_some_and(taken) => {
            reconcile(trail, order_id, key, value, description).await
        }
        Err(e) => Err(e),
    }
}

/// Whether a 422 body is the field error `{"key": ["has already been taken"]}`. The
/// shape is the simulator's (Rails-style field errors, the documented general 422
/// shape); that the real platform refuses a second value this way is unverified.
pub(super) fn taken(body: &str) -> bool {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("key").and_then(Value::as_array).cloned())
        .is_some_and(|msgs| {
            msgs.iter()
                .any(|m| m.as_str() == Some("has already been taken"))
        })
}

/// A stored metafield: id and value.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) id: String,
    pub(super) value: String,
}

/// Finds `nfe.{key}` of order `order_id` in a `GET /metafields/orders` answer.
pub(super) fn find_stored(body: &[u8], order_id: u64, key: &str) -> Option<Stored> {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let list: Value = serde_json::from_slice(body).ok()?;
    list.as_array()?.iter().find_map(|m| {
        let ours = text(m.get("namespace")).as_deref() == Some(NAMESPACE)
            && text(m.get("key")).as_deref() == Some(key)
            && text(m.get("owner_id")) == Some(order_id.to_string());
        let id = text(m.get("id")).filter(|id| id.bytes().all(|b| b.is_ascii_digit()))?;
        ours.then(|| Stored {
            id,
            value: text(m.get("value")).unwrap_or_default(),
        })
    })
}

/// Reads the stored value (`GET /metafields/orders?owner_id=…&namespace=nfe&key=…`,
/// platforms.md); the same value is success, another one is replaced with
/// `PUT /metafields/{id}` `{value, description}` (Postman "Modify an existing metafield").
async fn reconcile(
    trail: &mut Trail<'_>,
    order_id: u64,
    key: &str,
    value: &str,
    description: &str,
) -> Result<(), PlatformError> {
    let query = format!("/metafields/orders?owner_id={order_id}&namespace={NAMESPACE}&key={key}");
    let body = trail.call(Method::GET, &query, None).await?;
    let Some(stored) = find_stored(&body, order_id, key) else {
        return Err(PlatformError::permanent(format!(
            "Nuvemshop says metafield {NAMESPACE}.{key} of order {order_id} exists but does not list it"
        )));
    };
    if stored.value == value {
        return Ok(());
    }
    let update = json!({"value": value, "description": description});
    let path = format!("/metafields/{}", stored.id);
    trail
        .call(Method::PUT, &path, Some(&update))
        .await
        .map(drop)
}
