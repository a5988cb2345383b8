//! Tokens (admin): the tenant's API tokens (name, role, created, last used, expiry),
//! a form to create one (the token is shown once; only its hash is kept) and a button
//! to revoke one at once. The engine records each change in the audit trail.

use crate::form::{Fields, Form};
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::{ErrorCode, Role, TokenId};
use ponte_engine::{EngineError, TokenInput};
use ponte_store::ApiToken;
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}/revoke", post(revoke))
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage<'a> {
    chrome: Chrome<'a>,
    tokens: Vec<ApiToken>,
    roles: [Role; 3],
    form: Form,
    /// A token just created: (name, token), shown once.
    created: Option<(String, String)>,
    /// A token was just revoked.
    revoked: bool,
}

#[derive(Deserialize, Default)]
struct Notice {
    revoked: Option<String>,
}

async fn list(State(state): State<Console>, s: Session, Query(q): Query<Notice>) -> Response {
    render(&state, &s, Form::default(), None, q.revoked.is_some()).await
}

async fn render(
    state: &Console,
    s: &Session,
    form: Form,
    created: Option<(String, String)>,
    revoked: bool,
) -> Response {
    let tokens = match state.engine.tokens(s.tenant).await {
        Ok(t) => t,
        Err(e) => return unavailable(&e.to_string()),
    };
    let status = if form.refused() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let p = TokensPage {
        chrome: Chrome::new(state, s, "tokens", "/console/tokens"),
        tokens,
        roles: Role::ALL,
        form,
        created,
        revoked,
    };
    page_with(status, &p)
}

/// Creates a token; the page shows it once.
async fn create(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let t = state.catalogues.get(s.lang);
    let mut form = Form::default();
    for k in ["name", "role", "expires"] {
        form.set(k, f.get(k).unwrap_or_default());
    }
    let role = f.get("role").unwrap_or("viewer").parse::<Role>();
    let expires = f
        .get("expires")
        .map(|d| crate::format::day_start(d, 1, state.time_zone).ok_or(()))
        .transpose();
    let (role, expires_at) = match (role, expires) {
        (Ok(r), Ok(e)) => (r, e),
        (Err(_), _) => {
            let why = Refusal::console(ErrorCode::ValidationFailed, t.s("people.not_a_role"));
            form.refuse("role", why);
            return render(&state, &s, form, None, false).await;
        }
        (_, Err(())) => {
            let why = Refusal::console(ErrorCode::ValidationFailed, t.s("tokens.not_a_date"));
            form.refuse("expires", why);
            return render(&state, &s, form, None, false).await;
        }
    };
    let input = TokenInput {
        name: f.get("name").unwrap_or_default().to_owned(),
        role,
        expires_at,
    };
    match state.engine.create_token(&s.caller, input).await {
        Ok((token, plain)) => {
            render(
                &state,
                &s,
                Form::default(),
                Some((token.name, plain)),
                false,
            )
            .await
        }
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                let field = if e.to_string().starts_with("expires") {
                    "expires"
                } else {
                    "name"
                };
                form.refuse(field, why);
                render(&state, &s, form, None, false).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}

/// Revokes a token at once (a session it opened ends).
async fn revoke(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = Fields::checked(&s, &body) {
        return r.into_response();
    }
    let Ok(id) = id.parse::<TokenId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state.engine.revoke_token(&s.caller, id).await {
        Ok(()) => Redirect::to("/console/tokens?revoked=1").into_response(),
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => unavailable(&e.to_string()),
    }
}
