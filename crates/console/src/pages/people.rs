//! Pessoas (admin): the tenant's people with their role and state, a form to add one
//! (the answer shows their one-time link to set a password, once), a role and
//! enabled switch per person (a change ends their sessions), and a new password link.
//! The engine records each change in the audit trail.

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
use ponte_core::{ErrorCode, Role, UserId};
use ponte_engine::{EngineError, UserInput, UserPatch};
use ponte_store::User;
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/people", get(list).post(add))
        .route("/people/{id}", post(update))
        .route("/people/{id}/link", post(link))
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage<'a> {
    chrome: Chrome<'a>,
    people: Vec<User>,
    roles: [Role; 3],
    /// The add form as submitted, with its refusals.
    form: Form,
    /// A one-time link to hand to a person (shown once): (e-mail, link).
    link: Option<(String, String)>,
    /// A person was just changed.
    saved: bool,
}

#[derive(Deserialize, Default)]
struct Notice {
    saved: Option<String>,
}

async fn list(State(state): State<Console>, s: Session, Query(q): Query<Notice>) -> Response {
    render(&state, &s, Form::default(), None, q.saved.is_some()).await
}

async fn render(
    state: &Console,
    s: &Session,
    form: Form,
    link: Option<(String, String)>,
    saved: bool,
) -> Response {
    let people = match state.engine.users(s.tenant).await {
        Ok(p) => p,
        Err(e) => return unavailable(&e.to_string()),
    };
    let status = if form.refused() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let p = PeoplePage {
        chrome: Chrome::new(state, s, "people", "/console/people"),
        people,
        roles: Role::ALL,
        form,
        link,
        saved,
    };
    page_with(status, &p)
}

/// The role a form names (`viewer` when absent).
fn role_of(f: &Fields) -> Option<Role> {
    f.get("role").unwrap_or("viewer").parse().ok()
}

/// Adds a person without a password: the page shows the link to set one.
async fn add(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let mut form = Form::default();
    for k in ["email", "name", "role"] {
        form.set(k, f.get(k).unwrap_or_default());
    }
    let t = state.catalogues.get(s.lang);
    let Some(role) = role_of(&f) else {
        let why = Refusal::console(ErrorCode::ValidationFailed, t.s("people.not_a_role"));
        form.refuse("role", why);
        return render(&state, &s, form, None, false).await;
    };
    let input = UserInput {
        email: f.get("email").unwrap_or_default().to_owned(),
        name: f.get("name").unwrap_or_default().to_owned(),
        role,
        password: None,
    };
    match state.engine.create_user(&s.caller, input).await {
        Ok((u, link)) => {
            let link = link.map(|l| (u.email, l));
            render(&state, &s, Form::default(), link, false).await
        }
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                form.refuse(field_of(&e), why);
                render(&state, &s, form, None, false).await
            }
            None => unavailable(&e.to_string()),
        },
    }
}

/// The add form's field a refusal concerns.
fn field_of(e: &EngineError) -> &'static str {
    let text = e.to_string();
    if e.code() == ErrorCode::EmailTaken || text.starts_with("email") {
        "email"
    } else if text.starts_with("name") {
        "name"
    } else {
        "form"
    }
}

/// Saves a person's role and state (a change ends their sessions).
async fn update(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let Ok(id) = id.parse::<UserId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(role) = role_of(&f) else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let patch = UserPatch {
        role: Some(role),
        enabled: Some(f.get("enabled") == Some("true")),
        ..UserPatch::default()
    };
    match state.engine.update_user(&s.caller, id, patch).await {
        Ok(_) => Redirect::to("/console/people?saved=1").into_response(),
        Err(EngineError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// A new one-time password link for a person (the previous one stops working).
async fn link(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = Fields::checked(&s, &body) {
        return r.into_response();
    }
    let Ok(id) = id.parse::<UserId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let u = match state.engine.user(s.tenant, id).await {
        Ok(u) => u,
        Err(EngineError::NotFound(_)) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return unavailable(&e.to_string()),
    };
    match state
        .engine
        .password_reset_link(&s.caller.actor, &u.email)
        .await
    {
        Ok(l) => render(&state, &s, Form::default(), Some((u.email, l)), false).await,
        Err(e) => unavailable(&e.to_string()),
    }
}
