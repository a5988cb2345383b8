//! Nuvemshop webhook registrations: ponte registers one webhook per order event it
//! imports ([`ORDER_EVENTS`]) at the channel's URL, and removes them.
//!
//! Calls (`TN:resources/webhook.md`, platforms.md §1):
//! - `GET /webhooks?per_page=200[&since_id=N]`: the listing takes `page`, `per_page`
//!   and `since_id`; it is walked by `since_id` (the largest id seen) until a page
//!   comes back short (fewer than 200 items) or brings no new id. Assumption: the
//!   listing is in ascending id order, as the documented example is; 200 per page as
//!   for orders (the webhook page gives no maximum). A 404 "Last page is 0" (observed
//!   for empty order listings) reads as an empty page.
//! - `POST /webhooks {event, url}` creates, `PUT /webhooks/{id} {event, url}` moves a
//!   stale one to the current URL, `DELETE /webhooks/{id}` removes.
//!
//! Whose a registration is:
//! - with a target, a webhook whose URL ends with the target's `path` is this
//!   channel's (under the current or an older public URL); every other webhook is left
//!   alone. Per event, a webhook at exactly the target URL is kept, else a stale one is
//!   moved with PUT, else one is created; further ones of the event (duplicates, stale
//!   ones) and this channel's webhooks for events ponte no longer imports are deleted.
//! - removing deletes every webhook whose URL ends with the target's `path`, whatever
//!   its event or host; other channels' and other integrations' webhooks stay (and
//!   Nuvemshop lists only the calling app's webhooks anyway).

