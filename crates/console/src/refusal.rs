//! Refusals shown on a form: the error code (its `code.*` catalogue message) and the
//! detail, next to the field concerned or at the top of the form.

use ponte_core::ErrorCode;
use ponte_engine::EngineError;

/// Why a submitted form was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The error code; the catalogues name it (`code.<code>`).
    pub code: &'static str,
    /// What exactly: the engine's detail, or the console's own (already translated).
    pub detail: String,
    /// Whether the detail is the engine's (English, whatever the page's language).
    pub engine: bool,
}

impl Refusal {
    /// A refusal the console makes itself (a field it cannot read).
    pub(crate) fn console(code: ErrorCode, detail: &str) -> Self {
        Refusal {
            code: code.as_str(),
            detail: detail.to_owned(),
            engine: false,
        }
    }

    /// The engine's answer as a refusal, when it is one (a 4xx code); storage
    /// failures and the like are not, and the page answers 503 instead.
    pub(crate) fn of(e: &EngineError) -> Option<Self> {
        let code = e.code();
        code.http_status()
            .is_some_and(|s| (400..500).contains(&s))
            .then(|| Refusal {
                code: code.as_str(),
                detail: e.to_string(),
                engine: true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_refusals_and_the_rest_are_not() {
        let r = Refusal::of(&EngineError::Invalid("name must not be empty".into())).unwrap();
        assert_eq!(r.code, "validation_failed");
        assert_eq!(r.detail, "name must not be empty");
        assert!(r.engine && !Refusal::console(ErrorCode::ValidationFailed, "x").engine);
        assert_eq!(
            Refusal::of(&EngineError::CredentialsRequired).map(|r| r.code),
            Some("credentials_required")
        );
        assert!(Refusal::of(&EngineError::ShuttingDown).is_none());
        assert!(Refusal::of(&EngineError::KeyMismatch).is_none());
    }
}
