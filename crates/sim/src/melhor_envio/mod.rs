//! Melhor Envio simulator: `POST /api/v2/me/shipment/tracking` (Bearer) over orders a
//! test creates and moves (posted, delivered, cancelled), a request limit (429), a
//! wrong token (401) and faults.
//!
//! Sources: platforms.md "6. Brazilian carriers", "Melhor Envio", every fact of which
//! is third-party. Assumptions beyond it: an unknown id is left out of the answer; more
//! than 50 ids answer 422; errors are `{"message": …}` (401 `Unauthenticated.`); 429
//! carries `Retry-After: 1`; the limit is a leaky bucket over every call
//! ([`MeConfig::limit_per_sec`]).

mod routes;

use crate::lock;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub use crate::faults::{Fault, FaultKind};
pub use crate::reqlog::RequestRecord;
pub use crate::server::ServerHandle;
pub use axum::http::Method;

use crate::bucket::LeakyBucket;
use crate::faults::FaultQueue;
use crate::reqlog::RequestLog;

/// Most ids per tracking call (assumed).
pub const MAX_ORDERS: usize = 50;

/// Simulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MeConfig {
    /// The OAuth2 token expected.
    pub access_token: String,
    /// Calls per second before 429 (`None`: no limit).
    pub limit_per_sec: Option<u32>,
    /// How many requests [`MeSim::requests`] keeps.
    pub request_log_capacity: usize,
}

impl Default for MeConfig {
    fn default() -> Self {
        Self {
            access_token: "sim-me-token".into(),
            limit_per_sec: Some(5),
            request_log_capacity: 100_000,
        }
    }
}

/// One Melhor Envio order (a label bought for a parcel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MeOrder {
    pub(crate) protocol: String,
    pub(crate) status: String,
    pub(crate) tracking: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) posted_at: Option<DateTime<Utc>>,
    pub(crate) delivered_at: Option<DateTime<Utc>>,
    pub(crate) canceled_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) orders: HashMap<String, MeOrder>,
    pub(crate) next: u64,
}

pub(crate) struct Inner {
    pub(crate) config: MeConfig,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: FaultQueue,
    pub(crate) log: RequestLog,
    pub(crate) bucket: Mutex<Option<LeakyBucket>>,
}

/// Handle to a simulated Melhor Envio. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MeSim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for MeSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeSim").finish_non_exhaustive()
    }
}

impl MeSim {
    /// A Melhor Envio with no orders.
    pub fn new(config: MeConfig) -> Self {
        let bucket = config
            .limit_per_sec
            .map(|n| LeakyBucket::new(n, f64::from(n)));
        Self {
            inner: Arc::new(Inner {
                log: RequestLog::new(config.request_log_capacity),
                config,
                store: Mutex::new(Store::default()),
                faults: FaultQueue::default(),
                bucket: Mutex::new(bucket),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MeConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    /// Serves the API until [`ServerHandle::shutdown`].
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> ServerHandle {
        let (tx, rx) = watch::channel(false);
        let app = routes::router(routes::AppState {
            sim: self.clone(),
            shutdown: rx.clone(),
        });
        crate::server::serve("melhor_envio", "", listener, app, (tx, rx), None)
    }

    /// Queues a fault; faults apply in injection order.
    pub fn inject(&self, fault: Fault) {
        self.inner.faults.push(fault);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.log.snapshot()
    }

    /// How many logged requests had `method` and a path starting with `prefix`.
    pub fn request_count(&self, method: &Method, prefix: &str) -> usize {
        self.inner.log.count(method, prefix)
    }

    /// A paid order (label generated, not posted) for a parcel the carrier tracks as
    /// `tracking`; returns its id (what ponte tracks).
    pub fn create_order(&self, tracking: &str) -> String {
        let mut s = self.store();
        s.next += 1;
        let id = format!("9e{:06x}-0000-4000-8000-{:012x}", s.next, s.next);
        let protocol = format!("ORD-2026{:08}", s.next);
        s.orders.insert(
            id.clone(),
            MeOrder {
                protocol,
                status: "released".into(),
                tracking: tracking.to_owned(),
                created_at: Utc::now(),
                posted_at: None,
                delivered_at: None,
                canceled_at: None,
            },
        );
        id
    }

    fn set(&self, id: &str, f: impl FnOnce(&mut MeOrder)) {
        if let Some(o) = self.store().orders.get_mut(id) {
            f(o);
        }
    }

    /// The parcel was handed to the carrier.
    pub fn post(&self, id: &str) {
        self.set(id, |o| {
            o.status = "posted".into();
            o.posted_at = Some(Utc::now());
        });
    }

    /// The parcel was delivered.
    pub fn deliver(&self, id: &str) {
        self.set(id, |o| {
            o.status = "delivered".into();
            o.delivered_at = Some(Utc::now());
        });
    }

    /// The order was cancelled.
    pub fn cancel(&self, id: &str) {
        self.set(id, |o| {
            o.status = "canceled".into();
            o.canceled_at = Some(Utc::now());
        });
    }
}
