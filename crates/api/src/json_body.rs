//! JSON request bodies with stable codes: `unsupported_media_type` when the body is
//! not sent as JSON, `payload_too_large` over the route's limit, `malformed_json`
//! exactly when the body is not JSON, and `invalid_body` when it is JSON but not the
//! object the route takes. (serde_json calls some type mismatches syntax errors, e.g.
//! a number where an enum is expected; and an unknown field before a syntax error is
//! reported first: both are told apart here by checking the body is JSON at all.)

use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use ponte_core::ErrorCode;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};

/// A JSON body of type `T`; refused with a [`Problem`].
pub(crate) struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(req.headers()) {
            return Err(Problem::new(
                ErrorCode::UnsupportedMediaType,
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorCode::PayloadTooLarge
            } else {
                ErrorCode::MalformedJson
            };
            Problem::new(code, e.body_text())
        })?;
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => {
                let is_json = serde_json::from_slice::<IgnoredAny>(&bytes).is_ok();
                let code = if is_json {
                    ErrorCode::InvalidBody
                } else {
                    ErrorCode::MalformedJson
                };
                Err(Problem::new(code, e.body_text()))
            }
        }
    }
}

/// For an optional field of a body: keeps "absent" (None) apart from "null"
/// (Some(None)).
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `application/json` or `application/<anything>+json`, parameters aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = v
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn json_content_types() {
        let is = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            is_json(&h)
        };
        assert!(is("application/json"));
        assert!(is("Application/JSON; charset=utf-8"));
        assert!(is("application/problem+json"));
        assert!(!is("text/plain"));
        assert!(!is("application/jsonx"));
        assert!(!is("text/json"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
