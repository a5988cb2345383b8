//! Erros: failed and blocked status sends, "Reenviar selecionados" and "resend every
//! failed send of a channel"; after resending, the page says what happened.

use crate::form::Fields;
use crate::pages::orders::unavailable;
use crate::render::{page, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::action::ActionKind;
use ponte_core::{ChannelId, SendId};
use ponte_store::{
    Channel, PageRequest, ResendSelector, SendFilter, SendState, StatusSend, TicketFilter,
};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/errors", get(list))
        .route("/errors/resend", post(resend_selected))
        .route("/errors/resend-channel", post(resend_channel))
}

/// Rows per state shown at once (the oldest first are the ones to fix).
const SHOWN: u32 = 200;

#[derive(Deserialize, Default)]
struct ErrorsQuery {
    channel_id: Option<String>,
    kind: Option<String>,
}

/// What a resend did.
struct Outcome {
    resent: usize,
    skipped: usize,
}

#[derive(Template)]
#[template(path = "errors.html")]
struct ErrorsPage<'a> {
    chrome: Chrome<'a>,
    channels: Vec<Channel>,
    kinds: &'static [ActionKind],
    channel_id: String,
    kind: String,
    failed: Vec<StatusSend>,
    blocked: Vec<StatusSend>,
    outcome: Option<Outcome>,
    /// Tickets with a SAC answer that failed for good (sent like status sends).
    failed_answers: usize,
}

impl ErrorsPage<'_> {
    fn channel_name(&self, id: &ChannelId) -> String {
        self.channels
            .iter()
            .find(|c| c.id == *id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    }
}

async fn list(State(state): State<Console>, s: Session, Query(q): Query<ErrorsQuery>) -> Response {
    render(&state, &s, q, None).await
}

async fn render(
    state: &Console,
    s: &Session,
    q: ErrorsQuery,
    outcome: Option<Outcome>,
) -> Response {
    let channel = q
        .channel_id
        .as_deref()
        .and_then(|c| c.parse::<ChannelId>().ok());
    let kind = q
        .kind
        .as_deref()
        .and_then(|k| ActionKind::ALL.into_iter().find(|a| a.as_str() == k));
    let load = |st: SendState| async move {
        let filter = SendFilter {
            channel_id: channel,
            state: Some(st),
            kind,
            ..SendFilter::default()
        };
        let req = PageRequest {
            cursor: None,
            limit: SHOWN,
        };
        Ok::<_, ponte_store::StoreError>(
            state
                .engine
                .store()
                .status_sends(s.tenant, &filter, &req)
                .await?
                .items,
        )
    };
    let loaded = async {
        Ok::<_, String>((
            state
                .engine
                .channels(s.tenant)
                .await
                .map_err(|e| e.to_string())?,
            load(SendState::Failed).await.map_err(|e| e.to_string())?,
            load(SendState::Blocked).await.map_err(|e| e.to_string())?,
            state
                .engine
                .tickets(
                    s.tenant,
                    &TicketFilter {
                        channel_id: channel,
                        failed_answers: true,
                        ..TicketFilter::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?
                .len(),
        ))
    };
    let (channels, failed, blocked, failed_answers) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e),
    };
    let p = ErrorsPage {
        chrome: Chrome::new(state, s, "errors", "/console/errors"),
        channels,
        kinds: &ActionKind::ALL,
        channel_id: channel.map(|c| c.to_string()).unwrap_or_default(),
        kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        failed,
        blocked,
        outcome,
        failed_answers,
    };
    page(&p)
}

async fn resend_selected(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let ids: Vec<SendId> = f
        .all("ids")
        .iter()
        .filter_map(|i| i.parse().ok())
        .take(1000)
        .collect();
    let outcome = if ids.is_empty() {
        Outcome {
            resent: 0,
            skipped: 0,
        }
    } else {
        match state
            .engine
            .resend(s.tenant, &ResendSelector::Ids(ids.clone()))
            .await
        {
            Ok(r) => Outcome {
                resent: r.len(),
                skipped: ids.len() - r.len().min(ids.len()),
            },
            Err(e) => return unavailable(&e.to_string()),
        }
    };
    let q = ErrorsQuery {
        channel_id: f.get("channel_id").map(str::to_owned),
        kind: f.get("kind").map(str::to_owned),
    };
    render(&state, &s, q, Some(outcome)).await
}

async fn resend_channel(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Some(channel) = f
        .get("channel_id")
        .and_then(|c| c.parse::<ChannelId>().ok())
    else {
        return render(
            &state,
            &s,
            ErrorsQuery::default(),
            Some(Outcome {
                resent: 0,
                skipped: 0,
            }),
        )
        .await;
    };
    if let Err(e) = state.engine.channel(s.tenant, channel).await {
        return unavailable(&e.to_string());
    }
    let outcome = match state
        .engine
        .resend(s.tenant, &ResendSelector::AllFailed(channel))
        .await
    {
        Ok(r) => Outcome {
            resent: r.len(),
            skipped: 0,
        },
        Err(e) => return unavailable(&e.to_string()),
    };
    let q = ErrorsQuery {
        channel_id: Some(channel.to_string()),
        kind: None,
    };
    render(&state, &s, q, Some(outcome)).await
}
