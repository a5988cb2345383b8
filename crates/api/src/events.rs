//! `/api/v1/events`: the event feed, for integrators that cannot receive webhooks.

use crate::access::Tenant;
use crate::orders::query;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::{ErrorCode, EventId};
use ponte_store::{Event, EventQuery};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/events", get(feed))
}

/// One event, as webhooks deliver it (plus its id, which deliveries carry as the
/// `webhook-id` header).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventView {
    /// Stable: the same event read or delivered twice has the same id.
    id: EventId,
    #[serde(rename = "type")]
    kind: EventType,
    timestamp: DateTime<Utc>,
    /// For orders, the order as `GET /api/v1/orders/{id}` shows it.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// A page of the feed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventPage {
    /// Oldest first, in commit order.
    items: Vec<EventView>,
    /// Pass as `after` next time (also when `items` is empty): stored, it resumes the
    /// feed across restarts without missing an event.
    next_cursor: String,
}

/// Feed parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventFeedQuery {
    /// The `next_cursor` of the previous read (absent: from the first event kept).
    after: Option<String>,
    /// Only these types, comma-separated (e.g. `order.created,order.cancelled`).
    types: Option<String>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<u32>,
    /// Seconds to wait for an event when there is none yet, 0 to 30 (default 0).
    wait: Option<u64>,
}

/// Reads the event feed after a cursor, in commit order; `wait` long-polls.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventFeedQuery),
    responses((status = 200, body = EventPage), (status = 400, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn feed(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<EventFeedQuery>, QueryRejection>,
) -> ApiResult<Json<EventPage>> {
    let q = query(q)?;
    let after = match q.after.as_deref() {
        None => 0,
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            Problem::new(
                ErrorCode::InvalidCursor,
                "after is not a cursor this API returned",
            )
        })?,
    };
    let types = q
        .types
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            EventType::parse(t).ok_or_else(|| {
                Problem::new(ErrorCode::InvalidQuery, format!("unknown event type `{t}`"))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let wait = Duration::from_secs(q.wait.unwrap_or(0));
    if wait > ponte_engine::MAX_FEED_WAIT {
        return Err(Problem::new(
            ErrorCode::InvalidQuery,
            "wait is at most 30 seconds",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::new(ErrorCode::InvalidQuery, "limit is 1 to 500"));
    }
    let eq = EventQuery {
        after,
        types,
        limit,
    };
    let events = engine.events(tenant, &eq, wait).await?;
    let next = events.last().map_or(after, |e| e.seq);
    Ok(Json(EventPage {
        items: events.into_iter().map(view).collect(),
        next_cursor: next.to_string(),
    }))
}

fn view(e: Event) -> EventView {
    EventView {
        id: e.event.id,
        kind: e.event.kind,
        timestamp: e.event.at,
        data: e.event.data,
    }
}
