//! The VTEX side of polling (platforms.md §2 "Notifications", "Read orders").
//!
//! - [`PollMode::Changes`] (the scheduled safety net) reads **Feed v3**:
//!   `GET /api/orders/feed?maxlot=10` returns up to 10 change events (`orderId`,
//!   `handle`, ...); each distinct order is fetched with `GET /api/oms/pvt/orders/{id}`
//!   and the page carries the events' handles as its receipt. The engine stores the
//!   page, then calls [`commit`] (`POST /api/orders/feed {"handles": [...]}`): an event
//!   whose import was not stored is never committed and comes back after the queue's
//!   visibility timeout (events may repeat; imports are idempotent). A full lot means
//!   more may wait: the walk goes on until a lot comes back short. The feed is set up
//!   when the channel is created or enabled (`feed.rs`); one missing anyway (404) is
//!   configured and the run ends: changes before the feed existed come by a manual
//!   sync.
//! - [`PollMode::Backfill`] (a manual sync with `since`) walks
//!   `GET /api/oms/pvt/orders?f_creationDate=creationDate:[since TO now+1d]&orderBy=creationDate,asc`
//!   (30 per page; the API serves at most 30 pages, so after each full page the walk
//!   restarts at the page's last `creationDate`, re-reading that instant) and fetches
//!   every listed order: list rows carry no items. The list only filters by creation,
//!   so a backfill reads the orders *created* since `since`.
//!
//! Orders of another sales channel than the channel's `sales_channel` are left out
//! (their events committed). A page whose order fetches fail with anything but a
//! permanent answer (5xx, 429, auth) fails as a whole, uncommitted: the engine retries
//! or fails the run, and the events come back.
//!
//! A page makes up to 11 (feed) or 31 (backfill) calls, fetches 4 at a time: the engine
//! takes one request token before it and charges the fetches ([`PollPage::extra_requests`])
//! after, so the channel's budget (default 20/s, below the 6000/min documented for the
//! order GET) holds over time; a single page may run ahead of it by its fetches.

use super::client::{parse_order, VtexConnector};
use crate::{CallInfo, PlatformError, PlatformErrorKind, PollCursor, PollMode, PollPage};
use crate::{PollResult, UnreadableOrder};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::stream::{self, StreamExt};
use ponte_core::order::MappedOrder;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

/// Events per feed read (the documented maximum).
const MAX_LOT: usize = 10;
/// Orders per listing page in a backfill.
const PER_PAGE: usize = 30;
/// Order fetches in flight per page.
const FETCHES: usize = 4;

/// One feed event (fixture `vtex/feed_items_response.json`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedEvent {
    handle: String,
    order_id: String,
}

/// Reads one page of a walk.
pub(super) async fn list(conn: &VtexConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    match cursor.mode {
        PollMode::Changes => read_feed(conn, cursor).await,
        PollMode::Backfill => read_listing(conn, cursor).await,
    }
}

/// Commits the handles of a stored page.
pub(super) async fn commit(
    conn: &VtexConnector,
    receipt: &[String],
) -> Option<(CallInfo, Result<(), PlatformError>)> {
    if receipt.is_empty() {
        return None;
    }
    let body = json!({ "handles": receipt });
    let (info, result) = conn
        .call(Method::POST, "/api/orders/feed", Some(&body))
        .await;
    Some((info, result.map(|_| ())))
}

