//! "Atendimento (SAC)": the tickets downloaded from the channels (questions, post-sale
//! messages, claims) and those recorded in ponte, filtered by channel, state and kind;
//! a ticket with its messages, the attempts of ponte's answers, an answer form (only
//! for tickets from a channel) and a resend for a failed answer.

use crate::pages::orders::unavailable;
use crate::render::{page, page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::ticket::{TicketKind, TicketState};
use ponte_core::{ChannelId, ErrorCode, TicketId, TicketMessageId};
use ponte_engine::EngineError;
use ponte_store::{Channel, Ticket, TicketFilter};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/tickets", get(list))
        .route("/tickets/{id}", get(show))
        .route("/tickets/{id}/answer", post(answer))
        .route("/tickets/{id}/messages/{message_id}/resend", post(resend))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    channel_id: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    order_id: Option<String>,
    /// `1`: only tickets with a failed answer.
    failed_answers: Option<String>,
}

#[derive(Template)]
#[template(path = "tickets.html")]
struct ListPage<'a> {
    chrome: Chrome<'a>,
    channels: Vec<Channel>,
    states: [TicketState; 3],
    kinds: [TicketKind; 3],
    q: ListQuery,
    tickets: Vec<Ticket>,
}

impl ListPage<'_> {
    fn channel_name(&self, id: &Option<ChannelId>) -> String {
        channel_name(&self.channels, id)
    }

    fn sel(&self, value: &Option<String>, option: &str) -> bool {
        value.as_deref() == Some(option)
    }
}

fn channel_name(channels: &[Channel], id: &Option<ChannelId>) -> String {
    match id {
        None => "ponte".into(),
        Some(id) => channels
            .iter()
            .find(|c| c.id == *id)
            .map_or_else(|| id.to_string(), |c| c.name.clone()),
    }
}

async fn list(
    State(state): State<Console>,
    s: Session,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter = TicketFilter {
        channel_id: q.channel_id.as_deref().and_then(|c| c.parse().ok()),
        state: q.state.as_deref().and_then(TicketState::parse),
        kind: q.kind.as_deref().and_then(TicketKind::parse),
        order_id: q.order_id.as_deref().and_then(|o| o.parse().ok()),
        failed_answers: q.failed_answers.as_deref() == Some("1"),
    };
    let loaded = async {
        let channels = state.engine.channels(s.tenant).await?;
        let tickets = state.engine.tickets(s.tenant, &filter).await?;
        Ok::<_, EngineError>((channels, tickets))
    };
    let (channels, tickets) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e.to_string()),
    };
    page(&ListPage {
        chrome: Chrome::new(&state, &s, "tickets", &uri.to_string()),
        channels,
        states: TicketState::ALL,
        kinds: TicketKind::ALL,
        q,
        tickets,
    })
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    /// An answer was queued.
    queued: Option<String>,
    /// A failed answer was queued again.
    resent: Option<String>,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage<'a> {
    chrome: Chrome<'a>,
    channel: String,
    t: Ticket,
    queued: bool,
    resent: bool,
    /// The answer typed, when it was refused.
    text: String,
    /// The refusal's code.
    refused: Option<ErrorCode>,
}

async fn load(state: &Console, s: &Session, id: TicketId) -> Result<(Ticket, String), EngineError> {
    let t = state.engine.ticket(s.tenant, id).await?;
    let channels = state.engine.channels(s.tenant).await?;
    let name = channel_name(&channels, &t.channel_id);
    Ok((t, name))
}

async fn show(
    State(state): State<Console>,
    s: Session,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let Ok(id) = id.parse::<TicketId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (t, channel) = match load(&state, &s, id).await {
        Ok(v) => v,
        Err(EngineError::NotFound(_)) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return unavailable(&e.to_string()),
    };
    page(&TicketPage {
        chrome: Chrome::new(&state, &s, "tickets", &uri.to_string()),
        channel,
        t,
        queued: q.queued.is_some(),
        resent: q.resent.is_some(),
        text: String::new(),
        refused: None,
    })
}

/// Queues the seller's answer; a refusal shows the page again with the code's message
/// and the text typed (409 or 422).
async fn answer(
    State(state): State<Console>,
    s: Session,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match crate::form::Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Ok(id) = id.parse::<TicketId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let text = f.get("text").unwrap_or_default().to_owned();
    let e = match state.engine.reply_ticket(s.tenant, id, Some(&text)).await {
        Ok(_) => return Redirect::to(&format!("/console/tickets/{id}?queued=1")).into_response(),
        Err(EngineError::NotFound(_)) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => e,
    };
    let code = e.code();
    let status = code
        .http_status()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|c| c.is_client_error())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let (t, channel) = match load(&state, &s, id).await {
        Ok(v) => v,
        Err(e) => return unavailable(&e.to_string()),
    };
    page_with(
        status,
        &TicketPage {
            chrome: Chrome::new(&state, &s, "tickets", &uri.to_string()),
            channel,
            t,
            queued: false,
            resent: false,
            text,
            refused: Some(code),
        },
    )
}

/// Queues a failed answer again.
async fn resend(
    State(state): State<Console>,
    s: Session,
    Path((id, message)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = crate::form::Fields::checked(&s, &body) {
        return r.into_response();
    }
    let (Ok(id), Ok(message)) = (id.parse::<TicketId>(), message.parse::<TicketMessageId>()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state
        .engine
        .resend_ticket_message(s.tenant, id, message)
        .await
    {
        Ok(_) => Redirect::to(&format!("/console/tickets/{id}?resent=1")).into_response(),
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => unavailable(&e.to_string()),
    }
}
