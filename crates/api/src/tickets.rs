//! `/api/v1/tickets`: SAC tickets (questions before a sale, post-sale messages, claims)
//! downloaded from channels, the seller's answers (sent like status sends: attempts,
//! failed ones resent) and closes where the platform allows; tickets recorded in ponte
//! are never sent to a channel (409 `ticket_not_from_channel`).

use crate::access::Tenant;
use crate::json_body::JsonBody;
use crate::orders::query;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ponte_core::ticket::{Author, OutboundAction, TicketKind, TicketState};
use ponte_core::{ChannelId, ErrorCode, OrderId, TicketId, TicketMessageId};
use ponte_store::{SendAttempt, SendError, SendState, Ticket, TicketFilter, TicketMessage};
use serde::{Deserialize, Serialize};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list).post(create))
        .route("/tickets/{id}", get(show))
        .route("/tickets/{id}/messages", post(answer))
        .route("/tickets/{id}/close", post(close))
        .route("/tickets/{id}/messages/{message_id}/resend", post(resend))
}

/// ponte's side of a message it sends to the platform.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OutboundView {
    action: OutboundAction,
    /// `pending`, `succeeded` or `failed` (listed until resent).
    #[schema(value_type = String)]
    state: SendState,
    attempts_used: u32,
    max_attempts: u32,
    /// Every attempt, oldest first.
    #[schema(value_type = Vec<Object>)]
    attempts: Vec<SendAttempt>,
    #[schema(value_type = Option<Object>)]
    last_error: Option<SendError>,
}

/// One message of a ticket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TicketMessageView {
    id: TicketMessageId,
    /// The platform's id, once it has one.
    external_id: Option<String>,
    author: Author,
    text: String,
    at: DateTime<Utc>,
    /// Links to attachments.
    attachments: Vec<String>,
    /// Set on the answers and closes ponte sends.
    outbound: Option<OutboundView>,
}

/// A ticket with its messages, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TicketView {
    id: TicketId,
    /// The channel it came from; `null`: recorded in ponte.
    channel_id: Option<ChannelId>,
    /// The platform resource (`question:123`, `pack:456`, `claim:789`).
    external_id: Option<String>,
    kind: TicketKind,
    state: TicketState,
    /// The order, when ponte has it.
    order_id: Option<OrderId>,
    /// The order's platform id, when the ticket names one.
    order_ref: Option<String>,
    subject: String,
    messages: Vec<TicketMessageView>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn message_view(m: TicketMessage) -> TicketMessageView {
    TicketMessageView {
        id: m.id,
        external_id: m.external_id,
        author: m.author,
        text: m.text,
        at: m.at,
        attachments: m.attachments,
        outbound: m.outbound.map(|o| OutboundView {
            action: o.action,
            state: o.state,
            attempts_used: o.attempts_used,
            max_attempts: o.max_attempts,
            attempts: o.attempts,
            last_error: o.last_error,
        }),
    }
}

pub(crate) fn ticket_view(t: Ticket) -> TicketView {
    TicketView {
        id: t.id,
        channel_id: t.channel_id,
        external_id: t.external_id,
        kind: t.kind,
        state: t.state,
        order_id: t.order_id,
        order_ref: t.order_ref,
        subject: t.subject,
        messages: t.messages.into_iter().map(message_view).collect(),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

/// Tickets, most recently changed first (at most 200).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TicketList {
    items: Vec<TicketView>,
}

/// Ticket list filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TicketQuery {
    channel_id: Option<ChannelId>,
    /// `open`, `answered` or `closed`.
    state: Option<String>,
    /// `question`, `message` or `claim`.
    kind: Option<String>,
    order_id: Option<OrderId>,
    /// `true`: only tickets with an answer that failed for good (to resend).
    failed_answers: Option<bool>,
}

