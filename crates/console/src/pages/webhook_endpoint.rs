//! One webhook endpoint: its state and recent delivery attempts (outcome, HTTP status,
//! duration, the start of the answer), a "Reenviar" button per attempt (its message
//! goes again with a fresh attempt budget) and a "Recuperar desde" form (everything the
//! endpoint wants committed since a time goes again).

use crate::format::{parse_date_time, url_encode};
use crate::pages::orders::unavailable;
use crate::render::{page, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::{AttemptId, EndpointId};
use ponte_engine::EngineError;
use ponte_store::webhooks::{WebhookAttempt, WebhookEndpoint};
use ponte_store::PageRequest;
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/webhook-endpoints/{id}", get(show))
        .route("/webhook-endpoints/{id}/recover", post(recover))
        .route(
            "/webhook-endpoints/{id}/attempts/{attempt_id}/resend",
            post(resend),
        )
}

/// Attempts per page.
const PAGE: u32 = 50;

/// Characters of an answer the list shows.
const ANSWER_SHOWN: usize = 300;

#[derive(Deserialize, Default)]
struct ShowQuery {
    cursor: Option<String>,
    /// An attempt's message was queued again.
    resent: Option<String>,
    /// How many messages a recover queued again.
    recovered: Option<u64>,
    /// The recover form's time could not be read.
    bad_since: Option<String>,
}

#[derive(Template)]
#[template(path = "webhook_endpoint.html")]
struct EndpointPage<'a> {
    chrome: Chrome<'a>,
    ep: WebhookEndpoint,
    attempts: Vec<WebhookAttempt>,
    next: Option<String>,
    resent: bool,
    recovered: Option<u64>,
    bad_since: bool,
}

impl EndpointPage<'_> {
    /// The start of an answer and whether it was cut.
    fn answer_head<'b>(&self, answer: &'b str) -> (&'b str, bool) {
        crate::format::head(answer, ANSWER_SHOWN)
    }
}

async fn show(
    State(state): State<Console>,
    s: Session,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let Ok(id) = id.parse::<EndpointId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let req = PageRequest {
        cursor: q.cursor.filter(|c| c.parse::<AttemptId>().is_ok()),
        limit: PAGE,
    };
    let loaded = async {
        let ep = state.engine.endpoint(s.tenant, id).await?;
        let attempts = state.engine.endpoint_attempts(s.tenant, id, &req).await?;
        Ok::<_, EngineError>((ep, attempts))
    };
    let (ep, attempts) = match loaded.await {
        Ok(v) => v,
        Err(EngineError::NotFound(_)) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return unavailable(&e.to_string()),
    };
    page(&EndpointPage {
        chrome: Chrome::new(&state, &s, "endpoints", &uri.to_string()),
        ep,
        next: attempts
            .next_cursor
            .map(|c| format!("cursor={}", url_encode(&c))),
        attempts: attempts.items,
        resent: q.resent.is_some(),
        recovered: q.recovered,
        bad_since: q.bad_since.is_some(),
    })
}

fn back(id: EndpointId, notice: &str) -> Response {
    Redirect::to(&format!("/console/webhook-endpoints/{id}?{notice}")).into_response()
}

/// Queues again the message of one attempt.
async fn resend(
    State(state): State<Console>,
    s: Session,
    Path((id, attempt)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = crate::form::Fields::checked(&s, &body) {
        return r.into_response();
    }
    let (Ok(id), Ok(attempt)) = (id.parse::<EndpointId>(), attempt.parse::<AttemptId>()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state.engine.resend_attempt(s.tenant, id, attempt).await {
        Ok(()) => back(id, "resent=1"),
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// Queues again everything the endpoint wants committed since the time given.
async fn recover(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match crate::form::Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Ok(id) = id.parse::<EndpointId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(since) = f
        .get("since")
        .and_then(|v| parse_date_time(v, state.time_zone))
    else {
        return back(id, "bad_since=1");
    };
    match state.engine.recover_endpoint(s.tenant, id, since).await {
        Ok(n) => back(id, &format!("recovered={n}")),
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => unavailable(&e.to_string()),
    }
}
