//! Polling safety net: a walk over `GET /{store_id}/orders` by `updated_at`, one
//! page per call ([`crate::PollCursor`] carries the state between calls).
//!
//! Query: `updated_at_min` (ISO 8601, inclusive, Nuvemshop's own
//! `2026-01-01T10:00:00+0000` form, truncated to the second), `status=any`, `page`,
//! `per_page=200` (the documented maximum).
//!
//! Parts: the documented default `payment_status=any` "means authorized, pending
//! and paid orders", which hides refunded, voided and abandoned ones (all map to
//! Cancelled), so a walk has four parts: 0 = the default filter, 1 =
//! `payment_status=refunded`, 2 = `voided`, 3 = `abandoned`. Each part starts at
//! the walk's `origin`, page 1.
//!
//! After a page (`since` = the cursor's, truncated to the second):
//! - fewer than `per_page` items, a `Link` header without `rel="next"`, or the
//!   empty answer (404 "Last page is 0", observed behaviour) end the part: next is
//!   the next part from `origin`, or `None` after the last part;
//! - else, if the page is sorted by `updated_at` ascending, its last item is newer
//!   than `since` and (from page 2 on) its first item is at `since`, the walk jumps:
//!   `since` = the last item's `updated_at`, page 1 (keyset). `updated_at_min` is
//!   inclusive, so the orders of that second are read again (the import is
//!   idempotent). The jump keeps the walk right when orders change during it (a
//!   changed order moves to the end instead of shifting the pages) and keeps each
//!   query far from the 10,000-result cap of `GET /orders`;
//! - else (the whole page is in `since`'s second, the page is not sorted, or an
//!   item's `updated_at` is unknown) the next page of the same query: page + 1.
//!
//! Assumption (unverified for production): with `updated_at_min` the API sorts by
//! `(updated_at, id)` ascending. The docs state no order; the simulator does this.
//! Each page is checked, and an unsorted page falls back to offset paging; the
//! "first item at `since`" condition keeps that fallback for the rest of the part
//! (a page 2+ reached by the same-second rule starts at `since`; one reached by the
//! fallback almost never does). Offset paging inside one second can miss an order
//! if others of that second change during the walk; a next walk starting at or
//! before that second reads it.

use super::client::{rate_limit_wait, read_order, NuvemshopConnector};
use super::map::text;
use super::settings::NuvemshopSettings;
use crate::http_call::send_with_headers;
use crate::{CallInfo, PlatformError, PlatformErrorKind};
use crate::{PollCursor, PollPage, PollResult, UnreadableOrder};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use reqwest::header::HeaderMap;
use std::time::Duration;

/// Page size: the documented maximum.
const PER_PAGE: usize = 200;

/// The `payment_status` filter of each part (`None`: the default, `any`).
const PARTS: [Option<&str>; 4] = [None, Some("refunded"), Some("voided"), Some("abandoned")];

/// One page of the walk at `cursor`.
pub(super) async fn list(c: &NuvemshopConnector, cursor: &PollCursor) -> (CallInfo, PollResult) {
    let Some(payment) = PARTS.get(cursor.part as usize).filter(|_| cursor.page >= 1) else {
        let info = CallInfo {
            request: "GET /orders".into(),
            status: None,
            duration: Duration::ZERO,
            response: None,
        };
        let err = PlatformError {
            kind: PlatformErrorKind::Permanent,
            status: None,
            message: format!(
                "no Nuvemshop listing at part {} page {}",
                cursor.part, cursor.page
            ),
        };
        return (info, Err(err));
    };
    let path = format!("/orders?{}", query(cursor, *payment));
    let (info, answer) = send_with_headers(
        c.request(reqwest::Method::GET, &path),
        format!("GET {path}"),
        rate_limit_wait,
    )
    .await;
    let result = match answer {
        Ok((headers, body)) => read_page(&body, &headers, cursor, c.settings()),
        Err(e) if is_empty_answer(&e, &info) => Ok(PollPage {
            orders: Vec::new(),
            next: next_part(cursor),
            total: Some(0),
            receipt: Vec::new(),
            extra_requests: 0,
        }),
        Err(e) => Err(e),
    };
    (info, result)
}

/// The query string (no secrets; also the call's label).
fn query(cursor: &PollCursor, payment: Option<&str>) -> String {
    // Nuvemshop's timestamp form; `+` must be encoded in a query string.
    let min = second(cursor.since)
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string()
        .replace('+', "%2B");
    // `status=any` is documented; passed explicitly in case the default differs.
    let mut q = format!("updated_at_min={min}&status=any");
    if let Some(p) = payment {
        q.push_str("&payment_status=");
        q.push_str(p);
    }
    q.push_str(&format!("&page={}&per_page={PER_PAGE}", cursor.page));
    q
}

/// Truncated to the second (the platform's resolution; `updated_at_min` is
/// inclusive, so truncating reads a little more, never less).
fn second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::seconds(1)).unwrap_or(t)
}

