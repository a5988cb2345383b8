//! VTEX API simulator: OMS (orders, status writes, invoices, tracking), order
//! hook, Feed v3, and Logistics inventory.
//!
//! The server's base URL stands in for `https://{accountName}.{environment}.com.br`
//! (`/api/oms/...`, `/api/orders/...`, `/api/logistics/...`). Every `/api`
//! route needs `X-VTEX-API-AppKey` + `X-VTEX-API-AppToken` matching the
//! configuration (or `VtexIdclientAutCookie` with [`VtexConfig::user_token`]);
//! anything else gets the documented 401 body.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ponte_sim::SimError> {
//! use ponte_sim::vtex::{VtexConfig, VtexSim};
//! let sim = VtexSim::new(VtexConfig::default());
//! let ids = sim.generate_orders(10, 42);
//! let server = sim.serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?).await;
//! println!("GET {}/api/oms/pvt/orders/{}", server.base_url(), ids[0]);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Sources: `vtex/openapi-schemas` (`VTEX - Orders API.json`, `VTEX - Logistics
//! API.json`) and the Feed v3 guide (`vtexdocs/dev-portal-content`,
//! `docs/guides/Orders/orders-feed.md`); sample payloads in
//! `fixtures/vtex/`. Where they are silent, the code implementing a
//! behaviour says what the simulator assumes. The main assumptions:
//! - undocumented errors use the documented OMS error shape
//!   `{"error": {"code", "message", "exception"}}` with the HTTP status as code;
//! - start-handling goes `start-handling` -> `handling`, cancel goes
//!   `cancel` -> `canceled`, a covering invoice goes `invoice` -> `invoiced`
//!   (each step is one feed/hook change); order creation reports one change
//!   from `order-created` to the initial status;
//! - `Output` invoices need `handling`; cancellation of an invoiced order gets
//!   the 400 documented for partially invoiced ones;
//! - feed handles follow SQS semantics: only the latest handle of a message
//!   commits it; uncommitted items come back after the visibility timeout
//!   (at-least-once: items can repeat);
//! - JSONata `FromOrders` expressions: only a small subset is evaluated
//!   (`path op literal` joined by `and`/`or`, see `filter.rs`); anything else
//!   matches every change;
//! - rate limits: none are enforced (the specs give only "6000 requests per
//!   minute" for Get order); inject 429 with [`FaultKind::RateLimited`];
//! - timestamps come from [`crate::clock::SimClock`]; [`VtexSim::advance_clock`]
//!   also moves feed visibility and retention.

mod catalog;
mod catalog_sku;
mod filter;
mod fmt;
mod generate;
mod hook;
mod http;
mod logistics;
mod notif;
mod order;
mod pricing;
mod routes;
mod state;
mod status;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::{rngs::StdRng, SeedableRng};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

pub use crate::faults::{Fault, FaultKind};
pub use crate::reqlog::RequestRecord;
pub use crate::server::ServerHandle;
pub use axum::http::Method;
pub use catalog::Sku;
pub use generate::{Corporate, NewAddress, NewCustomer, NewItem, NewOrder, PaymentMethod, Sla};
pub use hook::HookDelivery;
pub use status::OrderStatus;

use crate::bucket::LeakyBucket;
use crate::faults::FaultQueue;
use crate::reqlog::RequestLog;
use crate::SimError;
use filter::Filter;
use state::{FeedConfig, HookJob, Store};

/// Simulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct VtexConfig {
    /// Account name (`Origin.Account` of notifications, `hostname` of orders).
    pub account: String,
    /// Accepted `X-VTEX-API-AppKey` (also `Origin.Key` of notifications).
    pub app_key: String,
    /// Accepted `X-VTEX-API-AppToken`.
    pub app_token: String,
    /// Accepted `VtexIdclientAutCookie` user token (`None`: user tokens refused).
    pub user_token: Option<String>,
    /// Seller name (`sellers[].name`).
    pub seller_name: String,
    /// Warehouses `(id, name)`; inventory writes to other ids get 400. The
    /// first one ships the orders.
    pub warehouses: Vec<(String, String)>,
    /// Hook delivery attempts per notification (the first included).
    pub hook_max_attempts: u32,
    /// Wait before the first retry; each further retry waits twice as long.
    pub hook_retry_base: Duration,
    /// Refuse `http://` hook URLs (the spec mentions "Only https scheme is
    /// accepted"; off by default so tests can use loopback receivers).
    pub hook_require_https: bool,
    /// How many requests [`VtexSim::requests`] keeps (oldest dropped).
    pub request_log_capacity: usize,
    /// The Orders GET limit as a leaky bucket `(size, per second)`: order reads
    /// (`GET /api/oms/pvt/orders...`) beyond it get 429. VTEX documents 6000/min per
    /// account and no burst or headers; `None` (the default) does not limit.
    pub orders_get_limit: Option<(u32, f64)>,
}

