//! The Mercado Livre side of polling (addendum "Orders", "Notifications").
//!
//! - Part 0, every walk: `GET /orders/search?seller={seller_id}&order.date_last_updated.from={since}&sort=date_asc&offset=&limit=50`.
//!   ML reads the date to the hour only (ORD), so `since` is floored to its hour: a
//!   natural overlap. Search rows are whole orders; each one's billing data and
//!   forward shipment are read beside it ([`MlConnector::read_extras`]). ML keeps 12
//!   months and its seller search hides cancelled orders (ORD): a cancellation comes
//!   by notification or by re-reading a known order.
//! - Part 1, scheduled runs only ([`PollMode::Changes`]): `GET /missed_feeds?app_id=…&topic=orders_v2&offset=&limit=10`,
//!   the notifications ML failed to deliver; each `/orders/{id}` of this seller is read
//!   with [`MlConnector::read_raw`]. Entries are not acknowledged (they expire at ML;
//!   retention about 2 days, third-party note): the import is idempotent.
//!
//! A permanent answer for one order (404, unreadable) leaves it out as unreadable; any
//! other failure fails the page (retried by the engine).

use super::client::{encode, parse_raw, MlConnector};
use super::dto;
use super::map::{compose, text};
use crate::http_call::joined;
use crate::{CallInfo, PlatformError, PlatformErrorKind, PollCursor, PollMode, PollPage};
use crate::{PollResult, UnreadableOrder};
use chrono::{DateTime, Timelike, Utc};
use ponte_core::order::MappedOrder;
use serde::Deserialize;

/// Orders per search page (the documented example's `limit`).
const PER_PAGE: u32 = 50;
/// Missed notifications per page (the documented default).
const MISSED_PER_PAGE: u32 = 10;

/// Reads one page of a walk.
pub(super) async fn list(conn: &MlConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    match cursor.part {
        0 => search(conn, cursor).await,
        _ => missed(conn, cursor).await,
    }
}

/// The search query of a page.
pub(super) fn search_query(seller: &str, since: DateTime<Utc>, page: u32) -> String {
    let hour = since
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(since);
    let from = hour.format("%Y-%m-%dT%H:%M:%S%.3f-00:00").to_string();
    format!(
        "/orders/search?seller={seller}&order.date_last_updated.from={}&sort=date_asc&offset={}&limit={PER_PAGE}",
        encode(&from),
        page.saturating_sub(1).saturating_mul(PER_PAGE)
    )
}

async fn search(conn: &MlConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    let path = search_query(&conn.settings().seller_id, cursor.since, cursor.page);
    let (info, body) = conn.get_json(&path, &[]).await;
    let search = match body.and_then(|v| {
        dto::Search::deserialize(&v).map_err(|e| PlatformError::permanent(format!("search: {e}")))
    }) {
        Ok(s) => s,
        Err(e) => return (info, Err(e)),
    };
    let total = search.paging.total.as_u64();
    let seen = u64::from(cursor.page.saturating_sub(1)) * u64::from(PER_PAGE)
        + search.results.len() as u64;
    let more = !search.results.is_empty() && total.is_some_and(|t| seen < t);
    let mut orders = Vec::with_capacity(search.results.len());
    let mut extra = 0u32;
    for row in search.results {
        let id = text(&row["id"]).unwrap_or_default();
        let (calls, extras) = conn.read_extras(&id, &row).await;
        extra = extra.saturating_add(u32::try_from(calls.len()).unwrap_or(u32::MAX));
        match extras {
            Ok((b, s)) => orders.push(
                parse_raw(compose(row, b, s), conn.settings()).map_err(|e| unreadable(&id, e)),
            ),
            Err(e) => return (info, Err(e)),
        }
    }
    let next = if more {
        Some(PollCursor {
            page: cursor.page.saturating_add(1),
            ..cursor.clone()
        })
    } else if cursor.mode == PollMode::Changes {
        Some(PollCursor {
            part: 1,
            page: 1,
            since: cursor.origin,
            ..cursor.clone()
        })
    } else {
        None
    };
    (
        info,
        Ok(PollPage {
            orders,
            next,
            total,
            receipt: vec![],
            extra_requests: extra,
        }),
    )
}

async fn missed(conn: &MlConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    let path = format!(
        "/missed_feeds?app_id={}&topic=orders_v2&offset={}&limit={MISSED_PER_PAGE}",
        conn.app_id(),
        cursor
            .page
            .saturating_sub(1)
            .saturating_mul(MISSED_PER_PAGE)
    );
    let (info, body) = conn.get_json(&path, &[]).await;
    let feeds = match body.and_then(|v| {
        dto::MissedFeeds::deserialize(&v)
            .map_err(|e| PlatformError::permanent(format!("missed_feeds: {e}")))
    }) {
        Ok(f) => f,
        Err(e) => return (info, Err(e)),
    };
    let full = feeds.messages.len() >= MISSED_PER_PAGE as usize;
    let mut ids: Vec<String> = feeds
        .messages
        .iter()
        .filter(|m| text(&m.user_id).as_deref() == Some(conn.settings().seller_id.as_str()))
        .filter_map(|m| {
            let r = text(&m.resource)?;
            let id = r.strip_prefix("/orders/")?;
            super::client::order_id_ok(id).then(|| id.to_owned())
        })
        .collect();
    ids.sort();
    ids.dedup();
    let mut orders: Vec<Result<MappedOrder, UnreadableOrder>> = vec![];
    let mut extra = 0u32;
    for id in ids {
        let (calls, raw) = conn.read_raw(&id).await;
        extra = extra.saturating_add(u32::try_from(calls.len()).unwrap_or(u32::MAX));
        match raw.and_then(|r| parse_raw(r, conn.settings())) {
            Ok(o) => orders.push(Ok(o)),
            Err(e) if is_permanent(&e) => orders.push(Err(unreadable(&id, e))),
            Err(e) => return (joined(vec![info]), Err(e)),
        }
    }
    let next = full.then(|| PollCursor {
        page: cursor.page.saturating_add(1),
        ..cursor.clone()
    });
    (
        info,
        Ok(PollPage {
            orders,
            next,
            total: None,
            receipt: vec![],
            extra_requests: extra,
        }),
    )
}

fn is_permanent(e: &PlatformError) -> bool {
    matches!(
        e.kind,
        PlatformErrorKind::NotFound | PlatformErrorKind::Permanent
    )
}

fn unreadable(id: &str, e: PlatformError) -> UnreadableOrder {
    UnreadableOrder {
        external_id: Some(id.to_owned()),
        message: e.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_query_floors_to_the_hour() {
        let since = DateTime::parse_from_rfc3339("2026-03-01T10:42:17.5Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            search_query("7", since, 3),
            "/orders/search?seller=7&order.date_last_updated.from=2026-03-01T10%3A00%3A00.000-00%3A00&sort=date_asc&offset=100&limit=50"
        );
    }
}
