//! Errors as `application/problem+json` (RFC 9457) with a stable `code`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ponte_core::ErrorCode;
use ponte_engine::EngineError;
use serde::Serialize;

/// A problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code (docs/errors.md).
    pub code: &'static str,
    /// What went wrong, for humans. A server error says only that it happened: the
    /// full error is in the log under `request_id`.
    pub detail: String,
    /// Set on server errors: the id the log records the full error under.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub request_id: Option<Box<str>>,
}

impl Problem {
    /// A problem with this code (its HTTP status comes from the code table) and detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        let status = code
            .http_status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            kind: format!("https://ponte.dev/problems/{code}"),
            title: code.title(),
            status: status.as_u16(),
            code: code.as_str(),
            detail: detail.into(),
            request_id: None,
        }
    }

    /// A server error: a generic detail and a fresh request id; the full error goes to
    /// the log under that id, never to the client.
    pub fn internal(code: ErrorCode, error: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        tracing::error!(request_id = %id, %code, error = %error, "request failed");
        Self {
            request_id: Some(id.clone().into()),
            ..Self::new(
                code,
                format!("ponte could not complete this request; the operator can find it in the log as request {id}"),
            )
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        if code.http_status().is_none_or(|s| s >= 500) {
            return Problem::internal(code, &e);
        }
        Problem::new(code, e.to_string())
    }
}

/// Handler result.
pub(crate) type ApiResult<T> = Result<T, Problem>;