impl Default for VtexConfig {
    fn default() -> Self {
        Self {
            account: "simstore".into(),
            app_key: "vtexappkey-simstore-PONTE".into(),
            app_token: "sim-app-token".into(),
            user_token: None,
            seller_name: "Loja Simulada".into(),
            warehouses: vec![
                ("1_1".into(), "Estoque Principal".into()),
                ("cd-sp".into(), "CD São Paulo".into()),
            ],
            hook_max_attempts: 5,
            hook_retry_base: Duration::from_secs(1),
            hook_require_https: false,
            request_log_capacity: 100_000,
            orders_get_limit: None,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: VtexConfig,
    pub(crate) store: RwLock<Store>,
    pub(crate) faults: FaultQueue,
    pub(crate) log: RequestLog,
    pub(crate) orders_bucket: Option<Mutex<LeakyBucket>>,
    hook_tx: Mutex<Option<mpsc::UnboundedSender<HookJob>>>,
    pending: Mutex<Vec<HookJob>>,
    drop_next: AtomicU32,
    drop_all: AtomicBool,
    deliveries: Mutex<Vec<HookDelivery>>,
}

/// Handle to a simulated VTEX account. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct VtexSim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for VtexSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VtexSim")
            .field("account", &self.inner.config.account)
            .finish_non_exhaustive()
    }
}

/// A fault making the next `times` requests whose path contains
/// `path_contains` answer 423 "Unable to acquire lock" (the Logistics API's
/// transient lock error).
pub fn lock_fault(path_contains: impl Into<String>, times: u32) -> Fault {
    Fault::new(path_contains, times, FaultKind::Status(423))
}