/// A ticket recorded in ponte (by the ERP or an operator): it stays in ponte.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTicket {
    kind: TicketKind,
    /// 1 to 200 characters.
    subject: String,
    /// The customer's first message (1 to 2,000 characters).
    text: String,
    order_id: Option<OrderId>,
}

/// The seller's answer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Answer {
    /// 1 to 2,000 characters.
    text: String,
}

fn bad_query(detail: String) -> Problem {
    Problem::new(ErrorCode::InvalidQuery, detail)
}

fn ticket_id(s: &str) -> ApiResult<TicketId> {
    s.parse()
        .map_err(|_| Problem::new(ErrorCode::TicketNotFound, "ticket not found"))
}

/// Lists tickets.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketQuery),
    responses((status = 200, body = TicketList), (status = 400, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    q: Result<Query<TicketQuery>, QueryRejection>,
) -> ApiResult<Json<TicketList>> {
    let q = query(q)?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => {
            Some(TicketState::parse(s).ok_or_else(|| bad_query(format!("unknown state `{s}`")))?)
        }
    };
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => {
            Some(TicketKind::parse(k).ok_or_else(|| bad_query(format!("unknown kind `{k}`")))?)
        }
    };
    let filter = TicketFilter {
        channel_id: q.channel_id,
        state,
        kind,
        order_id: q.order_id,
        failed_answers: q.failed_answers.unwrap_or(false),
    };
    let items = engine
        .tickets(tenant, &filter)
        .await?
        .into_iter()
        .map(ticket_view)
        .collect();
    Ok(Json(TicketList { items }))
}

/// Records a ticket in ponte (not from a channel).
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = CreateTicket,
    responses((status = 201, body = TicketView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    JsonBody(input): JsonBody<CreateTicket>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let t = engine
        .create_ticket(
            tenant,
            input.kind,
            &input.subject,
            &input.text,
            input.order_id,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ticket_view(t))))
}

/// Shows a ticket with its messages and the attempts of ponte's answers.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(ticket_view(
        engine.ticket(tenant, ticket_id(&id)?).await?,
    )))
}

/// Answers a ticket on its channel: the answer is queued and sent in the background
/// (its attempts show on the message).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/messages", tag = "tickets", params(("id" = String, Path)),
    request_body = Answer,
    responses((status = 202, body = TicketView), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 409, description = "Not from a channel (`ticket_not_from_channel`) or closed (`ticket_closed`)", body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn answer(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<Answer>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let id = ticket_id(&id)?;
    let (t, _) = engine.reply_ticket(tenant, id, Some(&input.text)).await?;
    Ok((StatusCode::ACCEPTED, Json(ticket_view(t))))
}

/// Closes a ticket on its channel, where the platform lets the seller do so.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/close", tag = "tickets", params(("id" = String, Path)),
    responses((status = 202, body = TicketView), (status = 404, body = Problem),
        (status = 409, description = "Not from a channel, closed, or the platform does not allow it", body = Problem)),
    security(("bearer" = [])))]
pub(crate) async fn close(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let id = ticket_id(&id)?;
    let (t, _) = engine.reply_ticket(tenant, id, None).await?;
    Ok((StatusCode::ACCEPTED, Json(ticket_view(t))))
}

/// Sends a failed answer again with a fresh set of attempts (a message that has not
/// failed is left as it is).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/messages/{message_id}/resend", tag = "tickets",
    params(("id" = String, Path), ("message_id" = String, Path)),
    responses((status = 202, body = TicketView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub(crate) async fn resend(
    State(engine): State<AppState>,
    Extension(Tenant(tenant)): Extension<Tenant>,
    Path((id, message)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    let id = ticket_id(&id)?;
    let message: TicketMessageId = message
        .parse()
        .map_err(|_| Problem::new(ErrorCode::TicketNotFound, "no such message"))?;
    let t = engine.resend_ticket_message(tenant, id, message).await?;
    Ok((StatusCode::ACCEPTED, Json(ticket_view(t))))
}
