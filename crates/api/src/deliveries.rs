//! `/api/v1/webhook-deliveries`.

use crate::access::Tenant;
use crate::orders::{cursor, query};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::ErrorCode;
use ponte_core::{ChannelId, DeliveryId};
use ponte_store::{DeliveryFilter, DeliveryState, PageRequest};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/webhook-deliveries", get(list))
}

/// One inbound delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeliveryView {
    id: DeliveryId,
    channel_id: ChannelId,
    received_at: DateTime<Utc>,
    event: String,
    /// The platform id the event is about.
    resource_id: Option<String>,
    /// `received`, `processed`, `ignored` or `failed`.
    state: String,
    /// Why it failed, was ignored or skipped.
    error: Option<String>,
    processed_at: Option<DateTime<Utc>>,
    /// The raw body as received.
    body: String,
}

/// A page of deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeliveryPage {
    items: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

/// Delivery list filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryQuery {
    channel_id: Option<ChannelId>,
    /// `received`, `processed`, `ignored` or `failed`.
    state: Option<String>,
    /// Only deliveries about this platform id.
    resource_id: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Lists inbound webhook deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/webhook-deliveries", tag = "webhooks", params(DeliveryQuery),
    responses((status = 200, body = DeliveryPage), (status = 400, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<DeliveryQuery>, QueryRejection>,
) -> ApiResult<Json<DeliveryPage>> {
    let q = query(q)?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(DeliveryState::parse(s).ok_or_else(|| {
            Problem::new(ErrorCode::InvalidQuery, format!("unknown state `{s}`"))
        })?),
    };
    let filter = DeliveryFilter {
        channel_id: q.channel_id,
        state,
        resource_id: q.resource_id,
    };
    let page = PageRequest {
        cursor: cursor(q.cursor)?,
        limit: q.limit.unwrap_or(50),
    };
    let p = engine
        .store()
        .deliveries(tenant, &filter, &page)
        .await
        .map_err(ponte_engine::EngineError::from)?;
    Ok(Json(DeliveryPage {
        items: p
            .items
            .into_iter()
            .map(|d| DeliveryView {
                id: d.id,
                channel_id: d.channel_id,
                received_at: d.received_at,
                event: d.event,
                resource_id: d.resource_id,
                state: d.state.as_str().to_owned(),
                error: d.error,
                processed_at: d.processed_at,
                body: d.body,
            })
            .collect(),
        next_cursor: p.next_cursor,
    }))
}
