//! Rendering a page: the chrome every page shares (catalogue, navigation, CSRF token,
//! language switch) and turning a template into a response.

use crate::i18n::{Catalogue, Lang};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use ponte_core::Role;

/// What the layout needs on every page.
pub(crate) struct Chrome<'a> {
    /// The strings.
    pub t: &'a Catalogue,
    /// The session's CSRF token (empty before sign-in).
    pub csrf: String,
    /// The navigation entry to highlight (`orders`, `errors`, ...).
    pub active: &'static str,
    /// Where the language switch comes back to.
    pub here: String,
    /// What the session may do (pages hide the forms it may not post).
    pub role: Role,
    /// Who is signed in (a person's e-mail, a token's name).
    pub who: String,
    /// Dates are shown in this zone.
    tz: chrono_tz::Tz,
}

impl<'a> Chrome<'a> {
    /// A signed-in page's chrome.
    pub(crate) fn new(state: &'a Console, s: &Session, active: &'static str, here: &str) -> Self {
        Chrome {
            t: state.catalogues.get(s.lang),
            csrf: s.csrf.clone(),
            active,
            here: crate::format::url_encode(here),
            role: s.caller.role,
            who: s.caller.actor.name.clone(),
            tz: state.time_zone,
        }
    }

    /// The sign-in page's chrome.
    pub(crate) fn signed_out(state: &'a Console, lang: Lang, csrf: String) -> Self {
        Chrome {
            t: state.catalogues.get(lang),
            csrf,
            active: "",
            here: crate::format::url_encode("/console/login"),
            role: Role::Viewer,
            who: String::new(),
            tz: state.time_zone,
        }
    }

    /// Whether the session may post to this console route (a path template such as
    /// `/orders/{id}/invoice`): the access table decides, as it does for the post.
    pub(crate) fn may(&self, path: &str) -> bool {
        crate::access::may_post(self.role, path)
    }

    /// Whether the session is an admin's (the admin pages' links).
    pub(crate) fn admin(&self) -> bool {
        self.role.allows(Role::Admin)
    }

    /// The other language (the switch offers it).
    pub(crate) fn other_lang(&self) -> &'static str {
        match self.t.lang() {
            Lang::PtBr => Lang::En.tag(),
            Lang::En => Lang::PtBr.tag(),
        }
    }

    /// A date and time in the tenant's zone.
    pub(crate) fn dt(&self, at: &DateTime<Utc>) -> String {
        crate::format::date_time(*at, self.tz)
    }

    /// A date and time with seconds.
    pub(crate) fn dts(&self, at: &DateTime<Utc>) -> String {
        crate::format::date_time_s(*at, self.tz)
    }
}

/// A rendered template as an HTML response (500 when rendering fails, logged).
pub(crate) fn page(t: &impl Template) -> Response {
    page_with(StatusCode::OK, t)
}

/// The same with another status (a refused form answers 422 with the form again).
pub(crate) fn page_with(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