async fn read_feed(conn: &VtexConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    let path = format!("/api/orders/feed?maxlot={MAX_LOT}");
    let (info, body) = conn.call(Method::GET, &path, None).await;
    let body = match body {
        Ok(b) => b,
        Err(e) if e.kind == PlatformErrorKind::NotFound => {
            return configure_feed(conn, info).await;
        }
        Err(e) => return (info, Err(e)),
    };
    let events: Vec<FeedEvent> = match serde_json::from_slice(&body) {
        Ok(ev) => ev,
        Err(e) => return (info, Err(unreadable(format!("feed: {e}")))),
    };
    let full = events.len() >= MAX_LOT;
    let mut ids: Vec<String> = events.iter().map(|e| e.order_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let (fetched, fetches) = match fetch_all(conn, &ids).await {
        Ok(f) => f,
        Err(e) => return (info, Err(e)),
    };
    let receipt = events.into_iter().map(|e| e.handle).collect();
    let page = PollPage {
        orders: fetched,
        next: full.then(|| PollCursor {
            page: cursor.page.saturating_add(1),
            ..cursor.clone()
        }),
        total: None,
        receipt,
        extra_requests: fetches,
    };
    (info, Ok(page))
}

/// Configures the feed after a 404; the walk ends (nothing was queued before).
async fn configure_feed(conn: &VtexConnector, first: CallInfo) -> (CallInfo, PollResult) {
    tracing::info!(
        account = %conn.settings().account,
        "VTEX feed not configured: configuring it"
    );
    let body = super::feed::config_body(conn, None);
    let (info, result) = conn
        .call(Method::POST, "/api/orders/feed/config", Some(&body))
        .await;
    let info = CallInfo {
        request: format!("{} (after {})", info.request, first.request),
        ..info
    };
    // The feed read that answered 404 was the listing call; this is one more.
    let page = result.map(|_| PollPage {
        orders: Vec::new(),
        next: None,
        total: None,
        receipt: Vec::new(),
        extra_requests: 1,
    });
    (info, page)
}

/// A listing row: only the id and creation date are used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    order_id: String,
    creation_date: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Listing {
    list: Vec<Row>,
}

async fn read_listing(conn: &VtexConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    let path = format!("/api/oms/pvt/orders?{}", query(cursor, Utc::now()));
    let (info, body) = conn.call(Method::GET, &path, None).await;
    let rows = match body.and_then(|b| {
        serde_json::from_slice::<Listing>(&b).map_err(|e| unreadable(format!("order list: {e}")))
    }) {
        Ok(l) => l.list,
        Err(e) => return (info, Err(e)),
    };
    let ids: Vec<String> = rows.iter().map(|r| r.order_id.clone()).collect();
    let (fetched, fetches) = match fetch_all(conn, &ids).await {
        Ok(f) => f,
        Err(e) => return (info, Err(e)),
    };
    let last = rows
        .last()
        .and_then(|r| r.creation_date.as_deref())
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc));
    let next = (rows.len() >= PER_PAGE).then(|| match last {
        Some(last) if last > cursor.since => PollCursor {
            since: last,
            page: 1,
            ..cursor.clone()
        },
        _ => PollCursor {
            page: cursor.page.saturating_add(1),
            ..cursor.clone()
        },
    });
    let page = PollPage {
        orders: fetched,
        next,
        total: None,
        receipt: Vec::new(),
        extra_requests: fetches,
    };
    (info, Ok(page))
}

/// The listing query of a backfill page.
fn query(cursor: &PollCursor, now: DateTime<Utc>) -> String {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let range = format!(
        "creationDate:[{} TO {}]",
        ts(cursor.since),
        ts(now + chrono::Duration::days(1))
    );
    format!(
        "f_creationDate={}&orderBy=creationDate,asc&page={}&per_page={PER_PAGE}",
        super::client::encode(&range),
        cursor.page
    )
}

/// The orders of a page, and the requests fetching them took.
type Fetched = (Vec<Result<MappedOrder, UnreadableOrder>>, u32);

/// Fetches orders 4 at a time. A permanent answer (404, unreadable) leaves that order
/// out as unreadable; any other failure fails the page. Orders of another sales channel
/// are dropped.
async fn fetch_all(conn: &VtexConnector, ids: &[String]) -> Result<Fetched, PlatformError> {
    let requests = ids
        .iter()
        .filter(|id| super::client::order_id_ok(id))
        .count();
    let results: Vec<(String, Result<MappedOrder, PlatformError>)> =
        stream::iter(ids.iter().cloned())
            .map(|id| async move {
                let path = format!("/api/oms/pvt/orders/{id}");
                let (_, body) = if super::client::order_id_ok(&id) {
                    conn.call(Method::GET, &path, None).await
                } else {
                    let (info, e) = super::client::refused(&path, format!("bad order id {id}"));
                    (info, Err(e))
                };
                let order = body.and_then(|b| parse_order(&b, conn.settings()));
                (id, order)
            })
            .buffered(FETCHES)
            .collect()
            .await;
    let mut out = Vec::with_capacity(results.len());
    for (id, r) in results {
        match r {
            Ok(o) if in_sales_channel(conn, &o) => out.push(Ok(o)),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind,
                    PlatformErrorKind::NotFound | PlatformErrorKind::Permanent
                ) =>
            {
                out.push(Err(UnreadableOrder {
                    external_id: Some(id),
                    message: e.message,
                }))
            }
            Err(e) => return Err(e),
        }
    }
    Ok((out, u32::try_from(requests).unwrap_or(u32::MAX)))
}

fn in_sales_channel(conn: &VtexConnector, order: &MappedOrder) -> bool {
    let Some(want) = &conn.settings().sales_channel else {
        return true;
    };
    let has = match order.raw.get("salesChannel") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => return true,
    };
    &has == want
}

fn unreadable(message: String) -> PlatformError {
    PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_query_is_encoded() {
        let since = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"));
        let c = PollCursor {
            page: 2,
            ..PollCursor::start_as(PollMode::Backfill, since)
        };
        assert_eq!(
            query(&c, since),
            "f_creationDate=creationDate%3A%5B2026-01-01T00%3A00%3A00.000Z%20TO%202026-01-02T00%3A00%3A00.000Z%5D&orderBy=creationDate,asc&page=2&per_page=30"
        );
    }
}
