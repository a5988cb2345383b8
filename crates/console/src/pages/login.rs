//! Signing in (a person's e-mail and password, or an API token for the first start),
//! signing out, switching language.

use crate::i18n::{Lang, LANG_COOKIE};
use crate::render::{page, page_with, Chrome};
use crate::session::{
    random_token, same, session_value, set_cookie, signed_cookie, Opener, Session, LOGIN_COOKIE,
    SESSION_COOKIE,
};
use crate::Console;
use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use ponte_core::{ErrorCode, TenantId};
use serde::Deserialize;
use std::convert::Infallible;
use std::net::SocketAddr;

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
    /// The e-mail typed (shown again after a refusal).
    email: String,
    /// Why the e-mail and password were refused.
    error: Option<&'a str>,
    /// Why the token was refused.
    token_error: Option<&'a str>,
    /// A password was just set with a one-time link.
    password_set: bool,
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
    password_set: Option<String>,
}

/// The address a request comes from: the connection's peer when the server gives it
/// (`into_make_service_with_connect_info`), else one shared name. Headers such as
/// `X-Forwarded-For` are not trusted (anyone can send them).
pub(crate) struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
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
        email: String::new(),
        error: None,
        token_error: None,
        password_set: q.password_set.is_some(),
    };
    with_login_cookie(&state, nonce, page(&p))
}

/// Sets the sign-in form's CSRF cookie (the password page uses it too).
pub(crate) fn with_login_cookie(state: &Console, nonce: String, mut resp: Response) -> Response {
    if let Some(c) = set_cookie(state, LOGIN_COOKIE, Some(nonce), true) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Either form of the sign-in page: e-mail and password, or a token.
#[derive(Deserialize)]
struct SignIn {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
    csrf: String,
    next: Option<String>,
}

async fn sign_in(
    State(state): State<Console>,
    headers: HeaderMap,
    ClientAddress(address): ClientAddress,
    Form(f): Form<SignIn>,
) -> Response {
    let lang = Lang::of(&headers);
    let t = state.catalogues.get(lang);
    let by_token = !f.token.trim().is_empty();
    let refuse = |status: StatusCode, msg: &'static str| {
        let nonce = random_token();
        let why = Some(t.s(msg));
        let p = LoginPage {
            chrome: Chrome::signed_out(&state, lang, nonce.clone()),
            next: next_path(f.next.clone()),
            email: f.email.trim().to_owned(),
            error: if by_token { None } else { why },
            token_error: if by_token { why } else { None },
            password_set: false,
        };
        with_login_cookie(&state, nonce, page_with(status, &p))
    };
    let expected = signed_cookie(&state.keys, &headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &f.csrf) {
        return refuse(StatusCode::FORBIDDEN, "login.expired");
    }
    let opened = if by_token {
        let hash = ponte_engine::hash_token(f.token.trim());
        state
            .engine
            .authenticate_hash(&hash)
            .await
            .map(|c| (c.tenant, Opener::Token(hash)))
    } else {
        state
            .engine
            .sign_in(&f.email, &f.password, &address)
            .await
            .map(|u| (u.tenant_id, Opener::Person(u.id, u.session_epoch)))
    };
    match opened {
        Ok((tenant, who)) => open_session(&state, tenant, &who, &next_path(f.next)),
        Err(e) if e.code() == ErrorCode::TooManyAttempts => {
            refuse(StatusCode::TOO_MANY_REQUESTS, "login.too_many_attempts")
        }
        Err(e) if e.code() == ErrorCode::TenantDisabled => {
            refuse(StatusCode::FORBIDDEN, "code.tenant_disabled")
        }
        Err(e) if e.code().http_status().is_some_and(|s| s < 500) => {
            let msg = if by_token {
                "login.invalid_token"
            } else {
                "login.invalid_login"
            };
            refuse(StatusCode::UNAUTHORIZED, msg)
        }
        Err(e) => {
            tracing::error!(error = %e, "console: sign-in failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "common.unavailable")
        }
    }
}

/// Opens a session and goes on to `next`.
fn open_session(state: &Console, tenant: TenantId, who: &Opener, next: &str) -> Response {
    let value = session_value(tenant, who, chrono::Utc::now());
    let mut resp = Redirect::to(next).into_response();
    let h = resp.headers_mut();
    if let Some(c) = set_cookie(state, SESSION_COOKIE, Some(value), true) {
        h.append(header::SET_COOKIE, c);
    }
    if let Some(c) = set_cookie(state, LOGIN_COOKIE, None, false) {
        h.append(header::SET_COOKIE, c);
    }
    tracing::info!(%tenant, "console: signed in");
    resp
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
