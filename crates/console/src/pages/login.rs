//! Signing in with an API token, signing out, switching language.

use crate::i18n::{Lang, LANG_COOKIE};
use crate::render::{page, page_with, Chrome};
use crate::session::{
    random_token, same, session_value, set_cookie, signed_cookie, Session, LOGIN_COOKIE,
    SESSION_COOKIE,
};
use crate::Console;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/login", get(form).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/lang/{tag}", get(switch_lang))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    chrome: Chrome<'a>,
    next: String,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only console paths: never an open redirect.
fn next_path(next: Option<String>) -> String {
    next.filter(|n| n.starts_with("/console") && !n.starts_with("/console//"))
        .unwrap_or_else(|| "/console/orders".to_owned())
}

async fn form(State(state): State<Console>, headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let nonce = random_token();
    let lang = Lang::of(&headers);
    let p = LoginPage {
        chrome: Chrome::signed_out(&state, lang, nonce.clone()),
        next: next_path(q.next),
        error: None,
    };
    with_login_cookie(&state, nonce, page(&p))
}

fn with_login_cookie(state: &Console, nonce: String, mut resp: Response) -> Response {
    if let Some(c) = set_cookie(state, LOGIN_COOKIE, Some(nonce), true) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
    csrf: String,
    next: Option<String>,
}

async fn sign_in(
    State(state): State<Console>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = state.catalogues.get(lang);
    let refuse = |status: StatusCode, msg: &'static str| {
        let nonce = random_token();
        let p = LoginPage {
            chrome: Chrome::signed_out(&state, lang, nonce.clone()),
            next: next_path(f.next.clone()),
            error: Some(t.s(msg)),
        };
        with_login_cookie(&state, nonce, page_with(status, &p))
    };
    let expected = signed_cookie(&state.keys, &headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &f.csrf) {
        return refuse(StatusCode::FORBIDDEN, "login.expired");
    }
    let token = f.token.trim();
    let hash = ponte_engine::hash_token(token);
    match state.engine.authenticate_hash(&hash).await {
        Ok(caller) => {
            let tenant = caller.tenant;
            let value = session_value(tenant, &hash, chrono::Utc::now());
            let mut resp = Redirect::to(&next_path(f.next)).into_response();
            let h = resp.headers_mut();
            if let Some(c) = set_cookie(&state, SESSION_COOKIE, Some(value), true) {
                h.append(header::SET_COOKIE, c);
            }
            if let Some(c) = set_cookie(&state, LOGIN_COOKIE, None, false) {
                h.append(header::SET_COOKIE, c);
            }
            tracing::info!(%tenant, "console: signed in");
            resp
        }
        Err(e) if e.code().http_status().is_some_and(|s| s < 500) => {
            refuse(StatusCode::UNAUTHORIZED, "login.invalid_token")
        }
        Err(e) => {
            tracing::error!(error = %e, "console: sign-in failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "common.unavailable")
        }
    }
}

#[derive(Deserialize)]
struct Csrf {
    csrf: String,
}

async fn sign_out(State(state): State<Console>, s: Session, Form(f): Form<Csrf>) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let mut resp = Redirect::to("/console/login").into_response();
    if let Some(c) = set_cookie(&state, SESSION_COOKIE, None, false) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// Remembers the language in a cookie and goes back to the page.
async fn switch_lang(
    State(state): State<Console>,
    Path(tag): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let Some(lang) = Lang::parse(&tag) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut resp = Redirect::to(&next_path(q.back)).into_response();
    if let Some(c) = set_cookie(&state, LANG_COOKIE, Some(lang.tag().to_owned()), false) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::next_path;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(next_path(None), "/console/orders");
        assert_eq!(
            next_path(Some("/console/errors?x=1".into())),
            "/console/errors?x=1"
        );
        assert_eq!(
            next_path(Some("https://evil.example".into())),
            "/console/orders"
        );
        assert_eq!(next_path(Some("//evil.example".into())), "/console/orders");
        assert_eq!(
            next_path(Some("/console//evil.example".into())),
            "/console/orders"
        );
    }
}
