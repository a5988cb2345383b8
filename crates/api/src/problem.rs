//! Errors as `application/problem+json` (RFC 9457) with a stable `code`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
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
    /// Stable machine-readable code.
    pub code: String,
    /// What went wrong, for humans. A server error says only that it happened: the
    /// full error is in the log under `request_id`.
    pub detail: String,
    /// Set on server errors: the id the log records the full error under.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub request_id: Option<Box<str>>,
}

impl Problem {
    /// A problem with this status, code and detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://ponte.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("error"),
            status: status.as_u16(),
            code: code.to_owned(),
            detail: detail.into(),
            request_id: None,
        }
    }

    /// A server error: a generic detail and a fresh request id; the full error goes to
    /// the log under that id, never to the client.
    pub fn internal(status: StatusCode, code: &str, error: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        tracing::error!(request_id = %id, code, error = %error, "request failed");
        Self {
            request_id: Some(id.clone().into()),
            ..Self::new(
                status,
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
        use ponte_engine::EngineError as E;
        let status = match &e {
            E::NotFound(_) | E::Store(ponte_store::StoreError::NotFound) => StatusCode::NOT_FOUND,
            E::Store(ponte_store::StoreError::Invalid(_)) => StatusCode::BAD_REQUEST,
            E::Config(_) | E::Invalid(_) | E::CredentialsRequired => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            E::Webhook(w) => match w.code() {
                "missing_signature" | "invalid_signature" => StatusCode::UNAUTHORIZED,
                "store_mismatch" => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            },
            E::ChannelDisabled => StatusCode::GONE,
            E::Action(_) | E::Busy(_) | E::InUse(_) => StatusCode::CONFLICT,
            E::Invoice(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::Stock(s) => match s {
                ponte_engine::StockError::SkuExists(_)
                | ponte_engine::StockError::WarehouseExists(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            E::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            E::Store(_) | E::Crypto | E::KeyMismatch => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            return Problem::internal(status, e.code(), &e);
        }
        Problem::new(status, e.code(), e.to_string())
    }
}

/// Handler result.
pub(crate) type ApiResult<T> = Result<T, Problem>;
