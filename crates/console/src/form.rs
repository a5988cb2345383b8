//! Submitted forms: fields by name, repeated names kept (the Errors list submits one
//! `ids` per checked row), file uploads (`multipart/form-data`), the CSRF check every
//! form goes through, and a refused form's values and messages by field.

use crate::session::Session;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// A submitted form (`application/x-www-form-urlencoded` or `multipart/form-data`).
pub(crate) struct Fields {
    pairs: Vec<(String, String)>,
    /// Uploaded files whose content is not UTF-8 text (kept out of `pairs`).
    binary: Vec<String>,
}

impl Fields {
    /// Parses a url-encoded body; refuses it unless it carries the session's CSRF token.
    pub(crate) fn checked(s: &Session, body: &Bytes) -> Result<Fields, Forbidden> {
        let pairs = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Fields {
            pairs,
            binary: vec![],
        }
        .csrf(s)
    }

    /// Parses a body of either encoding (forms with a file input are multipart);
    /// refuses it unless it carries the session's CSRF token.
    pub(crate) fn checked_upload(
        s: &Session,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Fields, Forbidden> {
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(multipart_boundary);
        let Some(boundary) = boundary else {
            return Self::checked(s, body);
        };
        let mut f = Fields {
            pairs: vec![],
            binary: vec![],
        };
        for (name, content) in multipart_parts(body, boundary.as_bytes()) {
            match String::from_utf8(content.to_vec()) {
                Ok(v) => f.pairs.push((name, v)),
                Err(_) => f.binary.push(name),
            }
        }
        f.csrf(s)
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

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty()).then(|| v.to_owned())
    })
}

/// The named parts of a multipart body (RFC 7578): (field name, content). Parts
/// without a name, and anything after a malformed part, are left out.
fn multipart_parts<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<(String, &'a [u8])> {
    let delimiter = [b"--".as_slice(), boundary].concat();
    let mut out = vec![];
    // The first delimiter may open the body; the others follow a CRLF.
    let Some(mut at) = find(body, &delimiter) else {
        return out;
    };
    loop {
        let rest = &body[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(head_start) = find(rest, b"\r\n") else {
            break;
        };
        let part = &rest[head_start + 2..];
        let Some(head_end) = find(part, b"\r\n\r\n") else {
            break;
        };
        let content = &part[head_end + 4..];
        let closing = [b"\r\n".as_slice(), &delimiter].concat();
        let Some(len) = find(content, &closing) else {
            break;
        };
        if let Some(name) = part_name(&part[..head_end]) {
            out.push((name, &content[..len]));
        }
        at = body.len() - content.len() + len + 2;
    }
    out
}

/// The `name` of a part's `Content-Disposition: form-data` header.
fn part_name(head: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(head);
    head.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if !k.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        v.split(';').skip(1).find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
        })
    })
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A form without the session's CSRF token: 403, nothing changed.
#[derive(Debug)]
pub(crate) struct Forbidden;

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        (StatusCode::FORBIDDEN, "csrf").into_response()
    }
}

/// A form shown again: the values submitted and the refusals by field, each a
/// catalogue key (the field `form` stands for the whole form).
#[derive(Debug, Default)]
pub(crate) struct Form {
    values: Vec<(&'static str, String)>,
    errors: Vec<(&'static str, String)>,
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

    /// Refuses a field with a catalogue key (the first refusal of a field stays).
    pub(crate) fn refuse(&mut self, field: &'static str, key: impl Into<String>) {
        if self.error(field).is_none() {
            self.errors.push((field, key.into()));
        }
    }

    /// Refuses a field with an error code's message.
    pub(crate) fn refuse_code(&mut self, field: &'static str, code: ponte_core::ErrorCode) {
        self.refuse(field, format!("code.{}", code.as_str()));
    }

    /// The catalogue key of a field's refusal.
    pub(crate) fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v.as_str())
    }

    /// Whether anything was refused.
    pub(crate) fn refused(&self) -> bool {
        !self.errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_give_their_named_parts() {
        let ct = "multipart/form-data; boundary=----x1";
        let b = multipart_boundary(ct).unwrap();
        assert_eq!(b, "----x1");
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert!(multipart_boundary("application/x-www-form-urlencoded").is_none());
        let body = "------x1\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
            ------x1\r\nContent-Disposition: form-data; name=\"xml\"; filename=\"n.xml\"\r\n\
            Content-Type: text/xml\r\n\r\n<a>\r\n--</a>\r\n------x1\r\n\
            Content-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n------x1--\r\n";
        let parts = multipart_parts(body.as_bytes(), b.as_bytes());
        let got: Vec<(&str, &str)> = parts
            .iter()
            .map(|(k, v)| (k.as_str(), std::str::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![("csrf", "abc"), ("xml", "<a>\r\n--</a>"), ("empty", "")]
        );
        // Truncated: what came whole is kept.
        let cut = &body[..body.find("<a>").unwrap()];
        assert_eq!(multipart_parts(cut.as_bytes(), b.as_bytes()).len(), 1);
        assert!(multipart_parts(b"nothing", b"x").is_empty());
    }

    #[test]
    fn a_form_keeps_values_and_the_first_refusal_of_a_field() {
        let mut f = Form::default();
        f.set("sku", "A");
        f.set("sku", "B");
        assert_eq!((f.value("sku"), f.value("other")), ("B", ""));
        assert!(!f.refused());
        f.refuse_code("sku", ponte_core::ErrorCode::UnknownSku);
        f.refuse("sku", "x.y");
        assert_eq!(f.error("sku"), Some("code.unknown_sku"));
        assert!(f.refused() && f.error("other").is_none());
    }
}
