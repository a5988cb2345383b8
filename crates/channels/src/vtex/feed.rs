//! The Feed v3 queue polling reads (platforms.md §2 "Notifications"): ponte sets it up
//! when the channel is created or enabled, so that changes are queued from then on
//! (with the hook lost, or without a public URL, the feed is the only way in).
//!
//! `GET /api/orders/feed/config` (404: none); `POST /api/orders/feed/config
//! {filter, queue: {visibilityTimeoutInSeconds, MessageRetentionPeriodInSeconds}}`
//! creates or replaces it. The filter is the hook's ([`super::subscription`]); the
//! queue keeps what the account has, else visibility 240 s and retention 4 days (the
//! Feed v3 guide's example values). A feed with another filter (a `sales_channel`
//! change) is replaced; one with ponte's filter is left alone.

use super::client::VtexConnector;
use super::subscription::{wanted_filter, Filter};
use crate::{CallInfo, PlatformError, PlatformErrorKind, Subscribed, SubscriptionReport};
use reqwest::Method;
use serde_json::{json, Value};

const PATH: &str = "/api/orders/feed/config";
/// Seconds a read event stays hidden before it is handed out again.
const VISIBILITY_S: i64 = 240;
/// Seconds an uncommitted event is kept (4 days).
const RETENTION_S: i64 = 345_600;

/// The configuration body with ponte's filter and `queue` (default values when `None`).
pub(super) fn config_body(conn: &VtexConnector, queue: Option<&Value>) -> Value {
    let queue = queue.cloned().unwrap_or_else(|| {
        json!({"visibilityTimeoutInSeconds": VISIBILITY_S, "MessageRetentionPeriodInSeconds": RETENTION_S})
    });
    json!({"filter": wanted_filter(conn).to_json(), "queue": queue})
}

/// Makes the account's feed carry ponte's filter.
pub(super) async fn reconcile(conn: &VtexConnector) -> SubscriptionReport {
    let mut calls = Vec::new();
    let result = run(conn, &mut calls).await;
    SubscriptionReport { calls, result }
}

async fn run(conn: &VtexConnector, calls: &mut Vec<CallInfo>) -> Result<Subscribed, PlatformError> {
    let (info, body) = conn.call(Method::GET, PATH, None).await;
    calls.push(info);
    let current: Option<Value> = match body {
        Ok(b) => serde_json::from_slice(&b).ok().filter(Value::is_object),
        Err(e) if e.kind == PlatformErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let wanted = wanted_filter(conn);
    let change = match &current {
        Some(c) if Filter::read(&c["filter"]).as_ref() == Some(&wanted) => {
            return Ok(Subscribed {
                registered: vec!["feed".into()],
                changes: Vec::new(),
            })
        }
        Some(_) => "updated the feed filter",
        None => "configured the feed",
    };
    let queue = current
        .as_ref()
        .map(|c| &c["queue"])
        .filter(|q| q.is_object());
    let body = config_body(conn, queue);
    let (info, result) = conn.call(Method::POST, PATH, Some(&body)).await;
    calls.push(info);
    result?;
    Ok(Subscribed {
        registered: vec!["feed".into()],
        changes: vec![change.into()],
    })
}
