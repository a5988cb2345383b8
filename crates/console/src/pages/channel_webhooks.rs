//! Webhooks: where the channel's registration at its platform stands (state, the URL,
//! what the platform has for ponte, what the last check changed), the orders polling
//! found that no webhook announced, and "Verificar": the reconciliation the API's
//! `POST /channels/{id}/subscription/check` runs.

use crate::form::Fields;
use crate::pages::channel::{load, saved, Head, Notice, Tab};
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_store::Subscription;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/channels/{id}/webhooks", get(show))
        .route("/channels/{id}/webhooks/check", post(check))
}

#[derive(Template)]
#[template(path = "channel_webhooks.html")]
struct WebhooksTab<'a> {
    chrome: Chrome<'a>,
    head: Head,
    subscription: Option<Subscription>,
    webhook_url: String,
    poll_gaps: u64,
}

async fn render(state: &Console, s: &Session, head: Head, status: StatusCode) -> Response {
    let e = &state.engine;
    let loaded = async {
        Ok::<_, ponte_engine::EngineError>((
            e.subscription(s.tenant, head.c.id).await?,
            e.poll_gaps(s.tenant, head.c.id).await?,
        ))
    };
    let (subscription, poll_gaps) = match loaded.await {
        Ok(v) => v,
        Err(err) => return unavailable(&err.to_string()),
    };
    let here = format!("/console/channels/{}/{}", head.c.id, Tab::Webhooks.slug());
    let p = WebhooksTab {
        chrome: Chrome::new(state, s, "channels", &here),
        webhook_url: e.webhook_url(head.c.id),
        head,
        subscription,
        poll_gaps,
    };
    page_with(status, &p)
}

async fn show(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    match load(&state, &s, &id).await {
        Ok(c) => render(&state, &s, Head::new(c, Tab::Webhooks, &q), StatusCode::OK).await,
        Err(r) => r,
    }
}

/// "Verificar": registers what is missing, replaces what is stale (removes it when
/// the channel is disabled). A platform refusal is the `failed` state the tab shows.
async fn check(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = Fields::checked(&s, &body) {
        return r.into_response();
    }
    let c = match load(&state, &s, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state.engine.reconcile_subscription(s.tenant, c.id).await {
        Ok(_) => saved(c.id, Tab::Webhooks, "checked"),
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                let head = Head {
                    top: Some(why),
                    ..Head::new(c, Tab::Webhooks, &Notice::default())
                };
                render(&state, &s, head, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}
