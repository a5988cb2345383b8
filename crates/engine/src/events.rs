//! The event feed: a tenant's events after a cursor, in commit order, waiting for the
//! first one when asked (long poll).

use crate::{Engine, EngineError};
use ponte_core::TenantId;
use ponte_store::{Event, EventQuery};
use std::time::Duration;
use tokio::time::Instant;

/// Longest wait a feed read may ask for.
pub const MAX_FEED_WAIT: Duration = Duration::from_secs(30);

/// How often a waiting feed read looks again. Reading is one indexed range scan, and
/// it sees events committed by every instance.
const FEED_POLL: Duration = Duration::from_millis(100);

impl Engine {
    /// The tenant's events per `q`; when there are none yet, looks again until one
    /// arrives or `wait` (at most [`MAX_FEED_WAIT`]) has passed.
    pub async fn events(
        &self,
        tenant: TenantId,
        q: &EventQuery,
        wait: Duration,
    ) -> Result<Vec<Event>, EngineError> {
        let until = Instant::now() + wait.min(MAX_FEED_WAIT);
        loop {
            let found = self.store().events(tenant, q).await?;
            if !found.is_empty() || Instant::now() >= until {
                return Ok(found);
            }
            tokio::time::sleep(FEED_POLL.min(until - Instant::now())).await;
        }
    }
}
