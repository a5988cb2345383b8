//! Submitted forms: fields by name, repeated names kept (the Errors list submits one
//! `ids` per checked row), and the CSRF check every form goes through.

use crate::session::Session;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A submitted `application/x-www-form-urlencoded` body.
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses a body; refuses it unless it carries the session's CSRF token.
    pub(crate) fn checked(s: &Session, body: &Bytes) -> Result<Fields, Forbidden> {
        let f = Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        );
        if s.csrf_ok(f.get("csrf").unwrap_or_default()) {
            Ok(f)
        } else {
            Err(Forbidden)
        }
    }

    /// The first value of a field, if present and not blank.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every value of a field.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A form without the session's CSRF token: 403, nothing changed.
#[derive(Debug)]
pub(crate) struct Forbidden;

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        (StatusCode::FORBIDDEN, "csrf").into_response()
    }
}
