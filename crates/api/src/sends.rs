//! `/api/v1/status-sends`: the status-send history ("Histórico de Envio de
//! Situação"), its Errors tab (`state=failed`) and resend.

use crate::access::Tenant;
use crate::json_body::JsonBody;
use crate::orders::{cursor, query};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::action::ActionKind;
use ponte_core::ErrorCode;
use ponte_core::{ChannelId, OrderId, SendId};
use ponte_engine::EngineError;
use ponte_store::{
    PageRequest, ResendSelector, SendAttempt, SendError, SendFilter, SendState, StatusSend,
};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/status-sends", get(list))
        .route("/status-sends/resend", post(resend))
        .route("/status-sends/{id}", get(show))
}

use ponte_engine::CSV_MAX_ROWS;

/// One status send with every attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SendView {
    id: SendId,
    channel_id: ChannelId,
    order_id: OrderId,
    /// The order's platform id.
    external_id: String,
    /// Position among the order's sends; they go out in this order.
    seq: i64,
    kind: ActionKind,
    /// `pending`, `succeeded`, `failed` or `blocked` (an earlier send of the order failed).
    #[schema(value_type = String)]
    state: SendState,
    /// What is sent (the ERP action's content).
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    /// Attempts used since it was (re)sent.
    attempts_used: u32,
    max_attempts: u32,
    /// Every attempt, oldest first.
    #[schema(value_type = Vec<Object>)]
    attempts: Vec<SendAttempt>,
    #[schema(value_type = Option<Object>)]
    last_error: Option<SendError>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn send_view(s: StatusSend) -> SendView {
    SendView {
        kind: s.kind(),
        payload: serde_json::to_value(&s.action).unwrap_or_default(),
        id: s.id,
        channel_id: s.channel_id,
        order_id: s.order_id,
        external_id: s.external_id,
        seq: s.seq,
        state: s.state,
        attempts_used: s.attempts_used,
        max_attempts: s.max_attempts,
        attempts: s.attempts,
        last_error: s.last_error,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// A page of sends.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SendPage {
    items: Vec<SendView>,
    next_cursor: Option<String>,
}

/// Send list filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendQuery {
    channel_id: Option<ChannelId>,
    order_id: Option<OrderId>,
    /// `pending`, `succeeded`, `failed` (the Errors tab) or `blocked`.
    state: Option<String>,
    /// `separation`, `invoice`, `collection_order`, `shipment`, `delivery` or `cancel`.
    kind: Option<String>,
    /// Created at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    to: Option<DateTime<Utc>>,
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50). With `format=csv`, rows to export (default and
    /// maximum 100000).
    limit: Option<u32>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn bad_query(detail: String) -> Problem {
    Problem::new(ErrorCode::InvalidQuery, detail)
}

/// Lists status sends, newest first; `format=csv` exports them.
#[utoipa::path(get, path = "/api/v1/status-sends", tag = "status sends", params(SendQuery),
    responses((status = 200, body = SendPage), (status = 400, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<SendQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => {
            Some(SendState::parse(s).ok_or_else(|| bad_query(format!("unknown state `{s}`")))?)
        }
    };
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => {
            Some(ActionKind::parse(k).ok_or_else(|| bad_query(format!("unknown kind `{k}`")))?)
        }
    };
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => return Err(bad_query(format!("unknown format `{f}`"))),
    };
    let filter = SendFilter {
        channel_id: q.channel_id,
        order_id: q.order_id,
        state,
        kind,
        from: q.from,
        to: q.to,
    };
    let page = PageRequest {
        cursor: cursor(q.cursor)?,
        limit: q.limit.unwrap_or(50),
    };
    let store = engine.store();
    if !csv {
        let p = store
            .status_sends(tenant, &filter, &page)
            .await
            .map_err(EngineError::from)?;
        let body = SendPage {
            items: p.items.into_iter().map(send_view).collect(),
            next_cursor: p.next_cursor,
        };
        return Ok(Json(body).into_response());
    }
    let max = q
        .limit
        .map_or(CSV_MAX_ROWS, |l| (l as usize).min(CSV_MAX_ROWS));
    let (bytes, next) = engine.status_sends_csv(tenant, &filter, page, max).await?;
    let mut resp = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"status-sends.csv\"",
            ),
        ],
        bytes,
    )
        .into_response();
    if let Some(c) = next.and_then(|c| c.parse().ok()) {
        resp.headers_mut().insert("x-next-cursor", c);
    }
    Ok(resp)
}

/// One status send with its attempts.
#[utoipa::path(get, path = "/api/v1/status-sends/{id}", tag = "status sends", params(("id" = String, Path)),
    responses((status = 200, body = SendView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<SendView>> {
    let not_found = || Problem::new(ErrorCode::StatusSendNotFound, "status send not found");
    let id: SendId = id.parse().map_err(|_| not_found())?;
    let s = engine
        .store()
        .status_send(tenant, id)
        .await
        .map_err(EngineError::from)?
        .ok_or_else(not_found)?;
    Ok(Json(send_view(s)))
}

/// What to resend: `{"ids": [...]}` or `{"channel_id": "...", "all_failed": true}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResendBody {
    ids: Option<Vec<SendId>>,
    channel_id: Option<ChannelId>,
    all_failed: Option<bool>,
}

/// What was resent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ResendResult {
    /// The failed sends now pending again, with a fresh attempt budget.
    resent: Vec<SendId>,
    /// Selected ids that were not failed (left alone).
    skipped: Vec<SendId>,
}

/// Resends failed sends ("Reenviar selecionados"), keeping their history; the sends
/// they blocked go out after them.
#[utoipa::path(post, path = "/api/v1/status-sends/resend", tag = "status sends", request_body = ResendBody,
    responses((status = 200, body = ResendResult), (status = 404, description = "Unknown channel", body = Problem),
        (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn resend(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(b): JsonBody<ResendBody>,
) -> ApiResult<Json<ResendResult>> {
    let selector = match (b.ids, b.channel_id, b.all_failed) {
        (Some(ids), None, None) if !ids.is_empty() && ids.len() <= 1000 => ResendSelector::Ids(ids),
        (None, Some(c), Some(true)) => ResendSelector::AllFailed(c),
        _ => return Err(Problem::new(
            ErrorCode::ValidationFailed,
            "send either {\"ids\": [1 to 1000 ids]} or {\"channel_id\": ..., \"all_failed\": true}",
        )),
    };
    if let ResendSelector::AllFailed(c) = &selector {
        // A channel that is not the tenant's is missing, as on every other route.
        engine.channel(tenant, *c).await?;
    }
    let resent = engine.resend(tenant, &selector).await?;
    let skipped = match &selector {
        ResendSelector::Ids(ids) => ids
            .iter()
            .filter(|i| !resent.contains(i))
            .copied()
            .collect(),
        ResendSelector::AllFailed(_) => vec![],
    };
    Ok(Json(ResendResult { resent, skipped }))
}