impl VtexSim {
    /// An account with the generated catalogue and stock, no orders, no feed
    /// and no hook.
    pub fn new(config: VtexConfig) -> Self {
        let store = Store::new(
            &config.account,
            &config.seller_name,
            &config.app_key,
            config.warehouses.clone(),
        );
        let log = RequestLog::new(config.request_log_capacity);
        let orders_bucket = config
            .orders_get_limit
            .map(|(size, per_sec)| Mutex::new(LeakyBucket::new(size, per_sec)));
        Self {
            inner: Arc::new(Inner {
                config,
                store: RwLock::new(store),
                faults: FaultQueue::default(),
                log,
                orders_bucket,
                hook_tx: Mutex::new(None),
                pending: Mutex::new(Vec::new()),
                drop_next: AtomicU32::new(0),
                drop_all: AtomicBool::new(false),
                deliveries: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VtexConfig {
        &self.inner.config
    }

    /// Serves the API on `listener` (and delivers hook notifications) until
    /// [`ServerHandle::shutdown`]. Notifications raised before this call are
    /// delivered once serving starts.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> ServerHandle {
        let (tx, rx) = watch::channel(false);
        let (hook_tx, hook_rx) = mpsc::unbounded_channel();
        {
            let mut slot = self.inner.hook_tx.lock().unwrap_or_else(|e| e.into_inner());
            let pending =
                std::mem::take(&mut *self.inner.pending.lock().unwrap_or_else(|e| e.into_inner()));
            for job in pending {
                let _ = hook_tx.send(job);
            }
            *slot = Some(hook_tx);
        }
        let worker = tokio::spawn(hook::worker(self.clone(), hook_rx, rx.clone()));
        let app = routes::router(routes::AppState {
            sim: self.clone(),
            shutdown: rx.clone(),
        });
        crate::server::serve("vtex", "", listener, app, (tx, rx), Some(worker))
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.inner.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.inner.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues hook notifications for delivery (kept until [`Self::serve`]).
    pub(crate) fn dispatch(&self, jobs: Vec<HookJob>) {
        if jobs.is_empty() {
            return;
        }
        let slot = self.inner.hook_tx.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(tx) => {
                for job in jobs {
                    let _ = tx.send(job);
                }
            }
            None => self
                .inner
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(jobs),
        }
    }

    pub(crate) fn take_drop(&self) -> bool {
        if self.inner.drop_all.load(Ordering::Acquire) {
            return true;
        }
        self.inner
            .drop_next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn log_delivery(&self, d: HookDelivery) {
        self.inner
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(d);
    }

    // ---- faults, request log, hook delivery control ---------------------------

    /// Queues a fault; faults apply in injection order.
    pub fn inject(&self, fault: Fault) {
        self.inner.faults.push(fault);
    }

    /// Drops every pending fault.
    pub fn clear_faults(&self) {
        self.inner.faults.clear();
    }

    /// Requests answered so far (bounded by `request_log_capacity`).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.log.snapshot()
    }

    /// How many logged requests had `method` and a path starting with `prefix`.
    pub fn request_count(&self, method: &Method, prefix: &str) -> usize {
        self.inner.log.count(method, prefix)
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.inner.log.clear();
    }

    /// The next `n` hook notifications are silently dropped (never sent, no
    /// retry), as when VTEX gives up on a notification; the feed still gets
    /// the events.
    pub fn drop_next_hook_notifications(&self, n: u32) {
        self.inner.drop_next.store(n, Ordering::Release);
    }

    /// Drops every hook notification while `true`.
    pub fn set_drop_hook_notifications(&self, drop: bool) {
        self.inner.drop_all.store(drop, Ordering::Release);
    }

    /// Every hook delivery attempt (and dropped notification) so far.
    pub fn hook_deliveries(&self) -> Vec<HookDelivery> {
        self.inner
            .deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    // ---- clock -------------------------------------------------------------------

    /// The account clock's current value.
    pub fn now(&self) -> DateTime<Utc> {
        self.read().clock.now()
    }

    /// Moves the clock forward: [`Self::now`] moves by `by`, later changes get
    /// later timestamps, and feed items become visible again / expire as if
    /// that time had passed.
    pub fn advance_clock(&self, by: TimeDelta) {
        // `SimClock::advance` makes the *next tick* at least `by` later, so
        // `now()` would trail by one second; ask for one more.
        self.write().clock.advance(by + TimeDelta::seconds(1));
    }

    // ---- orders --------------------------------------------------------------------

    /// Creates an order and returns its `orderId`.
    pub fn create_order(&self, order: NewOrder) -> String {
        let (id, jobs) = self.write().insert_new(&order);
        self.dispatch(jobs);
        id
    }

    /// Creates `n` realistic orders whose content depends only on `seed` (ids
    /// and timestamps come from the account's counters and clock).
    pub fn generate_orders(&self, n: usize, seed: u64) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut ids = Vec::with_capacity(n);
        let mut jobs = Vec::new();
        {
            let mut store = self.write();
            for _ in 0..n {
                let o = generate::random_order(&mut rng, &store.skus);
                let (id, j) = store.insert_new(&o);
                ids.push(id);
                jobs.extend(j);
            }
        }
        self.dispatch(jobs);
        ids
    }

    /// Forces a status change (one feed/hook change), e.g. to simulate the
    /// platform's own workflow. No transition rule is checked.
    pub fn set_status(&self, order_id: &str, status: OrderStatus) -> Result<(), SimError> {
        let jobs = self
            .write()
            .transition(order_id, &[status], |o, now| match status {
                OrderStatus::PaymentApproved | OrderStatus::ReadyForHandling => {
                    o.authorized.get_or_insert(now);
                }
                OrderStatus::Canceled => {
                    o.canceled_at = Some(now);
                    o.cancel_reason
                        .get_or_insert_with(|| "Cancelado pelo sistema".into());
                }
                OrderStatus::Invoiced => {
                    o.invoiced.get_or_insert(now);
                }
                _ => {}
            })?;
        self.dispatch(jobs);
        Ok(())
    }

    /// The customer pays a `payment-pending` order: `payment-approved`, then
    /// `ready-for-handling` (two changes).
    pub fn approve_payment(&self, order_id: &str) -> Result<(), SimError> {
        let jobs = {
            let mut store = self.write();
            let o = store.order_mut(order_id)?;
            if o.status != OrderStatus::PaymentPending {
                return Err(SimError::InvalidTransition(format!(
                    "order {order_id} is {}, not payment-pending",
                    o.status
                )));
            }
            store.transition(
                order_id,
                &[OrderStatus::PaymentApproved, OrderStatus::ReadyForHandling],
                |o, now| {
                    o.authorized = Some(now);
                },
            )?
        };
        self.dispatch(jobs);
        Ok(())
    }

    /// The order as `GET /api/oms/pvt/orders/{orderId}` serves it.
    pub fn order(&self, order_id: &str) -> Option<Value> {
        self.read().render(order_id)
    }

    /// The order's status.
    pub fn status(&self, order_id: &str) -> Option<OrderStatus> {
        self.read().orders.get(order_id).map(|o| o.status)
    }

    /// Every order id, in creation order.
    pub fn order_ids(&self) -> Vec<String> {
        let store = self.read();
        let mut v: Vec<(u64, String)> = store
            .orders
            .values()
            .map(|o| (o.sequence, o.order_id.clone()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    }

    // ---- catalogue and inventory ------------------------------------------------

    /// The SKU catalogue.
    pub fn skus(&self) -> Vec<Sku> {
        self.read().skus.clone()
    }

    /// `GET /api/logistics/pvt/inventory/skus/{skuId}` for `sku_id`.
    pub fn inventory(&self, sku_id: &str) -> Value {
        logistics::balance(&self.read(), sku_id)
    }

    /// Stock of a SKU in a warehouse (`None` when never set; unlimited stock
    /// reads as 1000000).
    /// The price kept for an item (SKU), as `GET /pricing/prices/{itemId}` answers it.
    /// A Catalog SKU object as `GET /api/catalog/pvt/stockkeepingunit/{id}` serves it.
    pub fn catalog_sku(&self, sku_id: &str) -> Option<Value> {
        self.read().catalog_skus.get(sku_id).cloned()
    }

    pub fn price(&self, item_id: &str) -> Option<Value> {
        self.read().prices.get(item_id).cloned()
    }

    pub fn stock(&self, sku_id: &str, warehouse_id: &str) -> Option<i64> {
        self.read()
            .inventory
            .get(&(sku_id.to_owned(), warehouse_id.to_owned()))
            .map(|r| {
                if r.unlimited {
                    logistics::UNLIMITED_UNITS
                } else {
                    r.quantity
                }
            })
    }

    // ---- feed and hook -------------------------------------------------------------

    /// Configures the feed as `POST /api/orders/feed/config` would with a
    /// `FromWorkflow` filter (`statuses` empty: every status).
    pub fn configure_feed(&self, statuses: &[&str], visibility_timeout_s: i64) {
        let mut store = self.write();
        store.feed.config = Some(FeedConfig {
            filter: Filter::FromWorkflow {
                status: statuses.iter().map(|s| (*s).to_owned()).collect(),
            },
            visibility_timeout_s,
            retention_s: 345_600,
        });
    }

    /// The feed configuration as `GET /api/orders/feed/config` answers it.
    pub fn feed_config(&self) -> Option<Value> {
        self.write().feed_config_render()
    }

    /// Messages in the feed queue, visible or not (`quantity`).
    pub fn feed_len(&self) -> usize {
        self.read().feed.queue.len()
    }

    /// `(orderId, state)` of every message in the feed queue, oldest first.
    pub fn feed_events(&self) -> Vec<(String, String)> {
        self.read()
            .feed
            .queue
            .iter()
            .map(|m| (m.change.order_id.clone(), m.change.state.clone()))
            .collect()
    }

    /// The hook configuration as `GET /api/orders/hook/config` answers it.
    pub fn hook_config(&self) -> Option<Value> {
        self.read().hook.as_ref().map(state::HookConfig::render)
    }

    /// The notification body the hook would send for a change (for tests of
    /// receivers).
    pub fn sample_notification(&self, order_id: &str, state: &str, last_state: &str) -> Value {
        let store = self.read();
        let now = store.clock.now();
        let domain = store
            .orders
            .get(order_id)
            .map_or("Marketplace", |o| o.domain());
        let c = state::Change {
            order_id: order_id.to_owned(),
            domain: domain.to_owned(),
            state: state.to_owned(),
            last_state: Some(last_state.to_owned()),
            last_change: now,
            current_change: now,
            status_changed: true,
        };
        state::notification_body(&c, &store.account, &store.app_key)
    }
}
