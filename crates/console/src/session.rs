//! Console sessions: a signed cookie (`HttpOnly`, `SameSite=Lax`, `Secure` behind
//! https) holding the tenant, who opened it (the hash of an API token, or a person's
//! id and session epoch), an expiry and the session's CSRF token, which every form
//! sends back. Who it is is checked again through the engine on every request: a
//! revoked token, a disabled person, a new password or role, or a disabled tenant
//! closes the session.

use crate::i18n::Lang;
use crate::Console;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use cookie::{Cookie, CookieJar, Key, SameSite};
use ponte_core::{TenantId, UserId};
use ponte_engine::Caller;
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
    /// Who it is and what they may do.
    pub caller: Caller,
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

/// Who opened a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opener {
    /// An API token, by its hash.
    Token(String),
    /// A person, with the session epoch they signed in at.
    Person(UserId, i64),
}

impl Opener {
    fn encode(&self) -> String {
        match self {
            Opener::Token(hash) => format!("t|{hash}"),
            Opener::Person(id, epoch) => format!("u|{id}.{epoch}"),
        }
    }

    fn decode(kind: &str, who: &str) -> Option<Opener> {
        match kind {
            "t" => Some(Opener::Token(who.to_owned())),
            "u" => {
                let (id, epoch) = who.split_once('.')?;
                Some(Opener::Person(id.parse().ok()?, epoch.parse().ok()?))
            }
            _ => None,
        }
    }
}

/// The session cookie's value for a tenant signed in by `who`.
pub(crate) fn session_value(tenant: TenantId, who: &Opener, now: DateTime<Utc>) -> String {
    let expires = now.timestamp() + SESSION_HOURS * 3600;
    format!("{tenant}|{}|{expires}|{}", who.encode(), random_token())
}

/// Parsed session cookie: (tenant, opener, expiry, csrf).
fn parse_value(v: &str) -> Option<(TenantId, Opener, i64, &str)> {
    let mut it = v.split('|');
    let tenant = it.next()?.parse().ok()?;
    let who = Opener::decode(it.next()?, it.next()?)?;
    let expires = it.next()?.parse().ok()?;
    let csrf = it.next()?;
    it.next().is_none().then_some((tenant, who, expires, csrf))
}

impl FromRequestParts<Console> for Session {
    type Rejection = Response;

    /// The session the access guard resolved, or resolved here.
    async fn from_request_parts(parts: &mut Parts, state: &Console) -> Result<Self, Response> {
        if let Some(s) = parts.extensions.get::<Session>() {
            return Ok(s.clone());
        }
        resolve(parts, state).await
    }
}

/// The request's session, checked through the engine; otherwise the way back to the
/// sign-in page (503 when the check itself failed).
pub(crate) async fn resolve(parts: &Parts, state: &Console) -> Result<Session, Response> {
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
    let Some((tenant, who, expires, csrf)) = parse_value(&value) else {
        return Err(to_login());
    };
    if expires <= Utc::now().timestamp() {
        return Err(to_login());
    }
    let checked = match &who {
        Opener::Token(hash) => state.engine.authenticate_hash(hash).await,
        Opener::Person(id, epoch) => state.engine.session_user(tenant, *id, *epoch).await,
    };
    match checked {
        Ok(caller) if caller.tenant == tenant => Ok(Session {
            tenant,
            caller,
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
        let token = Opener::Token("abc".into());
        let v = session_value(t, &token, Utc::now());
        let (tenant, who, exp, csrf) = parse_value(&v).unwrap();
        assert_eq!((tenant, who), (t, token));
        assert!(exp > Utc::now().timestamp());
        assert_eq!(csrf.len(), 32);
        assert!(parse_value("x|y").is_none());
        assert!(parse_value(&format!("{v}|extra")).is_none());
        let person = Opener::Person(UserId::new(), 3);
        let v = session_value(t, &person, Utc::now());
        assert_eq!(parse_value(&v).unwrap().1, person);
        assert!(parse_value(&v.replace("|u|", "|x|")).is_none());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
