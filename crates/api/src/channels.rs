//! `/api/v1/channels`.

use crate::auth::Tenant;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::ChannelId;
use ponte_engine::{ChannelInput, ChannelPatch};
use ponte_store::Channel;
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels", get(list).post(create))
        .route("/channels/{id}", get(show).patch(update).delete(disable))
}

/// A channel as the API shows it: never its credentials.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelView {
    id: ChannelId,
    platform: String,
    name: String,
    /// Platform settings with defaults filled in.
    #[schema(value_type = Object)]
    settings: serde_json::Value,
    enabled: bool,
    /// Where the platform must post webhooks.
    webhook_url: String,
    /// (One channel only) orders polling created or changed that no webhook had
    /// announced: the platform is dropping notifications when this grows.
    #[serde(skip_serializing_if = "Option::is_none")]
    poll_gaps: Option<u64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A new channel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateChannel {
    /// `nuvemshop`.
    platform: String,
    name: String,
    /// Flat settings. Every platform: the automations `send_status_updates`, `send_cancellations`,
    /// `send_delivery_info` (default true), `fulfillment_mode` (default false), `max_attempts` (default 3),
    /// `instant_events` (default true; false: webhooks are acknowledged and ignored, polling imports).
    /// Nuvemshop: `store_id` (required), `api_base_url`, `import_policy` (`paid_only` default, or `all`),
    /// `user_agent`, `rate_limit_per_sec`, `rate_limit_burst`, `status_map`, `shipping_api`
    /// (`fulfillment_orders` default, or `legacy`).
    #[schema(value_type = Object)]
    settings: serde_json::Value,
    /// For Nuvemshop: `access_token`, `app_secret`. Stored encrypted, never returned.
    #[schema(value_type = Object)]
    credentials: serde_json::Value,
}

/// Changes to a channel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateChannel {
    name: Option<String>,
    /// Merged into the current settings key by key (null removes a key).
    #[schema(value_type = Option<Object>)]
    settings: Option<serde_json::Value>,
    /// Replaces the credentials.
    #[schema(value_type = Option<Object>)]
    credentials: Option<serde_json::Value>,
    enabled: Option<bool>,
}

/// Channel list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelList {
    items: Vec<ChannelView>,
}

fn view(engine: &AppState, c: Channel) -> ChannelView {
    ChannelView {
        webhook_url: engine.webhook_url(c.id),
        id: c.id,
        platform: c.platform,
        name: c.name,
        settings: c.settings,
        enabled: c.enabled,
        poll_gaps: None,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// Turns a JSON body rejection into a problem with a stable code.
pub(crate) fn body<T>(r: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    r.map(|Json(v)| v).map_err(|e| {
        let code = match e.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            _ => "invalid_body",
        };
        Problem::new(e.status(), code, e.body_text())
    })
}

pub(crate) fn channel_id(s: &str) -> ApiResult<ChannelId> {
    s.parse()
        .map_err(|_| Problem::new(StatusCode::NOT_FOUND, "not_found", "channel not found"))
}

/// Creates a channel.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", request_body = CreateChannel,
    responses((status = 201, body = ChannelView), (status = 422, body = Problem), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    input: Result<Json<CreateChannel>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ChannelView>)> {
    let input = body(input)?;
    let c = engine
        .create_channel(
            tenant,
            ChannelInput {
                platform: input.platform,
                name: input.name,
                settings: input.settings,
                credentials: input.credentials,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(&engine, c))))
}

/// Lists channels.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = ChannelList)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
) -> ApiResult<Json<ChannelList>> {
    let items = engine
        .channels(tenant)
        .await?
        .into_iter()
        .map(|c| view(&engine, c))
        .collect();
    Ok(Json(ChannelList { items }))
}

/// Shows a channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelView>> {
    let c = engine.channel(tenant, channel_id(&id)?).await?;
    let gaps = engine.poll_gaps(tenant, c.id).await?;
    Ok(Json(ChannelView {
        poll_gaps: Some(gaps),
        ..view(&engine, c)
    }))
}

/// Changes a channel: settings merge, credentials replace.
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = String, Path)),
    request_body = UpdateChannel,
    responses((status = 200, body = ChannelView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    input: Result<Json<UpdateChannel>, JsonRejection>,
) -> ApiResult<Json<ChannelView>> {
    let input = body(input)?;
    let patch = ChannelPatch {
        name: input.name,
        settings: input.settings,
        credentials: input.credentials,
        enabled: input.enabled,
    };
    let c = engine
        .update_channel(tenant, channel_id(&id)?, patch)
        .await?;
    Ok(Json(view(&engine, c)))
}

/// Disables a channel (its history is kept).
#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "channels", params(("id" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn disable(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelView>> {
    let c = engine.disable_channel(tenant, channel_id(&id)?).await?;
    Ok(Json(view(&engine, c)))
}
