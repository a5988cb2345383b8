//! Americanas (SkyHub API) simulator: the order queue (one order per `GET`, back after
//! the return delay unless deleted), orders and their listing, status writes with
//! their rules, products and variations with `qty`, per-endpoint-and-method limits
//! (429), the three auth headers (401) and faults.
//!
//! Sources: platforms.md §8 and the addendum "4. SkyHub / Americanas"; order shape
//! from fixtures/skyhub. Assumptions (the material is silent):
//! - an empty queue answers `204 No Content`;
//! - an order changed while handed out is handed out again at once, and a `DELETE`
//!   of the older copy leaves it queued (the change is not lost);
//! - the seller's own writes (invoice, shipment, ...) do not queue the order; the
//!   marketplace's changes ([`AmSim::set_status`]) do;
//! - errors are `{"error": message}`; a POST/PUT without a body answers 400; a status
//!   code the endpoint does not take, or a transition from the wrong status, 422;
//! - 429 carries no `Retry-After`; limits are leaky buckets of one second's size.

mod routes;
mod state;

use crate::lock;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::watch;

pub use crate::faults::{Fault, FaultKind};
pub use crate::reqlog::RequestRecord;
pub use crate::server::ServerHandle;
pub use axum::http::Method;
pub use state::{status_type, NewAmItem, NewAmOrder, STATUS_CODES};

use crate::bucket::LeakyBucket;
use crate::faults::FaultQueue;
use crate::reqlog::RequestLog;
use crate::SimError;
use state::{OrderRec, Store};

/// Simulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AmConfig {
    /// `X-User-Email` expected.
    pub user_email: String,
    /// `X-Api-Key` expected.
    pub api_key: String,
    /// `X-Accountmanager-Key` expected.
    pub account_manager_key: String,
    /// How long a handed-out order stays hidden unless deleted (SkyHub: 5 minutes).
    pub queue_return: Duration,
    /// Apply the documented per-endpoint limits (orders GET 1/s, the rest 9/s).
    pub limits: bool,
    /// How many requests [`AmSim::requests`] keeps.
    pub request_log_capacity: usize,
}

impl Default for AmConfig {
    fn default() -> Self {
        Self {
            user_email: "loja@example.com.br".into(),
            api_key: "sim-api-key".into(),
            account_manager_key: "sim-account-manager-key".into(),
            queue_return: Duration::from_secs(300),
            limits: true,
            request_log_capacity: 100_000,
        }
    }
}

/// The documented limit classes: `(name, per second)`.
pub(crate) fn limit_of(method: &Method, path: &str) -> (&'static str, u32) {
    let get = *method == Method::GET;
    if path.starts_with("/queues") {
        ("queues", 9)
    } else if path.starts_with("/orders") && get {
        ("orders GET", 1)
    } else if path.starts_with("/orders") {
        ("orders write", 9)
    } else if path.starts_with("/products") {
        ("products", 9)
    } else if path.starts_with("/variations") {
        ("variations", 9)
    } else {
        ("other", 1)
    }
}

pub(crate) struct Inner {
    pub(crate) config: AmConfig,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: FaultQueue,
    pub(crate) log: RequestLog,
    /// One bucket per (class, method).
    pub(crate) buckets: Mutex<std::collections::HashMap<(String, Method), LeakyBucket>>,
}

/// Handle to a simulated Americanas store. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct AmSim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AmSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmSim")
            .field("user_email", &self.inner.config.user_email)
            .finish_non_exhaustive()
    }
}

impl AmSim {
    /// A store with no orders and no products.
    pub fn new(config: AmConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                log: RequestLog::new(config.request_log_capacity),
                config,
                store: Mutex::new(Store::default()),
                faults: FaultQueue::default(),
                buckets: Mutex::new(std::collections::HashMap::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AmConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    /// Serves the API until [`ServerHandle::shutdown`].
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> ServerHandle {
        let (tx, rx) = watch::channel(false);
        let app = routes::router(routes::AppState {
            sim: self.clone(),
            shutdown: rx.clone(),
        });
        crate::server::serve("americanas", "", listener, app, (tx, rx), None)
    }

    // ---- control -------------------------------------------------------------------

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

    /// Creates an order and queues it. Returns its code.
    pub fn create_order(&self, new: NewAmOrder) -> String {
        let mut s = self.store();
        let code = s.next_code(new.new_code_format);
        let now = Utc::now();
        s.orders.insert(
            code.clone(),
            OrderRec {
                code: code.clone(),
                status: new.status.clone(),
                new,
                placed: now,
                updated: now,
                version: 1,
                invoices: vec![],
                shipments: vec![],
                delivered_date: None,
                exceptions: vec![],
            },
        );
        s.enqueue(&code);
        code
    }

    /// The marketplace changes an order's status (payment approved, cancelled, ...):
    /// the order is queued again.
    pub fn set_status(&self, code: &str, status: &str) -> Result<(), SimError> {
        let mut s = self.store();
        if !s.set_status(code, status) {
            return Err(SimError::NotFound(format!("order {code}")));
        }
        s.enqueue(code);
        Ok(())
    }

    /// `GET /orders/{code}` as served.
    pub fn order(&self, code: &str) -> Option<Value> {
        let s = self.store();
        s.orders.get(code).map(|o| s.render(o))
    }

    /// An order's `status.code`.
    pub fn status_of(&self, code: &str) -> Option<String> {
        self.store().orders.get(code).map(|o| o.status.clone())
    }

    /// The shipping exceptions posted for an order (`{occurrence_date, observation}`).
    pub fn exceptions_of(&self, code: &str) -> Vec<Value> {
        self.store()
            .orders
            .get(code)
            .map(|o| o.exceptions.clone())
            .unwrap_or_default()
    }

    /// Orders in the queue (handed out and not deleted included).
    pub fn queue_len(&self) -> usize {
        self.store().queue.len()
    }

    /// `(handed out, deleted)` queue answers so far.
    pub fn queue_counts(&self) -> (u64, u64) {
        let s = self.store();
        (s.handed_out, s.deleted)
    }

    /// A product with `qty`.
    pub fn add_product(&self, sku: &str, qty: i64) {
        self.store().products.insert(sku.to_owned(), qty);
    }

    /// A variation (its own SKU) with `qty`.
    pub fn add_variation(&self, sku: &str, qty: i64) {
        self.store().variations.insert(sku.to_owned(), qty);
    }

    /// A product's `qty`.
    pub fn product_qty(&self, sku: &str) -> Option<i64> {
        self.store().products.get(sku).copied()
    }

    /// A listing's price as last put (`products/{sku}` or `variations/{sku}`).
    pub fn price_of(&self, listing: &str) -> Option<Value> {
        self.store().prices.get(listing).cloned()
    }

    /// A variation's `qty`.
    pub fn variation_qty(&self, sku: &str) -> Option<i64> {
        self.store().variations.get(sku).copied()
    }
}
