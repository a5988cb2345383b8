//! Setting a password with a one-time link (`/console/password?token=...`, printed by
//! `ponte user reset-password` or answered when a person is added without one); then
//! the person signs in.

use crate::form::Form;
use crate::i18n::Lang;
use crate::pages::login::with_login_cookie;
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::{random_token, same, signed_cookie, LOGIN_COOKIE};
use crate::Console;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form as Posted, Router};
use ponte_core::ErrorCode;
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/password", get(show).post(set))
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    chrome: Chrome<'a>,
    /// The link's token, carried by the form.
    token: String,
    /// Whether the link still works.
    valid: bool,
    form: Form,
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    token: String,
}

fn render(state: &Console, lang: Lang, token: String, valid: bool, form: Form) -> Response {
    let status = if !valid {
        StatusCode::GONE
    } else if form.refused() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let nonce = random_token();
    let p = PasswordPage {
        chrome: Chrome::signed_out(state, lang, nonce.clone()),
        token,
        valid,
        form,
    };
    with_login_cookie(state, nonce, page_with(status, &p))
}

async fn show(State(state): State<Console>, headers: HeaderMap, Query(q): Query<Link>) -> Response {
    match state.engine.reset_token_valid(&q.token).await {
        Ok(valid) => render(&state, Lang::of(&headers), q.token, valid, Form::default()),
        Err(e) => unavailable(&e.to_string()),
    }
}

#[derive(Deserialize)]
struct NewPassword {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
}

/// Sets the password (the link stops working, the person's sessions end) and goes to
/// the sign-in page; a refusal shows next to the field.
async fn set(
    State(state): State<Console>,
    headers: HeaderMap,
    Posted(f): Posted<NewPassword>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = state.catalogues.get(lang);
    let mut form = Form::default();
    let expected = signed_cookie(&state.keys, &headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &f.csrf) {
        let why = Refusal::console(ErrorCode::InvalidRequest, t.s("login.expired"));
        form.refuse("password", why);
        return render(&state, lang, f.token, true, form);
    }
    if f.password != f.confirm {
        let why = Refusal::console(ErrorCode::ValidationFailed, t.s("password.mismatch"));
        form.refuse("confirm", why);
        return render(&state, lang, f.token, true, form);
    }
    match state
        .engine
        .set_password_with_link(&f.token, &f.password)
        .await
    {
        Ok(_) => Redirect::to("/console/login?password_set=1").into_response(),
        Err(e) if e.code() == ErrorCode::InvalidLogin => {
            render(&state, lang, f.token, false, Form::default())
        }
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                form.refuse("password", why);
                render(&state, lang, f.token, true, form)
            }
            None => unavailable(&e.to_string()),
        },
    }
}
