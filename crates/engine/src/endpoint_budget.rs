//! The engine's [`EndpointBudget`]: one token bucket in the store per channel and
//! endpoint class, so that a platform's per-endpoint limit holds across instances.

use async_trait::async_trait;
use ponte_channels::{EndpointBudget, RateLimit};
use ponte_core::{ChannelId, Clock, TenantId};
use ponte_store::claim::channel_bucket;
use ponte_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Waits at most this long for a budget the store cannot read before calling anyway
/// (a platform's 429 is then retried like any other).
const UNREADABLE_WAIT: Duration = Duration::from_secs(1);

/// One channel's endpoint budgets.
pub(crate) struct ChannelEndpointBudget {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) tenant: TenantId,
    pub(crate) channel: ChannelId,
}

/// The store bucket of one endpoint class of a channel.
fn bucket(channel: ChannelId, class: &str) -> String {
    format!("{}:{class}", channel_bucket(channel))
}

#[async_trait]
impl EndpointBudget for ChannelEndpointBudget {
    async fn take(&self, class: &'static str, limit: RateLimit) {
        let key = bucket(self.channel, class);
        loop {
            let now = self.clock.now();
            let took = self
                .store
                .take_tokens(self.tenant, &key, 1, limit.burst, limit.per_sec, now)
                .await;
            match took {
                Ok(g) if g.granted > 0 => return,
                Ok(g) => tokio::time::sleep(g.retry_after).await,
                Err(e) => {
                    tracing::warn!(error = %e, class, "endpoint budget unavailable; waiting");
                    tokio::time::sleep(UNREADABLE_WAIT).await;
                    return;
                }
            }
        }
    }
}