use super::client::{rate_limit_wait, NuvemshopConnector};
use super::webhook::ORDER_EVENTS;
use crate::http_call::send;
use crate::{
    CallInfo, HookTarget, HookWant, PlatformError, PlatformErrorKind, Subscribed,
    SubscriptionReport,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Webhooks asked per listing page.
const PER_PAGE: usize = 200;

/// Listing pages read at most (10 000 webhooks) before giving up: acting on part of
/// the list could create duplicates.
const MAX_PAGES: usize = 50;

/// One registered webhook.
#[derive(Debug, Clone)]
struct Webhook {
    id: u64,
    event: String,
    url: String,
}

/// Makes the store's webhooks for this channel what `want` says.
pub(super) async fn reconcile(
    conn: &NuvemshopConnector,
    target: &HookTarget,
    want: HookWant,
) -> SubscriptionReport {
    let mut calls = Vec::new();
    let result = match want {
        HookWant::Registered => register(conn, target, &mut calls).await,
        HookWant::Removed => remove(conn, target, &mut calls).await,
    };
    SubscriptionReport { calls, result }
}

async fn register(
    conn: &NuvemshopConnector,
    target: &HookTarget,
    calls: &mut Vec<CallInfo>,
) -> Result<Subscribed, PlatformError> {
    if target.path.is_empty() || !target.url.ends_with(&target.path) {
        return Err(PlatformError::permanent(format!(
            "webhook URL {} does not end with the channel path {}",
            target.url, target.path
        )));
    }
    let hooks = list(conn, calls).await?;
    let ours: Vec<&Webhook> = hooks
        .iter()
        .filter(|h| h.url.ends_with(&target.path))
        .collect();
    let mut out = Subscribed::default();
    for event in ORDER_EVENTS {
        let mut mine: Vec<&Webhook> = ours.iter().copied().filter(|h| h.event == event).collect();
        // The one to keep goes first: at the target URL, else the oldest stale one.
        mine.sort_by_key(|h| (h.url != target.url, h.id));
        let mut rest = mine.iter();
        match rest.next() {
            Some(h) if h.url == target.url => {}
            Some(h) => {
                let path = format!("/webhooks/{}", h.id);
                let body = json!({"event": event, "url": target.url});
                call(conn, Method::PUT, &path, Some(&body), calls).await?;
                out.changes.push(format!(
                    "moved webhook {} ({event}) to the current URL",
                    h.id
                ));
            }
            None => {
                let body = json!({"event": event, "url": target.url});
                call(conn, Method::POST, "/webhooks", Some(&body), calls).await?;
                out.changes.push(format!("created {event}"));
            }
        }
        out.registered.push(event.to_owned());
        for h in rest {
            let what = if h.url == target.url {
                "duplicate"
            } else {
                "stale"
            };
            delete(conn, h, calls).await?;
            out.changes
                .push(format!("deleted {what} webhook {} ({event})", h.id));
        }
    }
    for h in ours
        .iter()
        .filter(|h| !ORDER_EVENTS.contains(&h.event.as_str()))
    {
        delete(conn, h, calls).await?;
        out.changes.push(format!(
            "deleted webhook {} ({}: not imported)",
            h.id, h.event
        ));
    }
    Ok(out)
}

async fn remove(
    conn: &NuvemshopConnector,
    target: &HookTarget,
    calls: &mut Vec<CallInfo>,
) -> Result<Subscribed, PlatformError> {
    if target.path.is_empty() {
        return Err(PlatformError::permanent("no channel path to remove".into()));
    }
    let hooks = list(conn, calls).await?;
    let mut out = Subscribed::default();
    for h in hooks.iter().filter(|h| h.url.ends_with(&target.path)) {
        delete(conn, h, calls).await?;
        out.changes
            .push(format!("deleted webhook {} ({})", h.id, h.event));
    }
    Ok(out)
}

/// Every webhook of the store (for this app), walking the listing by `since_id`.
async fn list(
    conn: &NuvemshopConnector,
    calls: &mut Vec<CallInfo>,
) -> Result<Vec<Webhook>, PlatformError> {
    let mut all: BTreeMap<u64, Webhook> = BTreeMap::new();
    let mut since: Option<u64> = None;
    for _ in 0..MAX_PAGES {
        let path = match since {
            None => format!("/webhooks?per_page={PER_PAGE}"),
            Some(s) => format!("/webhooks?per_page={PER_PAGE}&since_id={s}"),
        };
        let (info, body) = send(
            conn.request(Method::GET, &path),
            format!("GET {path}"),
            rate_limit_wait,
        )
        .await;
        let page = match body {
            Ok(b) => read_page(&b)?,
            Err(e) if is_empty_answer(&e, &info) => Vec::new(),
            Err(e) => {
                calls.push(info);
                return Err(e);
            }
        };
        calls.push(info);
        let full = page.len() >= PER_PAGE;
        let before = all.len();
        let max = page.iter().map(|h| h.id).max();
        for h in page {
            all.insert(h.id, h);
        }
        match max {
            Some(m) if full && all.len() > before && since.is_none_or(|s| m > s) => {
                since = Some(m);
            }
            _ => return Ok(all.into_values().collect()),
        }
    }
    Err(PlatformError::permanent(format!(
        "more than {} webhooks listed; not changing any",
        MAX_PAGES * PER_PAGE
    )))
}

/// Reads a listing page: `[{id, event, url, ...}]`. An item without a numeric id, an
/// event or a URL is not one ponte can manage and is skipped.
fn read_page(body: &[u8]) -> Result<Vec<Webhook>, PlatformError> {
    let items: Vec<Value> = serde_json::from_slice(body)
        .map_err(|e| PlatformError::permanent(format!("unreadable webhook list: {e}")))?;
    Ok(items
        .iter()
        .filter_map(|v| {
            let id = match &v["id"] {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }?;
            Some(Webhook {
                id,
                event: v["event"].as_str()?.to_owned(),
                url: v["url"].as_str()?.to_owned(),
            })
        })
        .collect())
}

/// The observed answer to a listing with no result: 404 "Last page is 0".
fn is_empty_answer(e: &PlatformError, info: &CallInfo) -> bool {
    e.kind == PlatformErrorKind::NotFound
        && info
            .response
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .is_some_and(|v| v["description"] == "Last page is 0")
}

async fn delete(
    conn: &NuvemshopConnector,
    h: &Webhook,
    calls: &mut Vec<CallInfo>,
) -> Result<(), PlatformError> {
    call(
        conn,
        Method::DELETE,
        &format!("/webhooks/{}", h.id),
        None,
        calls,
    )
    .await
}

/// One write call, recorded in `calls`.
async fn call(
    conn: &NuvemshopConnector,
    method: Method,
    path: &str,
    body: Option<&Value>,
    calls: &mut Vec<CallInfo>,
) -> Result<(), PlatformError> {
    let label = format!("{method} {path}");
    let mut req = conn.request(method, path);
    if let Some(b) = body {
        req = req.json(b);
    }
    let (info, result) = send(req, label, rate_limit_wait).await;
    calls.push(info);
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_leniently() {
        let page = read_page(
            br#"[{"id":5,"event":"order/paid","url":"u"},{"id":"6","event":"e","url":"v"},{"event":"x"}]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.iter().map(|h| h.id).collect::<Vec<_>>(), [5, 6]);
        assert!(read_page(b"{}").is_err());
    }
}