/// The observed answer to a listing with no result: 404
/// `{"code":404,"message":"Not Found","description":"Last page is 0"}`.
fn is_empty_answer(e: &PlatformError, info: &CallInfo) -> bool {
    e.kind == PlatformErrorKind::NotFound
        && info
            .response
            .as_deref()
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .is_some_and(|v| v["description"] == "Last page is 0")
}

/// Reads a 2xx listing answer: the orders (each mapped on its own), the next
/// cursor and `X-Total-Count`.
fn read_page(
    body: &[u8],
    headers: &HeaderMap,
    cursor: &PollCursor,
    settings: &NuvemshopSettings,
) -> PollResult {
    let items = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(_) => return Err(unreadable_list("not a JSON array".into())),
        Err(e) => return Err(unreadable_list(e.to_string())),
    };
    let count = items.len();
    let orders: Vec<_> = items
        .into_iter()
        .map(|item| {
            let external_id = text(&item["id"]);
            read_order(item, settings).map_err(|message| UnreadableOrder {
                external_id,
                message,
            })
        })
        .collect();
    let updated: Vec<Option<DateTime<Utc>>> = orders
        .iter()
        .map(|o| o.as_ref().ok().and_then(|o| o.data.platform_updated_at))
        .collect();
    let total = headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let next = if count < PER_PAGE || !has_next(headers) {
        next_part(cursor)
    } else {
        Some(next_in_part(cursor, &updated))
    };
    Ok(PollPage {
        orders,
        next,
        total,
        receipt: Vec::new(),
        extra_requests: 0,
    })
}

fn unreadable_list(m: String) -> PlatformError {
    PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable order list: {m}"),
    }
}

