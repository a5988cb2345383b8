//! `POST /webhooks/{channel_id}`: authenticated by the platform's signature only.

use crate::problem::{ApiResult, Problem};
use crate::{AppState, MAX_WEBHOOK_BODY};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use ponte_core::ChannelId;
use ponte_core::ErrorCode;
use serde::Serialize;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/webhooks/{channel_id}", post(receive))
}

/// What ponte answers a platform.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Ack {
    /// The stored delivery.
    delivery_id: String,
    /// `received` or `ignored`.
    state: &'static str,
}

/// Receives a platform notification: verifies its signature, stores it durably with
/// its import job, and answers 200.
#[utoipa::path(post, path = "/webhooks/{channel_id}", tag = "webhooks",
    params(("channel_id" = String, Path, description = "Channel id")),
    responses(
        (status = 200, description = "Stored", body = Ack),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 401, description = "Missing or wrong signature", body = Problem),
        (status = 403, description = "Notification for another store", body = Problem),
        (status = 404, description = "Unknown channel", body = Problem),
        (status = 410, description = "Channel disabled", body = Problem),
        (status = 413, description = "Body over 64 KiB", body = Problem),
    ))]
pub(crate) async fn receive(
    State(engine): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Ack>> {
    let Ok(channel_id) = channel_id.parse::<ChannelId>() else {
        return Err(Problem::new(ErrorCode::ChannelNotFound, "no such channel"));
    };
    let bytes = axum::body::to_bytes(body, MAX_WEBHOOK_BODY)
        .await
        .map_err(|_| {
            engine.metrics().delivery("payload_too_large");
            Problem::new(
                ErrorCode::PayloadTooLarge,
                format!("webhook bodies are limited to {MAX_WEBHOOK_BODY} bytes"),
            )
        })?;
    match engine.receive_webhook(channel_id, &headers, &bytes).await {
        Ok(ack) => Ok(Json(Ack {
            delivery_id: ack.delivery_id.to_string(),
            state: ack.state,
        })),
        Err(e) => Err(e.into()),
    }
}
