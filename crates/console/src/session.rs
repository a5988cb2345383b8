//! Console sessions: a signed cookie (`HttpOnly`, `SameSite=Lax`, `Secure` behind
//! https) holding the tenant, the hash of the API token that opened it (checked again
//! on every request, so a revoked token closes its sessions), an expiry and the
//! session's CSRF token, which every form sends back.

use crate::i18n::Lang;
use crate::Console;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use cookie::{Cookie, CookieJar, Key, SameSite};
use ponte_core::TenantId;
use subtle::ConstantTimeEq;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "ponte_session";
/// The sign-in form's CSRF cookie (before there is a session).
pub(crate) const LOGIN_COOKIE: &str = "ponte_login";
/// How long a session lasts.
const SESSION_HOURS: i64 = 12;

/// The signing key.
pub(crate) struct Keys {
    key: Key,
}

impl Keys {
    pub(crate) fn new(secret: &[u8; 32]) -> Self {
        Keys {
            key: Key::derive_from(secret),
        }
    }
}

/// A signed-in operator.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Whose data the pages show.
    pub tenant: TenantId,
    /// Every form carries it back.
    pub csrf: String,
    /// The language the pages speak.
    pub lang: Lang,
}

impl Session {
    /// Whether a submitted CSRF token is this session's (constant time).
    pub(crate) fn csrf_ok(&self, given: &str) -> bool {
        same(&self.csrf, given)
    }
}

/// Constant-time equality of two tokens.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A fresh random token (CSRF, login nonce).
pub(crate) fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

/// One cookie's value from the request (unsigned cookies only: the language).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    jar(headers).get(name).map(|c| c.value().to_owned())
}

/// A signed cookie's value, if its signature holds.
pub(crate) fn signed_cookie(keys: &Keys, headers: &HeaderMap, name: &str) -> Option<String> {
    jar(headers)
        .signed(&keys.key)
        .get(name)
        .map(|c| c.value().to_owned())
}

fn jar(headers: &HeaderMap) -> CookieJar {
    let mut jar = CookieJar::new();
    for v in headers.get_all(header::COOKIE) {
        if let Ok(s) = v.to_str() {
            for c in Cookie::split_parse(s).flatten() {
                jar.add_original(c.into_owned());
            }
        }
    }
    jar
}

/// `Set-Cookie` for a cookie scoped to the console, signed when `keys` is given;
/// `value: None` removes it.
pub(crate) fn set_cookie(
    state: &Console,
    name: &'static str,
    value: Option<String>,
    signed: bool,
) -> Option<HeaderValue> {
    let mut c = Cookie::build((name, value.clone().unwrap_or_default()))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .build();
    if value.is_none() {
        c.make_removal();
    }
    let mut jar = CookieJar::new();
    if signed && value.is_some() {
        jar.signed_mut(&state.keys.key).add(c);
    } else {
        jar.add(c);
    }
    let out = jar.delta().next()?.to_string();
    HeaderValue::from_str(&out).ok()
}

/// The session cookie's value for a tenant signed in with a token's hash.
pub(crate) fn session_value(tenant: TenantId, token_hash: &str, now: DateTime<Utc>) -> String {
    let expires = now.timestamp() + SESSION_HOURS * 3600;
    format!("{tenant}|{token_hash}|{expires}|{}", random_token())
}

/// Parsed session cookie: (tenant, token hash, expiry, csrf).
fn parse_value(v: &str) -> Option<(TenantId, &str, i64, &str)> {
    let mut it = v.split('|');
    let tenant = it.next()?.parse().ok()?;
    let hash = it.next()?;
    let expires = it.next()?.parse().ok()?;
    let csrf = it.next()?;
    it.next().is_none().then_some((tenant, hash, expires, csrf))
}

impl FromRequestParts<Console> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Console) -> Result<Self, Response> {
        let to_login = || {
            // Nested under `/console`: the original URI has the whole path.
            let uri = parts
                .extensions
                .get::<OriginalUri>()
                .map_or(&parts.uri, |o| &o.0);
            let next = uri.path_and_query().map_or("/console", |p| p.as_str());
            sign_in_again(next, parts.headers.contains_key("hx-request"))
        };
        let Some(value) = signed_cookie(&state.keys, &parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let Some((tenant, hash, expires, csrf)) = parse_value(&value) else {
            return Err(to_login());
        };
        if expires <= Utc::now().timestamp() {
            return Err(to_login());
        }
        match state.engine.authenticate_hash(hash).await {
            Ok(c) if c.tenant == tenant => Ok(Session {
                tenant,
                csrf: csrf.to_owned(),
                lang: Lang::of(&parts.headers),
            }),
            Ok(_) => Err(to_login()),
            Err(e) if e.code().http_status().is_some_and(|s| s < 500) => Err(to_login()),
            Err(e) => {
                tracing::error!(error = %e, "console: checking a session failed");
                Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
            }
        }
    }
}

/// Back to the sign-in page (htmx follows `HX-Redirect` instead of swapping the page
/// in), then to `next`.
fn sign_in_again(next: &str, htmx: bool) -> Response {
    let to = format!("/console/login?next={}", crate::format::url_encode(next));
    if htmx {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        return r;
    }
    Redirect::to(&to).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_value_parses_back() {
        let t = TenantId(uuid::Uuid::nil());
        let v = session_value(t, "abc", Utc::now());
        let (tenant, hash, exp, csrf) = parse_value(&v).unwrap();
        assert_eq!((tenant, hash), (t, "abc"));
        assert!(exp > Utc::now().timestamp());
        assert_eq!(csrf.len(), 32);
        assert!(parse_value("x|y").is_none());
        assert!(parse_value(&format!("{v}|extra")).is_none());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