/// False only when a `Link` header is present and has no `rel="next"` (without a
/// `Link` header, a full page may have a successor).
fn has_next(headers: &HeaderMap) -> bool {
    let links: Vec<&str> = headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    links.is_empty()
        || links.iter().flat_map(|l| l.split(',')).any(|link| {
            link.split(';').skip(1).any(|param| {
                let (k, v) = param.split_once('=').unwrap_or((param, ""));
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
        })
}

/// After a full page with a successor: jump to the last `updated_at` when the page
/// allows it (see the module doc), else the next page of the same query.
fn next_in_part(cursor: &PollCursor, updated: &[Option<DateTime<Utc>>]) -> PollCursor {
    let since = second(cursor.since);
    let times: Option<Vec<DateTime<Utc>>> = updated.iter().copied().collect();
    let jump = times.and_then(|t| {
        let sorted = t.windows(2).all(|w| w[0] <= w[1]);
        let first = *t.first()?;
        let last = *t.last()?;
        (sorted && last > since && (cursor.page == 1 || first <= since)).then_some(last)
    });
    match jump {
        Some(last) => PollCursor {
            since: last,
            page: 1,
            ..cursor.clone()
        },
        None => PollCursor {
            page: cursor.page.saturating_add(1),
            ..cursor.clone()
        },
    }
}

/// The start of the next part (from the walk's origin), or `None` after the last.
fn next_part(cursor: &PollCursor) -> Option<PollCursor> {
    let part = cursor.part + 1;
    ((part as usize) < PARTS.len()).then_some(PollCursor {
        since: cursor.origin,
        page: 1,
        part,
        ..cursor.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn settings() -> NuvemshopSettings {
        NuvemshopSettings::parse(&serde_json::json!({"store_id": "1"}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn item(id: u64, updated: &str) -> serde_json::Value {
        serde_json::json!({"id": id, "payment_status": "paid", "updated_at": updated})
    }

    fn page_of(items: &[serde_json::Value]) -> Vec<u8> {
        serde_json::to_vec(items).unwrap_or_else(|e| panic!("{e}"))
    }

    fn read(body: &[u8], headers: &HeaderMap, cursor: &PollCursor) -> PollPage {
        read_page(body, headers, cursor, &settings()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_unreadable_item_fails_alone() {
        let body = page_of(&[
            item(1, "2026-01-01T10:00:00+0000"),
            serde_json::json!({"id": 2, "products": "not a list"}),
            serde_json::json!({"products": []}),
            item(3, "2026-01-01T10:00:01+0000"),
        ]);
        let cursor = PollCursor::start(at("2026-01-01T00:00:00Z"));
        let p = read(&body, &HeaderMap::new(), &cursor);
        assert_eq!(p.orders.len(), 4);
        assert_eq!(
            p.orders[0].as_ref().map(|o| o.data.external_id.as_str()),
            Ok("1")
        );
        let bad = p.orders[1]
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("item 2 read"));
        assert_eq!(bad.external_id.as_deref(), Some("2"));
        assert!(!bad.message.is_empty());
        let bad = p.orders[2]
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("item 3 read"));
        assert_eq!(bad.external_id, None);
        assert_eq!(
            p.orders[3].as_ref().map(|o| o.data.external_id.as_str()),
            Ok("3")
        );
        assert_eq!(p.total, None);
        // a short page ends the part
        let next = p.next.unwrap_or_else(|| panic!("part 1 follows"));
        assert_eq!((next.part, next.page, next.since), (1, 1, cursor.origin));
    }

    #[test]
    fn a_body_that_is_not_a_list_is_an_error() {
        let cursor = PollCursor::start(at("2026-01-01T00:00:00Z"));
        for body in [&b"{}"[..], b"nope", b"\xff"] {
            let e = read_page(body, &HeaderMap::new(), &cursor, &settings()).err();
            assert_eq!(e.map(|e| e.kind), Some(PlatformErrorKind::Permanent));
        }
    }

    fn full_page(times: impl Fn(usize) -> String) -> Vec<u8> {
        page_of(
            &(0..PER_PAGE)
                .map(|i| item(i as u64 + 1, &times(i)))
                .collect::<Vec<_>>(),
        )
    }

    fn link(next: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = if next {
            r#"<http://h/v1/1/orders?page=2&per_page=200>; rel="next", <http://h/v1/1/orders?page=9&per_page=200>; rel="last""#
        } else {
            r#"<http://h/v1/1/orders?page=9&per_page=200>; rel="last""#
        };
        h.insert(reqwest::header::LINK, HeaderValue::from_static(v));
        h.insert("x-total-count", HeaderValue::from_static("1800"));
        h
    }

    #[test]
    fn next_cursor_rules() {
        let origin = at("2026-01-01T00:00:00Z");
        let start = PollCursor::start(origin);
        let sorted = full_page(|i| format!("2026-01-01T10:{:02}:{:02}+0000", i / 60, i % 60));
        // sorted, newer than since: jump to the last updated_at, page 1
        let p = read(&sorted, &link(true), &start);
        assert_eq!(p.total, Some(1800));
        let next = p.next.unwrap_or_else(|| panic!("more"));
        assert_eq!(next.since, at("2026-01-01T10:03:19Z"));
        assert_eq!((next.page, next.part, next.origin), (1, 0, origin));
        // no rel="next": the part is over
        let next = read(&sorted, &link(false), &start).next;
        assert_eq!(next.map(|n| (n.part, n.since)), Some((1, origin)));
        // every item in since's second: next page of the same query
        let same = full_page(|_| "2026-01-01T10:00:00+0000".into());
        let in_second = PollCursor {
            since: at("2026-01-01T10:00:00.700Z"),
            ..start.clone()
        };
        let next = read(&same, &link(true), &in_second).next;
        assert_eq!(next.map(|n| (n.since, n.page)), Some((in_second.since, 2)));
        // not sorted: next page
        let unsorted = full_page(|i| format!("2026-01-01T10:00:{:02}+0000", 59 - i % 60));
        let next = read(&unsorted, &link(true), &start).next;
        assert_eq!(next.map(|n| (n.since, n.page)), Some((origin, 2)));
        // page 2+ jumps only when it starts at since
        let page3 = PollCursor {
            page: 3,
            ..start.clone()
        };
        let next = read(&sorted, &link(true), &page3).next;
        assert_eq!(next.map(|n| (n.since, n.page)), Some((origin, 4)));
        let at_since = PollCursor {
            since: at("2026-01-01T10:00:00Z"),
            page: 3,
            ..start.clone()
        };
        let next = read(&sorted, &link(true), &at_since).next;
        assert_eq!(
            next.map(|n| (n.since, n.page)),
            Some((at("2026-01-01T10:03:19Z"), 1))
        );
        // the last part ends the walk
        let last = PollCursor {
            part: 3,
            ..start.clone()
        };
        assert_eq!(read(&sorted, &link(false), &last).next, None);
    }

    #[test]
    fn query_and_link_parsing() {
        let c = PollCursor {
            page: 3,
            part: 1,
            ..PollCursor::start(at("2026-01-01T10:00:00.5Z"))
        };
        assert_eq!(
            query(&c, PARTS[1]),
            "updated_at_min=2026-01-01T10:00:00%2B0000&status=any&payment_status=refunded&page=3&per_page=200"
        );
        assert!(has_next(&HeaderMap::new()));
        assert!(has_next(&link(true)));
        assert!(!has_next(&link(false)));
    }

    #[test]
    fn empty_answer_is_recognised() {
        let e = PlatformError {
            kind: PlatformErrorKind::NotFound,
            status: Some(404),
            message: String::new(),
        };
        let info = |body: &str| CallInfo {
            request: String::new(),
            status: Some(404),
            duration: Duration::ZERO,
            response: Some(body.into()),
        };
        let empty = r#"{"code":404,"message":"Not Found","description":"Last page is 0"}"#;
        assert!(is_empty_answer(&e, &info(empty)));
        let other = r#"{"code":404,"message":"Not Found","description":"Resource not found"}"#;
        assert!(!is_empty_answer(&e, &info(other)));
        let transient = PlatformError {
            kind: PlatformErrorKind::Transient,
            ..e.clone()
        };
        assert!(!is_empty_answer(&transient, &info(empty)));
    }
}
