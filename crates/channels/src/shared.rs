//! What a connector shares with the other instances serving its channel: the stored
//! credentials (rotating tokens) and the budgets of endpoints a platform limits on
//! their own (Americanas's `GET /orders*`, 1/s), beside the channel's budget the
//! engine applies to every call.

use crate::{CredentialVault, RateLimit};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A channel's per-endpoint request budgets.
#[async_trait]
pub trait EndpointBudget: Send + Sync {
    /// Waits until one request of `class` (a name for one of the platform's endpoint
    /// limits) may start under `limit`, and takes it.
    async fn take(&self, class: &'static str, limit: RateLimit);
}

/// What the engine hands a connector besides its settings and credentials.
#[derive(Clone)]
pub struct Shared {
    /// The channel's stored credentials.
    pub vault: Arc<dyn CredentialVault>,
    /// The channel's endpoint budgets, counted across every instance.
    pub budget: Arc<dyn EndpointBudget>,
}

/// Endpoint budgets of this process alone, for a connector built without the engine
/// (tools and tests): requests of a class start `1 / per_sec` apart.
#[derive(Default)]
pub struct LocalBudget {
    next: Mutex<HashMap<&'static str, Instant>>,
}

#[async_trait]
impl EndpointBudget for LocalBudget {
    async fn take(&self, class: &'static str, limit: RateLimit) {
        let gap = ponte_core::wait::from_secs_f64(1.0 / limit.per_sec.max(f64::MIN_POSITIVE))
            .min(Duration::from_secs(3600));
        let mut next = self.next.lock().await;
        if let Some(at) = next.get(class) {
            tokio::time::sleep_until(*at).await;
        }
        next.insert(class, Instant::now() + gap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_class_is_paced_and_classes_are_apart() {
        let b = LocalBudget::default();
        let limit = RateLimit {
            burst: 1.0,
            per_sec: 2.0,
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            b.take("orders", limit).await;
        }
        assert_eq!(t0.elapsed(), Duration::from_secs(1));
        b.take("products", limit).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(1));
    }
}
