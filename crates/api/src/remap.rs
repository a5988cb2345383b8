//! `POST /api/v1/channels/{id}/remap`: re-applies the channel's current tables to the
//! platform payloads ponte stored, without calling the platform.

use crate::access::Tenant;
use crate::channels::channel_id;
use crate::json_body::JsonBody;
use crate::problem::{ApiResult, Problem};
use crate::tasks::{run_view, RunView};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/channels/{id}/remap", post(remap))
}

/// A remap.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemapRequest {
    /// Orders placed at or after (RFC 3339).
    since: DateTime<Utc>,
    /// Orders placed before (RFC 3339); default: now.
    until: Option<DateTime<Utc>>,
}

/// Maps the channel's stored orders placed in `[since, until)` again with its current
/// status table (and other DE-PARA tables), through the same idempotent import as
/// webhooks: statuses still only move forward, every change is noted `remapped` on
/// the order's timeline, no platform call is made. Follow it at
/// `/api/v1/task-runs/{id}`. 409 `task_busy` while another remap of the channel runs.
#[utoipa::path(post, path = "/api/v1/channels/{id}/remap", tag = "channels",
    params(("id" = String, Path)), request_body = RemapRequest,
    responses((status = 202, body = RunView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn remap(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<RemapRequest>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let run = engine
        .remap_orders(tenant, channel_id(&id)?, input.since, input.until)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run_view(run))))
}
