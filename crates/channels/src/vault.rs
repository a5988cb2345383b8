//! Credentials a connector changes by itself (Mercado Livre's rotating refresh
//! tokens): read and replaced through the engine, by compare-and-set, so that one
//! instance rotates them and the others read the result.

use async_trait::async_trait;

/// The stored credentials of one channel could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credential store: {0}")]
pub struct VaultError(pub String);

/// A channel's stored credentials, as plain JSON (sealed at rest by the engine).
#[async_trait]
pub trait CredentialVault: Send + Sync {
    /// The credentials as stored now.
    async fn load(&self) -> Result<serde_json::Value, VaultError>;
    /// Stores `new` when the stored credentials are still `old`; `false` when another
    /// instance changed them first (read them again).
    async fn replace(
        &self,
        old: &serde_json::Value,
        new: &serde_json::Value,
    ) -> Result<bool, VaultError>;
}
