//! Metafields (the NF-e convention lives here) and webhook subscriptions.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::fmt::{self, ts, ts_metafield};

#[derive(Debug, Clone)]
pub struct Metafield {
    pub id: u64,
    pub namespace: String,
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub owner_resource: String,
    pub owner_id: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Metafield {
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "namespace": self.namespace,
            "key": self.key,
            "value": self.value,
            "description": self.description,
            "owner_resource": self.owner_resource,
            "owner_id": self.owner_id,
            "created_at": ts_metafield(self.created_at),
            "updated_at": ts_metafield(self.updated_at),
            "deleted_at": null,
        })
    }
}

/// Documented owner resources; the GET path uses the plural snake-case name.
pub const OWNER_RESOURCES: &[(&str, &str)] = &[
    ("orders", "Order"),
    ("products", "Product"),
    ("product_variants", "Product_Variant"),
    ("categories", "Category"),
    ("pages", "Page"),
];

/// Field-keyed 422 body, the documented general validation error shape.
pub fn field_errors(errors: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (field, msg) in errors {
        let e = m.entry((*field).to_owned()).or_insert_with(|| json!([]));
        if let Value::Array(a) = e {
            a.push(json!(msg));
        }
    }
    Value::Object(m)
}

fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic())
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Validated `POST /metafields` body (owner existence is checked by the caller).
pub struct NewMetafield {
    pub namespace: String,
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub owner_resource: String,
    pub owner_id: u64,
}

impl NewMetafield {
    /// `Err` is the 422 body.
    pub fn parse(body: &Value) -> Result<Self, Value> {
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut errs: Vec<(&str, &str)> = Vec::new();
        let namespace = s("namespace").unwrap_or_default();
        if namespace.is_empty() {
            errs.push(("namespace", "can't be blank"));
        } else if !valid_name(&namespace) {
            errs.push(("namespace", "is invalid"));
        }
        let key = s("key").unwrap_or_default();
        if key.is_empty() {
            errs.push(("key", "can't be blank"));
        } else if !valid_name(&key) {
            errs.push(("key", "is invalid"));
        }
        let value = match body.get("value") {
            Some(Value::String(v)) if !v.is_empty() => v.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                errs.push(("value", "can't be blank"));
                String::new()
            }
        };
        let owner_resource = s("owner_resource").unwrap_or_default();
        if !OWNER_RESOURCES.iter().any(|(_, r)| *r == owner_resource) {
            errs.push(("owner_resource", "is invalid"));
        }
        let owner_id = body.get("owner_id").and_then(fmt::as_u64);
        if owner_id.is_none() {
            errs.push(("owner_id", "can't be blank"));
        }
        if !errs.is_empty() {
            return Err(field_errors(&errs));
        }
        Ok(Self {
            namespace,
            key,
            value,
            description: s("description"),
            owner_resource,
            owner_id: owner_id.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: u64,
    pub event: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    pub fn render(&self) -> Value {
        json!({
            "created_at": ts(self.created_at),
            "event": self.event,
            "id": self.id,
            "updated_at": ts(self.updated_at),
            "url": self.url,
        })
    }
}

/// Events accepted by `POST /webhooks` (legacy list plus the 2025-03 additions).
pub const WEBHOOK_EVENTS: &[&str] = &[
    "app/uninstalled",
    "app/suspended",
    "app/resumed",
    "cart/created",
    "cart/updated",
    "category/created",
    "category/updated",
    "category/deleted",
    "order/created",
    "order/updated",
    "order/paid",
    "order/packed",
    "order/fulfilled",
    "order/cancelled",
    "order/custom_fields_updated",
    "order/edited",
    "order/pending",
    "order/voided",
    "order/unpacked",
    "product/created",
    "product/updated",
    "product/deleted",
    "domain/updated",
    "theme/updated",
    "fulfillment/updated",
    "fulfillment_order/status_updated",
    "fulfillment_order/tracking_event_created",
    "fulfillment_order/tracking_event_updated",
    "fulfillment_order/tracking_event_deleted",
    "store/redact",
    "customers/redact",
    "customers/data_request",
];

/// Validates `{event, url}`; `Err` is the documented field-keyed 422 body.
///
/// Assumption: the docs refuse localhost/tiendanube/nuvemshop hosts and the
/// current pages require HTTPS; the sim accepts any `http(s)://` URL so tests
/// can receive notifications on 127.0.0.1.
pub fn parse_webhook(body: &Value) -> Result<(String, String), Value> {
    let event = body
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
    let mut errs: Vec<(&str, &str)> = Vec::new();
    let allowed = WEBHOOK_EVENTS.join(", ");
    let event_msg = format!("Invalid event specified. Events allowed: {allowed}");
    if !WEBHOOK_EVENTS.contains(&event) {
        errs.push(("event", &event_msg));
    }
    let url_ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if !url_ok {
        errs.push(("url", "invalid url specified"));
    }
    if errs.is_empty() {
        Ok((event.to_owned(), url.to_owned()))
    } else {
        Err(field_errors(&errs))
    }
}
