//! The Americanas side of polling (addendum "4. SkyHub / Americanas" "Queue").
//!
//! - [`PollMode::Changes`] (the scheduled run) consumes the **order queue**: up to
//!   [`QUEUE_LOT`] calls to `GET /queues/orders`, each answering **one** full order
//!   (new or updated; `status.code`/`type` tell which state it is in), until the queue
//!   answers empty. Empty is a `204 No Content` or a 2xx whose body is empty, `null`,
//!   `{}` or has no `code` (assumption: the material names no empty answer). The page's
//!   receipt is the codes read; the engine stores the page, then [`delete_from_queue`]
//!   calls `DELETE /queues/orders/{code}` for each. An order not deleted (a crash, a
//!   failed DELETE, an order ponte could not read) comes back after 5 minutes and is
//!   imported again idempotently. While the queue keeps answering, the page says
//!   there is more ([`PollPage::next`]): one scheduled run drains the queue at the
//!   channel's budget, and the task interval is the idle pace. A failure after some
//!   orders were read returns those (the next page call meets the failure again and
//!   the engine retries or ends the run); a failure on the first call fails the page.
//! - [`PollMode::Backfill`] (a manual sync with `since`) walks
//!   `GET /orders?page=&per_page=` ([`PER_PAGE`] per page, paced to 1/s by the
//!   connector) and keeps orders whose `updated_at` (else `placed_at`) is at or after
//!   `since`. No date filter is documented for `GET /orders` and neither is its sort
//!   order, so the walk reads every page until one comes back short (or `total` is
//!   reached).

use super::client::{encode, json_of, parse_order, AmericanasConnector};
use super::dto;
use super::map::{order_code_ok, text, time};
use crate::http_call::joined;
use crate::{CallInfo, PlatformError, PlatformErrorKind, PollCursor, PollMode, PollPage};
use crate::{PollResult, UnreadableOrder};
use ponte_core::order::MappedOrder;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

/// Queue reads per page. The engine charges a page's reads to the channel budget
/// after it (burst 3 by default), so the platform may see up to burst + lot reads
/// within a second: 3 + 5 stays within the queue's 9/s. The page's deletes go to
/// `DELETE /queues/orders`, limited apart (9/s per endpoint and method), one per read.
pub const QUEUE_LOT: u32 = 5;
/// Orders per listing page of a backfill (assumption: the SDK's examples use 50).
pub const PER_PAGE: u32 = 50;

/// Reads one page of a walk.
pub(super) async fn list(
    conn: &AmericanasConnector,
    cursor: &PollCursor,
) -> (CallInfo, PollResult) {
    match cursor.mode {
        PollMode::Changes => read_queue(conn, cursor).await,
        PollMode::Backfill => read_listing(conn, cursor).await,
    }
}

/// What one queue read gave.
enum Next {
    /// An order JSON.
    Order(Value),
    /// The queue is empty.
    Empty,
}

fn queue_answer(status: Option<u16>, body: &[u8]) -> Result<Next, PlatformError> {
    if status == Some(204) || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Next::Empty);
    }
    let v = json_of(body)?;
    if v.get("code").and_then(text).is_none() {
        return Ok(Next::Empty);
    }
    Ok(Next::Order(v))
}

