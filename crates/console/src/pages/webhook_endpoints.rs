//! Webhooks de saída: the tenant's webhook endpoints with their delivery state
//! (enabled, or disabled and why; failing since; messages pending and failed; the
//! last attempts that succeeded and failed), and a form to register one (admin) whose
//! signing secret is shown once.

use crate::form::{Fields, Form};
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ponte_engine::EndpointInput;
use ponte_store::webhooks::{EndpointDeliveries, WebhookEndpoint};

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/webhook-endpoints", get(list).post(create))
}

/// One endpoint as listed.
pub(crate) struct Row {
    pub ep: WebhookEndpoint,
    pub deliveries: Option<EndpointDeliveries>,
}

#[derive(Template)]
#[template(path = "webhook_endpoints.html")]
struct EndpointsPage<'a> {
    chrome: Chrome<'a>,
    rows: Vec<Row>,
    form: Form,
    /// An endpoint just registered: (URL, secret), shown once.
    created: Option<(String, String)>,
}

async fn list(State(state): State<Console>, s: Session) -> Response {
    render(&state, &s, Form::default(), None).await
}

async fn render(
    state: &Console,
    s: &Session,
    form: Form,
    created: Option<(String, String)>,
) -> Response {
    let loaded = async {
        let endpoints = state.engine.endpoints(s.tenant).await?;
        let deliveries = state.engine.store().endpoint_deliveries(s.tenant).await?;
        Ok::<_, ponte_engine::EngineError>((endpoints, deliveries))
    };
    let (endpoints, deliveries) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e.to_string()),
    };
    let rows = endpoints
        .into_iter()
        .map(|ep| Row {
            deliveries: deliveries.iter().find(|d| d.endpoint_id == ep.id).cloned(),
            ep,
        })
        .collect();
    let status = if form.refused() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let p = EndpointsPage {
        chrome: Chrome::new(state, s, "endpoints", "/console/webhook-endpoints"),
        rows,
        form,
        created,
    };
    page_with(status, &p)
}

/// Registers an endpoint (every event type, every channel); the page shows its secret
/// once.
async fn create(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let mut form = Form::default();
    for k in ["url", "description"] {
        form.set(k, f.get(k).unwrap_or_default());
    }
    let input = EndpointInput {
        url: f.get("url").unwrap_or_default().to_owned(),
        description: f.get("description").map(str::to_owned),
        ..EndpointInput::default()
    };
    match state.engine.create_endpoint(s.tenant, input).await {
        Ok((ep, secret)) => render(&state, &s, Form::default(), Some((ep.url, secret))).await,
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                let field = if e.to_string().starts_with("description") {
                    "description"
                } else {
                    "url"
                };
                form.refuse(field, why);
                render(&state, &s, form, None).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}
