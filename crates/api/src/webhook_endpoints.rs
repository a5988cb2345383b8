//! `/api/v1/webhook-endpoints`: where ponte POSTs its events (Standard Webhooks), their
//! secrets, delivery attempts, recover and resend.

use crate::access::Tenant;
use crate::json_body::{present, JsonBody};
use crate::orders::{cursor, query};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::{AttemptId, ChannelId, EndpointId, ErrorCode, EventId};
use ponte_engine::{EndpointInput, EndpointPatch};
use ponte_store::webhooks::{WebhookAttempt, WebhookEndpoint};
use ponte_store::PageRequest;
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook-endpoints", get(list).post(create))
        .route(
            "/webhook-endpoints/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/webhook-endpoints/{id}/rotate-secret", post(rotate))
        .route("/webhook-endpoints/{id}/recover", post(recover))
        .route("/webhook-endpoints/{id}/attempts", get(attempts))
        .route(
            "/webhook-endpoints/{id}/attempts/{attempt_id}/resend",
            post(resend),
        )
}

/// An endpoint (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EndpointView {
    id: EndpointId,
    url: String,
    description: String,
    /// Only these types; absent: all.
    events: Option<Vec<EventType>>,
    /// Only events of this channel; absent: all.
    channel_id: Option<ChannelId>,
    rate_limit_per_sec: Option<u32>,
    /// Deliveries go out only while enabled.
    enabled: bool,
    /// Why it was disabled: `gone` (it answered 410), `failing` (5 days without a
    /// success) or `by_user`.
    disabled_reason: Option<String>,
    /// Failing since (the first failed attempt after the last success).
    failing_since: Option<DateTime<Utc>>,
    /// Until when the secret replaced by the last rotation still signs.
    old_secret_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn view(e: WebhookEndpoint) -> EndpointView {
    EndpointView {
        id: e.id,
        url: e.url,
        description: e.description,
        events: e.event_types,
        channel_id: e.channel_id,
        rate_limit_per_sec: e.rate_limit_per_sec,
        enabled: e.enabled,
        disabled_reason: e.disabled_reason,
        failing_since: e.failing_since,
        old_secret_expires_at: e.old_secret_until,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

/// An endpoint with its secret: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EndpointWithSecret {
    #[serde(flatten)]
    endpoint: EndpointView,
    /// `whsec_` + base64: the key that signs deliveries (Standard Webhooks).
    secret: String,
}

/// A new endpoint.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEndpoint {
    /// http(s) URL at a public address.
    url: String,
    /// Only these event types (default: all).
    events: Option<Vec<EventType>>,
    /// Only events of this channel (default: all).
    channel_id: Option<ChannelId>,
    description: Option<String>,
    rate_limit_per_sec: Option<u32>,
}

/// Changes to an endpoint (absent fields stay; `null` clears a filter).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateEndpoint {
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    events: Option<Option<Vec<EventType>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    channel_id: Option<Option<ChannelId>>,
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    rate_limit_per_sec: Option<Option<u32>>,
    /// `true` sends its queue again (and clears why it was disabled).
    enabled: Option<bool>,
}

/// The tenant's endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EndpointList {
    items: Vec<EndpointView>,
}

/// Recover: send again everything since a time.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Recover {
    /// Events committed at or after this time (RFC 3339).
    since: DateTime<Utc>,
}

/// How many events were queued again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Recovered {
    queued: u64,
}

/// One delivery attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AttemptView {
    id: AttemptId,
    /// The event's id (the `webhook-id` header).
    event_id: EventId,
    event_type: EventType,
    /// Attempt number since the event was (re)queued.
    n: u32,
    started_at: DateTime<Utc>,
    /// `started`, `succeeded`, `failed` or `interrupted`.
    outcome: String,
    http_status: Option<u16>,
    /// The start of the answer (up to 1 KiB).
    response: Option<String>,
    duration_ms: Option<u64>,
    error: Option<String>,
}

fn attempt_view(a: WebhookAttempt) -> AttemptView {
    AttemptView {
        id: a.id,
        event_id: a.event_id,
        event_type: a.event_type,
        n: a.n,
        started_at: a.started_at,
        outcome: a.outcome,
        http_status: a.http_status,
        response: a.response,
        duration_ms: a.duration_ms,
        error: a.error,
    }
}

