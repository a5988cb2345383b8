//! Status sends as connectors see them: check first, then call.

use crate::{CallInfo, PlatformError};

/// A send refused before any call: the platform's requirements are not met (a
/// tracking code it needs, ...). Final; resend after fixing the order's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendCheckError {
    /// Stable code (`missing_tracking_code`, ...).
    pub code: &'static str,
    /// What is missing.
    pub message: String,
}

/// How one send attempt went: what was sent, every call made, and the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    /// What was sent: method, path and a body summary of each call (no secrets).
    pub request: String,
    /// Every call, in order.
    pub calls: Vec<CallInfo>,
    /// `Ok` when the platform is now in the state the ERP event asks for (an answer
    /// saying "already in that state" is success too: sends are retried after crashes).
    pub result: Result<(), PlatformError>,
}

impl SendReport {
    /// A send refused before any call.
    pub fn refused(message: String) -> Self {
        Self {
            request: "nothing sent".into(),
            calls: vec![],
            result: Err(PlatformError::permanent(message)),
        }
    }
}