async fn read_queue(conn: &AmericanasConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    let mut first: Option<CallInfo> = None;
    let mut read: Vec<Value> = vec![];
    let mut calls = 0u32;
    let mut drained = false;
    while calls < QUEUE_LOT {
        let (info, r) = conn.call(Method::GET, "/queues/orders", None).await;
        calls += 1;
        let status = info.status;
        first.get_or_insert(info);
        match r.and_then(|(_, body)| queue_answer(status, &body)) {
            Ok(Next::Order(v)) => read.push(v),
            Ok(Next::Empty) => {
                drained = true;
                break;
            }
            Err(e) if read.is_empty() => {
                let info = first.unwrap_or_else(|| joined(vec![]));
                return (info, Err(e));
            }
            Err(e) => {
                tracing::info!(error = %e, "americanas queue read failed mid-lot; keeping what was read");
                break;
            }
        }
    }
    // An order updated while handed out may come twice in a lot: the last copy wins.
    let mut orders: Vec<(String, Value)> = vec![];
    let mut unreadable = vec![];
    for v in read {
        match v.get("code").and_then(text) {
            Some(code) if order_code_ok(&code) => {
                orders.retain(|(c, _)| *c != code);
                orders.push((code, v));
            }
            code => unreadable.push(Err(UnreadableOrder {
                external_id: code,
                message: "queue answer with an invalid order code".into(),
            })),
        }
    }
    let mut receipt = vec![];
    let mut mapped: Vec<Result<MappedOrder, UnreadableOrder>> = unreadable;
    for (code, v) in orders {
        match parse_order(v, conn.settings()) {
            Ok(o) => {
                receipt.push(code);
                mapped.push(Ok(o));
            }
            // Not deleted: it comes back in 5 minutes (after a fix, it imports).
            Err(e) => mapped.push(Err(UnreadableOrder {
                external_id: Some(code),
                message: e.message,
            })),
        }
    }
    let page = PollPage {
        orders: mapped,
        next: (!drained).then(|| PollCursor {
            page: cursor.page.saturating_add(1),
            ..cursor.clone()
        }),
        total: None,
        receipt,
        extra_requests: calls.saturating_sub(1),
    };
    (first.unwrap_or_else(|| joined(vec![])), Ok(page))
}

/// Deletes stored orders from the queue, one `DELETE /queues/orders/{code}` each. A
/// code already gone (404) counts as deleted; a failure leaves that order to come
/// back (its import is idempotent).
pub(super) async fn delete_from_queue(
    conn: &AmericanasConnector,
    receipt: &[String],
) -> Option<(CallInfo, Result<(), PlatformError>)> {
    if receipt.is_empty() {
        return None;
    }
    let mut infos = vec![];
    let mut result = Ok(());
    for code in receipt {
        let path = format!("/queues/orders/{}", encode(code));
        let (info, r) = conn.call(Method::DELETE, &path, None).await;
        infos.push(info);
        match r {
            Ok(_) => {}
            Err(e) if e.kind == PlatformErrorKind::NotFound => {}
            Err(e) => {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
    }
    Some((joined(infos), result))
}

async fn read_listing(conn: &AmericanasConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    let path = format!("/orders?page={}&per_page={PER_PAGE}", cursor.page);
    let (info, r) = conn.call(Method::GET, &path, None).await;
    let listing = match r.and_then(|(_, b)| {
        let v = json_of(&b)?;
        dto::Listing::deserialize(&v)
            .map_err(|e| PlatformError::permanent(format!("order list: {e}")))
    }) {
        Ok(l) => l,
        Err(e) => return (info, Err(e)),
    };
    let total = listing.total.as_u64();
    let seen = u64::from(cursor.page.saturating_sub(1)) * u64::from(PER_PAGE)
        + listing.orders.len() as u64;
    let more = listing.orders.len() >= PER_PAGE as usize && total.is_none_or(|t| seen < t);
    let orders = listing
        .orders
        .into_iter()
        .filter(|o| {
            time(&o["updated_at"])
                .or_else(|| time(&o["placed_at"]))
                .is_none_or(|t| t >= cursor.since)
        })
        .map(|o| {
            let code = text(&o["code"]);
            parse_order(o, conn.settings()).map_err(|e| UnreadableOrder {
                external_id: code,
                message: e.message,
            })
        })
        .collect();
    let page = PollPage {
        orders,
        next: more.then(|| PollCursor {
            page: cursor.page.saturating_add(1),
            ..cursor.clone()
        }),
        total,
        receipt: vec![],
        extra_requests: 0,
    };
    (info, Ok(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_queue_answers() {
        assert!(matches!(queue_answer(Some(204), b""), Ok(Next::Empty)));
        assert!(matches!(queue_answer(Some(200), b"  "), Ok(Next::Empty)));
        assert!(matches!(queue_answer(Some(200), b"{}"), Ok(Next::Empty)));
        assert!(matches!(queue_answer(Some(200), b"null"), Ok(Next::Empty)));
        assert!(matches!(
            queue_answer(Some(200), br#"{"code":"Lojas Americanas-1-01"}"#),
            Ok(Next::Order(_))
        ));
        assert!(queue_answer(Some(200), b"<html>").is_err());
    }
}
