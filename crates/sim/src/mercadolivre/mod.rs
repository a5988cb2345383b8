//! Mercado Livre API simulator: OAuth with expiring, rotating tokens; orders, search,
//! billing data and shipments (ME1/ME2, `X-New-Domain`); notifications pushed to a
//! callback with retries and the `missed_feeds` of those lost; NF-e upload with its
//! error codes; ME1 seller notifications; items and user-products stock with
//! `x-version`; SAC questions, post-sale messages and claims (`sac.rs`); faults and 429.
//!
//! Sources: platforms.md §3 and the addendum "2. Mercado Livre"; payload shapes from
//! fixtures/mercadolivre. Assumptions (the material is silent):
//! - generic errors use `{"message", "error", "status", "cause": []}` (the shape many
//!   integrations show); the seller-notification errors use the documented
//!   `{status_code, error_code, message, timestamp, request_id}`;
//! - `POST /oauth/token` takes a form body; a used or revoked refresh token answers
//!   400 `{"error": "invalid_grant"}`; each refresh returns a new refresh token and
//!   retires the old one; an expired or unknown access token answers 401;
//! - 429 carries no `Retry-After` (none documented);
//! - notifications are delivered one task each (unordered), retried with a doubling
//!   wait up to [`MlConfig::notify_max_attempts`], then kept in `missed_feeds`.

mod notify;
mod routes;
mod sac;
mod state;
mod stock;

use crate::lock;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

pub use crate::faults::{Fault, FaultKind};
pub use crate::reqlog::RequestRecord;
pub use crate::server::ServerHandle;
pub use axum::http::Method;
pub use notify::Delivery;
pub use state::{NewMlBuyer, NewMlItem, NewMlOrder};

use crate::bucket::LeakyBucket;
use crate::faults::FaultQueue;
use crate::reqlog::RequestLog;
use crate::SimError;
use state::{ItemRec, OrderRec, Pending, ShipmentRec, Store, UserProductRec};

/// Simulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MlConfig {
    /// The seller's user id (`user_id` of notifications, `seller` of searches).
    pub seller_id: String,
    /// The application id (`client_id`, `application_id` of notifications).
    pub client_id: String,
    /// The application secret.
    pub client_secret: String,
    /// The refresh token the seller starts with.
    pub refresh_token: String,
    /// An access token valid at start (`None`: the first call must refresh).
    pub access_token: Option<String>,
    /// Access token lifetime (ML: 6 hours, unverified).
    pub access_ttl: Duration,
    /// Where notifications are POSTed (`None`: every one goes to missed feeds).
    pub callback_url: Option<String>,
    /// Delivery attempts per notification (ML: retries within an hour; 8 retries).
    pub notify_max_attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub notify_retry_base: Duration,
    /// The account keeps multi-origin stock (`warehouse_management`):
    /// `available_quantity` on items is refused.
    pub warehouse_management: bool,
    /// A request budget `(size, per second)`; beyond it 429. `None`: no limit.
    pub rate_limit: Option<(u32, f64)>,
    /// How many requests [`MlSim::requests`] keeps.
    pub request_log_capacity: usize,
    /// A shipment's change is also notified as `orders_v2` for its order (whether ML
    /// does is not documented; `false` makes ponte rely on `shipments` alone).
    pub shipment_notifies_order: bool,
}