/// A page of attempts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AttemptPage {
    items: Vec<AttemptView>,
    next_cursor: Option<String>,
}

/// Attempt list paging.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttemptQuery {
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<u32>,
}

fn endpoint_id(id: &str) -> ApiResult<EndpointId> {
    id.parse()
        .map_err(|_| Problem::new(ErrorCode::EndpointNotFound, "webhook endpoint not found"))
}

/// Registers an endpoint; the answer is the only time its secret is shown.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints", tag = "events", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointWithSecret), (status = 422, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn create(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(input): JsonBody<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    let input = EndpointInput {
        url: input.url,
        events: input.events,
        channel_id: input.channel_id,
        description: input.description,
        rate_limit_per_sec: input.rate_limit_per_sec,
    };
    let (ep, secret) = engine.create_endpoint(tenant, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: view(ep),
            secret,
        }),
    ))
}

/// Lists the tenant's endpoints.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints", tag = "events",
    responses((status = 200, body = EndpointList)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
) -> ApiResult<Json<EndpointList>> {
    let items = engine.endpoints(tenant).await?;
    Ok(Json(EndpointList {
        items: items.into_iter().map(view).collect(),
    }))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(view(
        engine.endpoint(tenant, endpoint_id(&id)?).await?,
    )))
}

/// Changes an endpoint.
#[utoipa::path(patch, path = "/api/v1/webhook-endpoints/{id}", tag = "events", params(("id" = String, Path)),
    request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn update(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(p): JsonBody<UpdateEndpoint>,
) -> ApiResult<Json<EndpointView>> {
    let id = endpoint_id(&id)?;
    let patch = EndpointPatch {
        url: p.url,
        events: p.events,
        channel_id: p.channel_id,
        description: p.description,
        rate_limit_per_sec: p.rate_limit_per_sec,
        enabled: p.enabled,
    };
    Ok(Json(view(engine.update_endpoint(tenant, id, patch).await?)))
}

/// Deletes an endpoint with its queue and attempts.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    engine.delete_endpoint(tenant, endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the endpoint a new secret (shown once); the old one still signs for 24 h.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", tag = "events",
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointWithSecret), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn rotate(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointWithSecret>> {
    let (ep, secret) = engine
        .rotate_endpoint_secret(tenant, endpoint_id(&id)?)
        .await?;
    Ok(Json(EndpointWithSecret {
        endpoint: view(ep),
        secret,
    }))
}

/// Sends again every event the endpoint wants committed since a time.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/recover", tag = "events",
    params(("id" = String, Path)), request_body = Recover,
    responses((status = 202, body = Recovered), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn recover(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<Recover>,
) -> ApiResult<(StatusCode, Json<Recovered>)> {
    let queued = engine
        .recover_endpoint(tenant, endpoint_id(&id)?, r.since)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Recovered { queued })))
}

/// An endpoint's delivery attempts, newest first.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/attempts", tag = "events",
    params(("id" = String, Path), AttemptQuery),
    responses((status = 200, body = AttemptPage), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn attempts(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    q: Result<Query<AttemptQuery>, QueryRejection>,
) -> ApiResult<Json<AttemptPage>> {
    let id = endpoint_id(&id)?;
    let q = query(q)?;
    let page = PageRequest {
        cursor: cursor(q.cursor)?,
        limit: q.limit.unwrap_or(50),
    };
    let p = engine.endpoint_attempts(tenant, id, &page).await?;
    Ok(Json(AttemptPage {
        items: p.items.into_iter().map(attempt_view).collect(),
        next_cursor: p.next_cursor,
    }))
}

/// Sends one attempt's event again (with a fresh attempt budget).
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/attempts/{attempt_id}/resend", tag = "events",
    params(("id" = String, Path), ("attempt_id" = String, Path)),
    responses((status = 202), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn resend(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path((id, attempt)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = endpoint_id(&id)?;
    let attempt = attempt
        .parse()
        .map_err(|_| Problem::new(ErrorCode::AttemptNotFound, "webhook attempt not found"))?;
    engine.resend_attempt(tenant, id, attempt).await?;
    Ok(StatusCode::ACCEPTED)
}
