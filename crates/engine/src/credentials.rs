//! A channel whose credentials the platform refused: the refusal is recorded on the
//! channel (which then shows that the seller must reconnect) until the credentials
//! are replaced or a rotating token is renewed. The work that needed them waits (sends
//! and stock pushes are held, polling retries); nothing is lost meanwhile.

use crate::{Engine, EngineError};
use ponte_channels::{PlatformError, PlatformErrorKind};
use ponte_core::{ChannelId, TenantId};
use ponte_store::CredentialsProblem;

impl Engine {
    /// Records the refusal when `e` is one (a 401/403, Mercado Livre's
    /// `invalid_grant`). A storage failure is only logged: the next call is refused
    /// again.
    pub(crate) async fn note_refusal(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        e: &PlatformError,
    ) {
        if e.kind != PlatformErrorKind::Auth {
            return;
        }
        let problem = CredentialsProblem {
            message: format!("{}: {}", e.code(), e.message),
            since: self.clock.now(),
        };
        if let Err(err) = self.store.hold_credentials(tenant, channel, &problem).await {
            tracing::warn!(%channel, error = %err, "recording refused credentials");
        }
    }

    /// A channel's refused credentials, while they are not replaced.
    pub async fn credentials_problem(
        &self,
        tenant: TenantId,
        id: ChannelId,
    ) -> Result<Option<CredentialsProblem>, EngineError> {
        self.channel(tenant, id).await?;
        Ok(self.store.credentials_problem(id).await?)
    }
}
