//! `/api/v1/orders`.

use crate::access::Tenant;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::order_view::OrderView;
use ponte_core::ErrorCode;
use ponte_core::{ChannelId, OrderId, OrderStatus};
use ponte_store::{OrderFilter, OrderSearch, PageRequest, StoredOrder};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(show))
}

/// An order with its platform payload and everything that happened to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OrderDetail {
    #[serde(flatten)]
    order: OrderView,
    /// The platform's payload as last fetched.
    #[schema(value_type = Object)]
    raw: Box<serde_json::value::RawValue>,
    /// What the order does to stock: `effects` (per SKU: warehouse, reserved, debited)
    /// and `unmapped_lines` (lines whose SKU is not a product: flagged, stock not moved).
    #[schema(value_type = Object)]
    stock: serde_json::Value,
    /// Oldest first.
    timeline: Vec<TimelineItem>,
}

/// One timeline entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TimelineItem {
    at: DateTime<Utc>,
    /// `delivery_received`, `fetched`, `imported`, `updated`, `status_changed`, `stale_ignored`,
    /// `skipped`, `remapped`, `erp_action`, `status_send_queued`, `status_send_attempt`.
    kind: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

/// A page of orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OrderPage {
    items: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Order list filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderQuery {
    channel_id: Option<ChannelId>,
    status: Option<OrderStatus>,
    external_id: Option<String>,
    /// Changed in ponte at or after (RFC 3339).
    updated_since: Option<DateTime<Utc>>,
    /// Search: an order number, a CPF/CNPJ, an e-mail, or the start of the customer's
    /// name (case-insensitive).
    q: Option<String>,
    /// Placed at or after (RFC 3339; orders the platform gave no date count from
    /// their import).
    placed_from: Option<DateTime<Utc>>,
    /// Placed before (RFC 3339).
    placed_to: Option<DateTime<Utc>>,
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<u32>,
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| Problem::new(ErrorCode::InvalidQuery, e.body_text()))
}

/// Checks an opaque cursor (an id) before it reaches the store.
pub(crate) fn cursor(c: Option<String>) -> ApiResult<Option<String>> {
    match c {
        Some(c) if c.parse::<OrderId>().is_err() => Err(Problem::new(
            ErrorCode::InvalidCursor,
            "cursor is not one this API returned",
        )),
        c => Ok(c),
    }
}

/// A stored order as the API shows it (its events carry the same).
pub(crate) fn view(o: StoredOrder) -> OrderView {
    OrderView::new(
        o.id,
        o.channel_id,
        o.data,
        o.fulfilment,
        o.created_at,
        o.updated_at,
    )
}

/// Lists orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, body = OrderPage), (status = 400, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<OrderQuery>, QueryRejection>,
) -> ApiResult<Json<OrderPage>> {
    let q = query(q)?;
    let filter = OrderFilter {
        channel_id: q.channel_id,
        status: q.status,
        external_id: q.external_id,
        updated_since: q.updated_since,
        search: q.q.as_deref().and_then(OrderSearch::parse),
        placed_from: q.placed_from,
        placed_to: q.placed_to,
    };
    let page = PageRequest {
        cursor: cursor(q.cursor)?,
        limit: q.limit.unwrap_or(50),
    };
    let p = engine
        .store()
        .orders(tenant, &filter, &page)
        .await
        .map_err(ponte_engine::EngineError::from)?;
    Ok(Json(OrderPage {
        items: p.items.into_iter().map(view).collect(),
        next_cursor: p.next_cursor,
    }))
}

/// One order with its timeline.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderDetail>> {
    let not_found = || Problem::new(ErrorCode::OrderNotFound, "order not found");
    let id: OrderId = id.parse().map_err(|_| not_found())?;
    let store = engine.store();
    let o = store
        .order(tenant, id)
        .await
        .map_err(ponte_engine::EngineError::from)?
        .ok_or_else(not_found)?;
    let timeline = store
        .timeline(tenant, o.channel_id, &o.data.external_id)
        .await
        .map_err(ponte_engine::EngineError::from)?
        .into_iter()
        .map(|e| TimelineItem {
            at: e.at,
            kind: e.kind,
            detail: e.detail,
        })
        .collect();
    let (effects, unmapped) = store
        .order_stock(tenant, o.id)
        .await
        .map_err(ponte_engine::EngineError::from)?;
    let stock = serde_json::json!({
        "effects": effects.iter().map(|e| serde_json::json!({
            "sku": e.sku, "warehouse": e.warehouse,
            "reserved": e.effect.reserved, "debited": e.effect.debited,
        })).collect::<Vec<_>>(),
        "unmapped_lines": unmapped.iter().map(|l| serde_json::json!({
            "line": l.line, "sku": l.sku, "product_id": l.product_id,
            "variant_id": l.variant_id, "quantity": l.quantity,
        })).collect::<Vec<_>>(),
    });
    let raw = o.raw.clone();
    Ok(Json(OrderDetail {
        order: view(o),
        raw,
        stock,
        timeline,
    }))
}
