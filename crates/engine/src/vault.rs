//! The engine's [`CredentialVault`]: a channel's credentials opened from the store and
//! replaced by compare-and-set on the sealed bytes (one rotation across instances).

use crate::secrets::Cipher;
use async_trait::async_trait;
use ponte_channels::{CredentialVault, VaultError};
use ponte_core::{ChannelId, Clock, TenantId};
use ponte_store::Store;
use std::sync::Arc;

/// One channel's stored credentials.
pub(crate) struct ChannelVault {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cipher: Cipher,
    pub(crate) tenant: TenantId,
    pub(crate) channel: ChannelId,
}

impl ChannelVault {
    /// The sealed bytes and the credentials they hold.
    async fn read(&self) -> Result<(Vec<u8>, serde_json::Value), VaultError> {
        let ch = self
            .store
            .channel(self.channel)
            .await
            .map_err(|e| VaultError(e.to_string()))?
            .ok_or_else(|| VaultError("channel not found".into()))?;
        let plain = self
            .cipher
            .open(&ch.credentials, self.channel.to_string().as_bytes())
            .map_err(|e| VaultError(e.to_string()))?;
        let json = serde_json::from_slice(&plain).map_err(|e| VaultError(e.to_string()))?;
        Ok((ch.credentials, json))
    }
}

#[async_trait]
impl CredentialVault for ChannelVault {
    async fn load(&self) -> Result<serde_json::Value, VaultError> {
        Ok(self.read().await?.1)
    }

    async fn replace(
        &self,
        old: &serde_json::Value,
        new: &serde_json::Value,
    ) -> Result<bool, VaultError> {
        let (sealed, current) = self.read().await?;
        if current != *old {
            return Ok(false);
        }
        let plain = serde_json::to_vec(new).map_err(|e| VaultError(e.to_string()))?;
        let fresh = self
            .cipher
            .seal(&plain, self.channel.to_string().as_bytes())
            .map_err(|e| VaultError(e.to_string()))?;
        self.store
            .swap_channel_credentials(self.tenant, self.channel, &sealed, &fresh, self.clock.now())
            .await
            .map_err(|e| VaultError(e.to_string()))
    }
}
