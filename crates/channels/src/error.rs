//! Connector errors.

use ponte_core::ErrorCode;
use std::time::Duration;

/// Invalid channel settings or credentials.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A key the platform does not know.
    #[error("unknown setting `{0}`")]
    UnknownKey(String),
    /// A missing or wrong value.
    #[error("{0}")]
    Invalid(String),
    /// No such platform.
    #[error("unknown platform `{0}`")]
    UnknownPlatform(String),
    /// A URL ponte would call points to an address it must not reach.
    #[error("forbidden address: {0}")]
    ForbiddenAddress(String),
}

/// Why a webhook was refused. Each has a stable code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// No signature header.
    #[error("missing signature header {0}")]
    MissingSignature(&'static str),
    /// The signature does not match the body.
    #[error("invalid signature")]
    InvalidSignature,
    /// The body is not the JSON the platform sends.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// The notification is for another store.
    #[error("notification is for store {0}, not this channel's")]
    StoreMismatch(String),
}

impl WebhookError {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingSignature(_) => ErrorCode::MissingSignature,
            Self::InvalidSignature => ErrorCode::InvalidSignature,
            Self::Malformed(_) => ErrorCode::MalformedJson,
            Self::StoreMismatch(_) => ErrorCode::StoreMismatch,
        }
    }
}

/// How a platform call failed, which decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformErrorKind {
    /// 5xx, timeout, connection error: retry with backoff.
    Transient,
    /// 429: wait, without using an attempt.
    RateLimited(Duration),
    /// 401/403: held until the credentials change.
    Auth,
    /// 404: the resource does not exist.
    NotFound,
    /// Other 4xx or an unreadable answer: retrying will not help.
    Permanent,
}

/// A failed platform call.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct PlatformError {
    /// Classification.
    pub kind: PlatformErrorKind,
    /// HTTP status, when one came.
    pub status: Option<u16>,
    /// What happened (response excerpt, no secrets).
    pub message: String,
}

impl PlatformError {
    /// A permanent failure found without an HTTP answer (a refusal before any call,
    /// an answer ponte cannot use).
    pub fn permanent(message: String) -> Self {
        Self {
            kind: PlatformErrorKind::Permanent,
            status: None,
            message,
        }
    }

    /// Stable code for APIs and history.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            PlatformErrorKind::Transient => ErrorCode::PlatformUnavailable,
            PlatformErrorKind::RateLimited(_) => ErrorCode::RateLimited,
            PlatformErrorKind::Auth => ErrorCode::PlatformAuthFailed,
            PlatformErrorKind::NotFound => ErrorCode::PlatformNotFound,
            PlatformErrorKind::Permanent => ErrorCode::PlatformRejected,
        }
    }
}
