//! Status sends as connectors see them: check first, then call.

use crate::{CallInfo, PlatformError};
use ponte_core::action::{is_http_url, Action, Shipment};
use ponte_core::ErrorCode;

/// A send refused before any call: the platform's requirements are not met (a
/// tracking code it needs, ...). Final; resend after fixing the order's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendCheckError {
    /// Stable code (`missing_tracking_code`, ...).
    pub code: ErrorCode,
    /// What is missing.
    pub message: String,
}

impl SendCheckError {
    /// A refusal with a stable `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Longest `SendReport::request` kept.
pub(crate) const SUMMARY_MAX: usize = 500;

/// The calls made, joined and cut to [`SUMMARY_MAX`] characters.
pub(crate) fn summary(sent: &[String]) -> String {
    let all = sent.join("; ");
    if all.chars().count() <= SUMMARY_MAX {
        return all;
    }
    let mut cut: String = all.chars().take(SUMMARY_MAX - 1).collect();
    cut.push('…');
    cut
}

/// The trimmed tracking code of a shipment, when there is one.
pub(crate) fn tracking_code(s: &Shipment) -> Option<&str> {
    s.tracking_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// Refuses links no platform can take: a shipment's tracking URL or an invoice's XML
/// URL that is not http(s).
pub(crate) fn check_links(action: &Action) -> Result<(), SendCheckError> {
    match action {
        Action::Shipment(s) if s.tracking_url.as_deref().is_some_and(|u| !is_http_url(u)) => {
            Err(SendCheckError::new(
                ErrorCode::InvalidTrackingUrl,
                "tracking_url must be an http(s) URL",
            ))
        }
        Action::Invoice(i) if i.xml_url.as_deref().is_some_and(|u| !is_http_url(u)) => Err(
            SendCheckError::new(ErrorCode::InvalidXmlUrl, "xml_url must be an http(s) URL"),
        ),
        _ => Ok(()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_joined_and_bounded() {
        let short = vec![
            "GET /orders/1/fulfillment-orders".to_owned(),
            "PATCH x {}".into(),
        ];
        assert_eq!(
            summary(&short),
            "GET /orders/1/fulfillment-orders; PATCH x {}"
        );
        let long = vec!["é".repeat(400), "x".repeat(400)];
        let s = summary(&long);
        assert_eq!(s.chars().count(), SUMMARY_MAX);
        assert!(s.ends_with('…'));
    }
}