impl Default for MlConfig {
    fn default() -> Self {
        Self {
            seller_id: "468424240".into(),
            client_id: "5503910054141466".into(),
            client_secret: "sim-client-secret".into(),
            refresh_token: "TG-sim-refresh-0".into(),
            access_token: Some("APP_USR-sim-access-0".into()),
            access_ttl: Duration::from_secs(6 * 3600),
            callback_url: None,
            notify_max_attempts: 3,
            notify_retry_base: Duration::from_millis(200),
            warehouse_management: false,
            rate_limit: None,
            request_log_capacity: 100_000,
            shipment_notifies_order: true,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: MlConfig,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: FaultQueue,
    pub(crate) log: RequestLog,
    pub(crate) bucket: Option<Mutex<LeakyBucket>>,
    callback: Mutex<Option<String>>,
    notify_tx: Mutex<Option<mpsc::UnboundedSender<Pending>>>,
    queued: Mutex<Vec<Pending>>,
    drop_next: Mutex<u32>,
    deliveries: Mutex<Vec<Delivery>>,
}

/// Handle to a simulated Mercado Livre seller. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MlSim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for MlSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlSim")
            .field("seller_id", &self.inner.config.seller_id)
            .finish_non_exhaustive()
    }
}

impl MlSim {
    /// A seller with no orders and no items.
    pub fn new(config: MlConfig) -> Self {
        let mut store = Store {
            refresh: config.refresh_token.clone(),
            ..Store::default()
        };
        if let Some(a) = &config.access_token {
            store
                .access
                .insert(a.clone(), Instant::now() + config.access_ttl);
        }
        let bucket = config
            .rate_limit
            .map(|(size, per_sec)| Mutex::new(LeakyBucket::new(size, per_sec)));
        Self {
            inner: Arc::new(Inner {
                callback: Mutex::new(config.callback_url.clone()),
                log: RequestLog::new(config.request_log_capacity),
                config,
                store: Mutex::new(store),
                faults: FaultQueue::default(),
                bucket,
                notify_tx: Mutex::new(None),
                queued: Mutex::new(Vec::new()),
                drop_next: Mutex::new(0),
                deliveries: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MlConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    /// Serves the API (and delivers notifications) until [`ServerHandle::shutdown`].
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> ServerHandle {
        let (tx, rx) = watch::channel(false);
        let (ntx, nrx) = mpsc::unbounded_channel();
        {
            let mut slot = lock(&self.inner.notify_tx);
            for p in std::mem::take(&mut *lock(&self.inner.queued)) {
                let _ = ntx.send(p);
            }
            *slot = Some(ntx);
        }
        let worker = tokio::spawn(notify::worker(self.clone(), nrx, rx.clone()));
        let app = routes::router(routes::AppState {
            sim: self.clone(),
            shutdown: rx.clone(),
        });
        crate::server::serve("mercadolivre", "", listener, app, (tx, rx), Some(worker))
    }

    /// Queues a notification of `topic` about `resource`.
    pub(crate) fn notify(&self, topic: &str, resource: String) {
        let p = Pending {
            topic: topic.to_owned(),
            resource,
        };
        match lock(&self.inner.notify_tx).as_ref() {
            Some(tx) => {
                let _ = tx.send(p);
            }
            None => lock(&self.inner.queued).push(p),
        }
    }

    /// Notifies a shipment's change: `shipments`, and `orders_v2` for its order when
    /// [`MlConfig::shipment_notifies_order`] says so.
    pub(crate) fn notify_shipment(&self, shipment_id: &str, order_id: u64) {
        self.notify("shipments", format!("/shipments/{shipment_id}"));
        if self.inner.config.shipment_notifies_order {
            self.notify("orders_v2", format!("/orders/{order_id}"));
        }
    }

    pub(crate) fn callback(&self) -> Option<String> {
        lock(&self.inner.callback).clone()
    }

    pub(crate) fn take_drop(&self) -> bool {
        let mut n = lock(&self.inner.drop_next);
        if *n > 0 {
            *n -= 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn log_delivery(&self, d: Delivery) {
        lock(&self.inner.deliveries).push(d);
    }

    // ---- control -------------------------------------------------------------------

    /// Sets where notifications go (the callback URL of the ML application).
    pub fn set_callback_url(&self, url: Option<String>) {
        *lock(&self.inner.callback) = url;
    }

    /// The next `n` notifications are lost (never delivered): they appear only in
    /// `GET /missed_feeds`.
    pub fn drop_next_notifications(&self, n: u32) {
        *lock(&self.inner.drop_next) = n;
    }

    /// How many notifications `GET /missed_feeds` lists.
    pub fn missed_count(&self) -> usize {
        self.store().missed.len()
    }

    /// Every delivery attempt so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.inner.deliveries).clone()
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

    /// Every access token issued so far expires now (as if 6 hours had passed).
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for exp in self.store().access.values_mut() {
            *exp = now;
        }
    }

    /// The seller revokes the grant: the next refresh answers `invalid_grant`.
    pub fn revoke_grant(&self) {
        self.store().grant_revoked = true;
    }

    /// The seller authorizes the application again (after a revocation): the grant's
    /// new refresh token is returned, the old one no longer works.
    pub fn reauthorize(&self) -> String {
        let mut s = self.store();
        s.grant_revoked = false;
        s.refresh = format!("TG-sim-reauthorized-{}", s.refreshes);
        s.refresh.clone()
    }

    /// How many refreshes succeeded.
    pub fn refreshes(&self) -> u32 {
        self.store().refreshes
    }

    /// The refresh token that works now.
    pub fn current_refresh_token(&self) -> String {
        self.store().refresh.clone()
    }

    // ---- orders ----------------------------------------------------------------------

    /// Creates an order (its billing data and forward shipment too) and notifies
    /// `orders_v2`. Returns the order id.
    pub fn create_order(&self, new: NewMlOrder) -> u64 {
        let id = {
            let mut s = self.store();
            let id = s.next_id(2_000_000_000_000_000);
            let shipment_id = s.next_id(40_000_000_000);
            let billing_id = s.next_id(1_000_000);
            let now = Utc::now();
            let (status, substatus) = initial_shipment(&new);
            s.shipments.insert(
                shipment_id,
                ShipmentRec {
                    id: shipment_id,
                    order_id: id,
                    status: status.into(),
                    substatus: substatus.map(Into::into),
                    tracking_number: None,
                },
            );
            s.orders.insert(
                id,
                OrderRec {
                    id,
                    status: new.status.clone(),
                    new,
                    created: now,
                    updated: now,
                    billing_id,
                    shipment_id,
                },
            );
            id
        };
        self.notify("orders_v2", format!("/orders/{id}"));
        id
    }

    /// Changes an order's status and notifies `orders_v2`.
    pub fn set_status(&self, order_id: u64, status: &str) -> Result<(), SimError> {
        {
            let mut s = self.store();
            let o = s
                .orders
                .get_mut(&order_id)
                .ok_or_else(|| SimError::NotFound(format!("order {order_id}")))?;
            o.status = status.to_owned();
            o.updated = Utc::now();
        }
        self.notify("orders_v2", format!("/orders/{order_id}"));
        Ok(())
    }

    /// Changes an order's shipment (ML or its carrier moving it) and notifies
    /// `shipments` and `orders_v2`.
    pub fn set_shipment(
        &self,
        order_id: u64,
        status: &str,
        substatus: Option<&str>,
    ) -> Result<(), SimError> {
        let sid = {
            let mut s = self.store();
            let o = s
                .orders
                .get_mut(&order_id)
                .ok_or_else(|| SimError::NotFound(format!("order {order_id}")))?;
            o.updated = Utc::now();
            let sid = o.shipment_id;
            if let Some(sh) = s.shipments.get_mut(&sid) {
                sh.status = status.to_owned();
                sh.substatus = substatus.map(Into::into);
            }
            sid
        };
        self.notify_shipment(&sid.to_string(), order_id);
        Ok(())
    }

    /// `GET /orders/{id}` as served.
    pub fn order(&self, order_id: u64) -> Option<Value> {
        let s = self.store();
        s.orders
            .get(&order_id)
            .map(|o| s.render_order(o, &self.inner.config.seller_id))
    }

    /// The forward shipment of an order as served.
    pub fn shipment_of(&self, order_id: u64) -> Option<Value> {
        let s = self.store();
        let o = s.orders.get(&order_id)?;
        s.shipments
            .get(&o.shipment_id)
            .map(|sh| s.render_shipment(sh, &self.inner.config.seller_id))
    }

    /// The NF-e XML uploaded for a shipment.
    pub fn invoice_xml(&self, shipment_id: u64) -> Option<String> {
        self.store().invoices.get(&shipment_id).cloned()
    }

    /// Documents attached to a pack (or order).
    pub fn fiscal_documents(&self, pack_or_order: &str) -> usize {
        self.store()
            .fiscal_documents
            .get(pack_or_order)
            .map_or(0, Vec::len)
    }

    /// Accepted seller notifications `(shipment id, body)`.
    pub fn seller_notifications(&self) -> Vec<(u64, Value)> {
        self.store().seller_notifications.clone()
    }

    /// The next NF-e upload answers 400 with this ML error code.
    pub fn fail_next_invoice(&self, code: &str) {
        self.store().invoice_errors.push(code.to_owned());
    }

    // ---- stock ---------------------------------------------------------------------

    /// A listing with `quantity` (and variations `(id, quantity)`).
    pub fn add_item(&self, item_id: &str, quantity: i64, variations: &[(u64, i64)]) {
        self.store().items.insert(
            item_id.to_owned(),
            ItemRec {
                available_quantity: quantity,
                user_product_id: None,
                variations: variations.iter().map(|(id, q)| (*id, (*q, None))).collect(),
            },
        );
    }

    /// A multi-origin listing: item `item_id` sells user product `user_product_id`,
    /// stocked at `store_id`.
    pub fn add_user_product(
        &self,
        item_id: &str,
        user_product_id: &str,
        store_id: &str,
        quantity: i64,
    ) {
        let mut s = self.store();
        s.items.insert(
            item_id.to_owned(),
            ItemRec {
                available_quantity: quantity,
                user_product_id: Some(user_product_id.to_owned()),
                variations: BTreeMap::new(),
            },
        );
        s.user_products.insert(
            user_product_id.to_owned(),
            UserProductRec {
                locations: [(store_id.to_owned(), quantity)].into_iter().collect(),
                version: 1,
            },
        );
    }

    /// Another writer changes a user product (its `x-version` moves on).
    pub fn bump_user_product(&self, user_product_id: &str) {
        if let Some(u) = self.store().user_products.get_mut(user_product_id) {
            u.version += 1;
        }
    }

    /// A listing's quantity (`variation` `None`: the item's own).
    pub fn item_quantity(&self, item_id: &str, variation: Option<u64>) -> Option<i64> {
        let s = self.store();
        let i = s.items.get(item_id)?;
        match variation {
            None => Some(i.available_quantity),
            Some(v) => i.variations.get(&v).map(|(q, _)| *q),
        }
    }

    /// A user product's quantity at a store.
    pub fn user_product_quantity(&self, user_product_id: &str, store_id: &str) -> Option<i64> {
        self.store()
            .user_products
            .get(user_product_id)?
            .locations
            .get(store_id)
            .copied()
    }
}

/// The shipment a new order starts with: ME2 with NF-e import waits for the NF-e.
fn initial_shipment(o: &NewMlOrder) -> (&'static str, Option<&'static str>) {
    let paid = matches!(o.status.as_str(), "paid" | "partially_refunded");
    match (paid, o.mode.as_str()) {
        (false, _) => ("pending", None),
        (true, "me2")
            if ["drop_off", "xd_drop_off", "xd_same_day", "cross_docking"]
                .contains(&o.logistic_type.as_str()) =>
        {
            ("ready_to_ship", Some("invoice_pending"))
        }
        (true, "me2") => ("ready_to_ship", Some("ready_to_print")),
        (true, _) => ("handling", None),
    }
}
