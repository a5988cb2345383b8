//! Errors of the simulator's library API (not HTTP errors: those are responses).

/// Error returned by the simulators' Rust API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The order, product, variant or other resource does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The requested state change is not allowed from the current state.
    #[error("invalid transition: {0}")]
    InvalidTransition(String),
    /// An argument was not acceptable (unknown status, bad fixture, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Reading fixtures or binding a socket failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// JSON (fixtures, bodies) could not be parsed or written.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Sending a webhook failed before an HTTP status was received.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
}
