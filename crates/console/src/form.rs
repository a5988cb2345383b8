//! Submitted forms: fields by name, repeated names kept (the Errors list submits one
//! `ids` per checked row), file uploads (`multipart/form-data`, read by axum's
//! extractor), the CSRF check every form goes through, and a refused form's values
//! and refusals by field.

use crate::refusal::Refusal;
use crate::session::Session;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A submitted form (`application/x-www-form-urlencoded` or `multipart/form-data`).
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pairs: Vec<(String, String)>,
    /// Uploaded files whose content is not UTF-8 text (kept out of `pairs`).
    binary: Vec<String>,
}

/// A multipart body as read.
#[derive(Debug)]
pub(crate) enum Upload {
    /// Whole, with the session's CSRF token.
    Read(Fields),
    /// Past the route's body limit: not read (the fields come before the CSRF check;
    /// the page only refuses the body, which changes nothing).
    TooLarge,
}

impl Fields {
    /// Parses a url-encoded body; refuses it unless it carries the session's CSRF token.
    pub(crate) fn checked(s: &Session, body: &Bytes) -> Result<Fields, Forbidden> {
        let pairs = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Fields {
            pairs,
            ..Fields::default()
        }
        .csrf(s)
    }

    /// Reads a multipart body (a form with a file input) up to the route's body limit;
    /// refuses it unless it carries the session's CSRF token (403), or when it is not
    /// multipart as it says (400).
    pub(crate) async fn checked_multipart(
        s: &Session,
        mut body: Multipart,
    ) -> Result<Upload, Response> {
        let mut f = Fields::default();
        let too_large = |e: &MultipartError| e.status() == StatusCode::PAYLOAD_TOO_LARGE;
        loop {
            let field = match body.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) if too_large(&e) => return Ok(Upload::TooLarge),
                Err(e) => return Err(e.into_response()),
            };
            let name = field.name().unwrap_or_default().to_owned();
            match field.bytes().await {
                Ok(content) => match String::from_utf8(content.to_vec()) {
                    Ok(v) => f.pairs.push((name, v)),
                    Err(_) => f.binary.push(name),
                },
                Err(e) if too_large(&e) => return Ok(Upload::TooLarge),
                Err(e) => return Err(e.into_response()),
            }
        }
        f.csrf(s)
            .map(Upload::Read)
            .map_err(IntoResponse::into_response)
    }

    fn csrf(self, s: &Session) -> Result<Fields, Forbidden> {
        if s.csrf_ok(self.get("csrf").unwrap_or_default()) {
            Ok(self)
        } else {
            Err(Forbidden)
        }
    }

    /// The first value of a field, if present and not blank.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every value of a field.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether an uploaded file of this field is not UTF-8 text.
    pub(crate) fn binary(&self, name: &str) -> bool {
        self.binary.iter().any(|b| b == name)
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

/// A form shown again: the values submitted and the refusals by field (the field
/// `form` stands for the whole form).
#[derive(Debug, Default)]
pub(crate) struct Form {
    values: Vec<(&'static str, String)>,
    errors: Vec<(&'static str, Refusal)>,
}

impl Form {
    /// Keeps a value to show again.
    pub(crate) fn set(&mut self, field: &'static str, value: impl Into<String>) {
        self.values.retain(|(k, _)| *k != field);
        self.values.push((field, value.into()));
    }

    /// The value to show in a field (empty when none).
    pub(crate) fn value(&self, field: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| *k == field)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Refuses a field (the first refusal of a field stays).
    pub(crate) fn refuse(&mut self, field: &'static str, why: Refusal) {
        if self.error(field).is_none() {
            self.errors.push((field, why));
        }
    }

    /// A field's refusal.
    pub(crate) fn error(&self, field: &str) -> Option<&Refusal> {
        self.errors
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v)
    }

    /// Whether anything was refused.
    pub(crate) fn refused(&self) -> bool {
        !self.errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_core::ErrorCode;

    #[test]
    fn a_form_keeps_values_and_the_first_refusal_of_a_field() {
        let mut f = Form::default();
        f.set("sku", "A");
        f.set("sku", "B");
        assert_eq!((f.value("sku"), f.value("other")), ("B", ""));
        assert!(!f.refused());
        f.refuse("sku", Refusal::console(ErrorCode::UnknownSku, ""));
        f.refuse("sku", Refusal::console(ErrorCode::ValidationFailed, "x"));
        assert_eq!(f.error("sku").map(|r| r.code), Some("unknown_sku"));
        assert!(f.refused() && f.error("other").is_none());
    }
}
