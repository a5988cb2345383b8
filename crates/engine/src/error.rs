//! Engine errors, each with a stable code for the API.

use ponte_channels::{ConfigError, WebhookError};
use ponte_core::ErrorCode;
use ponte_store::StoreError;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad channel configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A webhook was refused.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// No such record (its code names what is missing).
    #[error("{}", .0.title())]
    NotFound(ErrorCode),
    /// The channel is disabled.
    #[error("channel is disabled")]
    ChannelDisabled,
    /// Invalid input.
    #[error("{0}")]
    Invalid(String),
    /// Credentials could not be decrypted (wrong master key?).
    #[error("credentials cannot be decrypted: is PONTE_MASTER_KEY the key they were stored with?")]
    Crypto,
    /// The master key is not the one this database's credentials are stored with.
    #[error(
        "the master key does not match the one this database's credentials were stored with: \
         start every instance with the same PONTE_MASTER_KEY (the embedded database keeps it in \
         master.key in the data directory when PONTE_MASTER_KEY is unset)"
    )]
    KeyMismatch,
    /// An ERP action was refused (impossible transition, conflict, ...).
    #[error(transparent)]
    Action(#[from] ponte_core::action::ActionError),
    /// An invoice was refused (bad access key, XML mismatch, ...).
    #[error(transparent)]
    Invoice(#[from] ponte_core::action::InvoiceError),
    /// The server is shutting down.
    #[error("shutting down")]
    ShuttingDown,
    /// A stock request was refused.
    #[error(transparent)]
    Stock(#[from] crate::stock::StockError),
    /// Another enabled channel already uses what the platform keeps one subscription
    /// for (VTEX: the account and appKey).
    #[error(
        "channel {0} already uses these credentials for the platform's webhook and change \
         queue: give each channel its own"
    )]
    InUse(ponte_core::ChannelId),
    /// A change of the host a channel calls came without credentials: the stored ones
    /// are never sent to a new host.
    #[error(
        "this change makes the channel call another host: give the credentials for it in the \
         same request (the stored ones are only sent to the host they were given for)"
    )]
    CredentialsRequired,
    /// Refused for a reason its code names (a disabled tenant, a role or plan that does
    /// not allow it, a taken e-mail, too many sign-in attempts, ...).
    #[error("{1}")]
    Refused(ErrorCode, String),
    /// The task already has a queued or running run.
    #[error("a run of this task is already queued or running: {0}")]
    Busy(ponte_core::RunId),
}

impl EngineError {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Store(StoreError::NotFound) => ErrorCode::NotFound,
            Self::Store(StoreError::Invalid(_)) => ErrorCode::InvalidRequest,
            Self::Store(_) => ErrorCode::StorageError,
            Self::Config(ConfigError::UnknownKey(_)) => ErrorCode::UnknownSetting,
            Self::Config(ConfigError::UnknownPlatform(_)) => ErrorCode::UnknownPlatform,
            Self::Config(ConfigError::Invalid(_)) => ErrorCode::InvalidSettings,
            Self::Config(ConfigError::ForbiddenAddress(_)) => ErrorCode::ForbiddenAddress,
            Self::CredentialsRequired => ErrorCode::CredentialsRequired,
            Self::Webhook(w) => w.code(),
            Self::NotFound(code) => *code,
            Self::ChannelDisabled => ErrorCode::ChannelDisabled,
            Self::Invalid(_) => ErrorCode::ValidationFailed,
            Self::Crypto => ErrorCode::CredentialsUnreadable,
            Self::KeyMismatch => ErrorCode::MasterKeyMismatch,
            Self::Action(e) => e.code(),
            Self::Invoice(e) => e.code(),
            Self::ShuttingDown => ErrorCode::ShuttingDown,
            Self::Busy(_) => ErrorCode::TaskBusy,
            Self::Refused(code, _) => *code,
            Self::InUse(_) => ErrorCode::CredentialsInUse,
            Self::Stock(e) => e.code(),
        }
    }
}

/// A name trimmed, refused unless it has 1 to `max` characters.
pub(crate) fn checked_name(name: &str, max: usize) -> Result<String, EngineError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > max {
        return Err(EngineError::Invalid(format!(
            "name must have 1 to {max} characters"
        )));
    }
    Ok(name.to_owned())
}
