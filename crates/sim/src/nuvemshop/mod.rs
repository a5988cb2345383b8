//! Nuvemshop / Tiendanube API simulator.
//!
//! Speaks the documented REST API under `/v1/{store_id}` (orders, legacy
//! pack/fulfill/cancel/close/open, fulfillment orders, metafields, product
//! variants, webhooks) with Nuvemshop's auth headers, leaky-bucket rate limit,
//! pagination headers and error bodies, and sends signed webhook notifications.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ponte_sim::SimError> {
//! use ponte_sim::nuvemshop::{NuvemshopSim, SimConfig};
//! let sim = NuvemshopSim::new(SimConfig::default());
//! let ids = sim.generate_orders(10, 42);
//! let server = sim.serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?).await;
//! println!("GET {}/orders/{}", server.base_url(), ids[0]);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Documented assumptions (where the platform docs are silent) are in the
//! comments of the code that implements them; the main ones:
//! - a request for another store id gets 401 (tokens are issued per store);
//! - `per_page` above 200 (or below 1) and `page` below 1 get 422;
//! - a `GET /orders` with no result gets 404 "Last page is 0" (as integrations
//!   observe); a page past the last one gets 200 `[]`;
//! - `payment_status=any` (the default) means authorized, pending and paid, as
//!   the order docs say (set `SimConfig::any_payment_status_is_all` to change);
//! - `updated_at_*` filters sort by `(updated_at, id)`, everything else by `id`;
//! - timestamps come from [`crate::clock::SimClock`] (strictly increasing).

pub(crate) mod brdata;
mod catalogue;
mod fmt;
mod fo_routes;
mod fulfillment;
mod generate;
mod http;
mod listing;
mod order;
mod res_routes;
mod resources;
mod routes;
mod state;
mod status;
mod webhook;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rand::{rngs::StdRng, SeedableRng};
use serde_json::Value;
use tokio::sync::watch;

pub use crate::faults::{Fault, FaultKind};
pub use crate::reqlog::RequestRecord;
pub use crate::server::ServerHandle;
pub use axum::http::Method;
pub use brdata::{cnpj_is_valid, cpf_is_valid};
pub use generate::{NewAddress, NewCustomer, NewLine, NewOrder, PaymentMethod, ShippingOption};
pub use status::{CancelReason, FoStatus, OrderStatus, PaymentStatus, ShippingStatus};

use crate::bucket::LeakyBucket;
use crate::faults::FaultQueue;
use crate::reqlog::RequestLog;
use crate::SimError;
use state::Store;

/// Simulator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Store id in the URL path (`user_id` of the OAuth answer).
    pub store_id: u64,
    /// Accepted access token (`Authentication: bearer <token>`).
    pub access_token: String,
    /// App secret used to sign webhooks.
    pub app_secret: String,
    /// Leaky bucket size (documented default 40). 0 disables rate limiting and
    /// its headers (for benchmarks).
    pub bucket_size: u32,
    /// Leak rate in requests per second (documented default 2).
    pub leak_per_sec: f64,
    /// Answer 400 when `User-Agent` is missing (documented).
    pub require_user_agent: bool,
    /// Also accept `Authorization: Bearer` (some newer guide pages show it).
    /// Default false: the API reference documents `Authentication`.
    pub accept_authorization_header: bool,
    /// Fraction of generated customers whose CPF/CNPJ has a wrong check digit.
    pub invalid_document_fraction: f64,
    /// Treat `payment_status=any` (the default filter) as every payment status
    /// instead of the documented authorized|pending|paid.
    pub any_payment_status_is_all: bool,
    /// How many requests [`NuvemshopSim::requests`] keeps (oldest dropped).
    pub request_log_capacity: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            store_id: 123_456,
            access_token: "sim-token".into(),
            app_secret: "sim-secret".into(),
            bucket_size: 40,
            leak_per_sec: 2.0,
            require_user_agent: true,
            accept_authorization_header: false,
            invalid_document_fraction: 0.05,
            any_payment_status_is_all: false,
            request_log_capacity: 100_000,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: SimConfig,
    pub(crate) store: RwLock<Store>,
    pub(crate) bucket: Mutex<LeakyBucket>,
    pub(crate) faults: FaultQueue,
    pub(crate) log: RequestLog,
}

/// Handle to a simulated store. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct NuvemshopSim {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for NuvemshopSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NuvemshopSim")
            .field("store_id", &self.inner.config.store_id)
            .finish_non_exhaustive()
    }
}

impl NuvemshopSim {
    /// A store with the generated product catalogue and no orders.
    pub fn new(config: SimConfig) -> Self {
        let bucket = LeakyBucket::new(config.bucket_size, config.leak_per_sec);
        let log = RequestLog::new(config.request_log_capacity);
        Self {
            inner: Arc::new(Inner {
                config,
                store: RwLock::new(Store::new()),
                bucket: Mutex::new(bucket),
                faults: FaultQueue::default(),
                log,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// Serves the API on `listener` until [`ServerHandle::shutdown`].
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> ServerHandle {
        let (tx, rx) = watch::channel(false);
        let app = routes::router(routes::AppState {
            sim: self.clone(),
            shutdown: rx.clone(),
        });
        crate::server::serve("nuvemshop", "/v1", listener, app, (tx, rx), None)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.inner.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.inner.store.write().unwrap_or_else(|e| e.into_inner())
    }

    // ---- faults and request log -------------------------------------------

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

    /// How many logged requests had `method` and a path starting with
    /// `path_prefix`. The prefix is either a full path (`/v1/123456/orders`) or
    /// relative to the store (`/orders`, prefixed with `/v1/{store_id}`). Note
    /// that `/orders/7` also matches `/orders/70`; see [`Self::request_count_exact`].
    pub fn request_count(&self, method: &Method, path_prefix: &str) -> usize {
        self.inner.log.count(method, &self.full_path(path_prefix))
    }

    /// How many logged requests had `method` and exactly this path (full or
    /// relative to the store, as in [`Self::request_count`]; query ignored).
    pub fn request_count_exact(&self, method: &Method, path: &str) -> usize {
        let full = self.full_path(path);
        self.inner
            .log
            .snapshot()
            .iter()
            .filter(|r| r.method == *method && r.path == full)
            .count()
    }

    fn full_path(&self, p: &str) -> String {
        if p.starts_with("/v1/") {
            p.to_owned()
        } else {
            format!("/v1/{}{p}", self.inner.config.store_id)
        }
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.inner.log.clear();
    }

    // ---- clock ---------------------------------------------------------------

    /// The store clock's current value (last `updated_at` handed out, or now).
    pub fn now(&self) -> DateTime<Utc> {
        self.read().clock.now()
    }

    /// Moves the store clock forward (e.g. to test `updated_at_min` windows).
    pub fn advance_clock(&self, by: TimeDelta) {
        self.write().clock.advance(by);
    }

    // ---- orders ----------------------------------------------------------------

    /// Creates an order (claims stock of its variants) and returns its id.
    pub fn create_order(&self, order: NewOrder) -> u64 {
        self.write()
            .insert_new(&order, &generate::GenExtras::default())
    }

    /// Creates `n` realistic orders. Their content (customers, documents,
    /// addresses, products, statuses) depends only on `seed`; ids and timestamps
    /// come from the store's counters and clock.
    pub fn generate_orders(&self, n: usize, seed: u64) -> Vec<u64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let fraction = self.inner.config.invalid_document_fraction;
        let mut store = self.write();
        let variants = store.variant_keys();
        (0..n)
            .map(|_| {
                let (o, extras) = generate::random_order(&mut rng, &variants, fraction);
                store.insert_new(&o, &extras)
            })
            .collect()
    }

    /// Loads `order.json` and the array of `orders_list_response.json` from a
    /// fixtures directory, keeping every key as documented (JSON duplicate keys:
    /// last wins). Both documented examples share id 450789469; the list one,
    /// loaded second, replaces the other. Returns the distinct ids loaded.
    pub fn load_fixture_orders(&self, dir: impl AsRef<Path>) -> Result<Vec<u64>, SimError> {
        let dir = dir.as_ref();
        let mut docs: Vec<Value> = Vec::new();
        let single = dir.join("order.json");
        if single.exists() {
            docs.push(serde_json::from_slice(&std::fs::read(single)?)?);
        }
        let list = dir.join("orders_list_response.json");
        if list.exists() {
            match serde_json::from_slice::<Value>(&std::fs::read(list)?)? {
                Value::Array(items) => docs.extend(items),
                _ => {
                    return Err(SimError::Invalid(
                        "orders_list_response.json is not an array".into(),
                    ))
                }
            }
        }
        let mut store = self.write();
        let mut ids = Vec::new();
        for d in docs {
            let id = store.insert_fixture(d)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Sets `payment_status` (`paid` also sets `paid_at`).
    pub fn set_payment_status(&self, id: u64, status: &str) -> Result<(), SimError> {
        let p = PaymentStatus::parse(status)
            .ok_or_else(|| SimError::Invalid(format!("payment status {status:?}")))?;
        self.write().set_payment(id, p)
    }

    /// Test helper: forces an order's `updated_at` (document and JSON re-rendered)
    /// without moving the store clock, so several orders can share one second as
    /// on a busy real store (the clock otherwise hands out distinct seconds). `at`
    /// is truncated to the second, the platform's resolution.
    pub fn set_updated_at(&self, id: u64, at: DateTime<Utc>) -> Result<(), SimError> {
        let at = at.duration_trunc(TimeDelta::seconds(1)).unwrap_or(at);
        let mut store = self.write();
        let o = store.order_mut(id)?;
        o.updated_at = at;
        o.doc
            .insert("updated_at".into(), Value::String(fmt::ts(at)));
        o.refresh();
        Ok(())
    }

    /// Test helper: backdates when an order was placed (`created_at`), without moving
    /// the store clock (for deadlines such as automatic cancellation).
    pub fn set_created_at(&self, id: u64, at: DateTime<Utc>) -> Result<(), SimError> {
        let at = at.duration_trunc(TimeDelta::seconds(1)).unwrap_or(at);
        let mut store = self.write();
        let o = store.order_mut(id)?;
        o.created_at = at;
        o.doc
            .insert("created_at".into(), Value::String(fmt::ts(at)));
        o.refresh();
        Ok(())
    }

    /// Legacy pack (fulfillment order -> PACKED).
    pub fn pack(&self, id: u64) -> Result<(), SimError> {
        self.write().transition(id, |o, now| o.pack(now))
    }

    /// Legacy fulfill: tracking number (and URL) and shipping_status `shipped`.
    pub fn fulfill(
        &self,
        id: u64,
        tracking_number: &str,
        tracking_url: Option<&str>,
    ) -> Result<(), SimError> {
        let code = Some(tracking_number.to_owned());
        let url = tracking_url.map(str::to_owned);
        self.write()
            .transition(id, |o, now| o.fulfill(now, code, url))
    }

    /// Marks the order's fulfillment order DELIVERED (shipping_status `delivered`).
    pub fn deliver(&self, id: u64) -> Result<(), SimError> {
        self.write().set_fo_status(id, FoStatus::Delivered)
    }

    /// Cancels with a reason (`customer|inventory|fraud|other`) and restocks.
    pub fn cancel(&self, id: u64, reason: &str) -> Result<(), SimError> {
        let r = CancelReason::parse(reason)
            .ok_or_else(|| SimError::Invalid(format!("cancel reason {reason:?}")))?;
        self.write().cancel(id, Some(r), true)
    }

    /// Closes (archives) an open order.
    pub fn close(&self, id: u64) -> Result<(), SimError> {
        self.write().transition(id, |o, now| o.close(now))
    }

    /// Re-opens a closed or cancelled order.
    pub fn reopen(&self, id: u64) -> Result<(), SimError> {
        self.write().transition(id, |o, now| o.reopen(now))
    }

    /// The order as `GET /orders/{id}` serves it.
    pub fn order(&self, id: u64) -> Option<Value> {
        let store = self.read();
        store.orders.get(&id).map(|o| Value::Object(o.doc.clone()))
    }

    /// Every order, by id.
    pub fn orders(&self) -> Vec<Value> {
        let store = self.read();
        store
            .orders
            .values()
            .map(|o| Value::Object(o.doc.clone()))
            .collect()
    }

    /// Ids of every order, ascending.
    pub fn order_ids(&self) -> Vec<u64> {
        self.read().orders.keys().copied().collect()
    }

    /// The order's fulfillment order as the API serves it.
    pub fn fulfillment_order(&self, id: u64) -> Option<Value> {
        self.read().orders.get(&id).map(fulfillment::render)
    }

    // ---- catalogue, metafields, webhooks --------------------------------------

    /// `(product_id, variant_id)` of every catalogue variant.
    pub fn variants(&self) -> Vec<(u64, u64)> {
        self.read().variant_keys()
    }

    /// Test helper: adds `products` products of `variants` variants each (SKUs
    /// `BULK-<product>-<variant>`, stock 0), as a merchant's catalogue would have; returns
    /// their `(product_id, variant_id, sku)`.
    pub fn add_catalogue(&self, products: usize, variants: usize) -> Vec<(u64, u64, String)> {
        let mut store = self.write();
        let now = store.clock.now();
        let mut out = vec![];
        for _ in 0..products {
            let pid = store.next_product_id;
            store.next_product_id += 1;
            let vs: Vec<catalogue::Variant> = (0..variants)
                .map(|j| {
                    let vid = store.next_variant_id;
                    store.next_variant_id += 1;
                    let sku = format!("BULK-{pid}-{}", j + 1);
                    out.push((pid, vid, sku.clone()));
                    catalogue::Variant {
                        id: vid,
                        product_id: pid,
                        position: j + 1,
                        sku: Some(sku),
                        barcode: None,
                        price: Some(1990),
                        promotional_price: None,
                        stock_management: true,
                        stock: Some(0),
                        values: vec![serde_json::json!({ "pt": format!("V{}", j + 1) })],
                        weight: None,
                        extra: serde_json::Map::new(),
                        created_at: now,
                        updated_at: now,
                    }
                })
                .collect();
            store.products.insert(
                pid,
                catalogue::Product {
                    id: pid,
                    name: format!("Produto {pid}"),
                    variants: vs,
                    info: Default::default(),
                },
            );
        }
        out
    }

    /// Every variant's SKU: `(product_id, variant_id, sku)`.
    pub fn variant_skus(&self) -> Vec<(u64, u64, Option<String>)> {
        let store = self.read();
        store
            .products
            .values()
            .flat_map(|p| p.variants.iter().map(|v| (p.id, v.id, v.sku.clone())))
            .collect()
    }

    /// A variant as `GET /products/{p}/variants/{v}` serves it.
    pub fn variant(&self, product_id: u64, variant_id: u64) -> Option<Value> {
        let store = self.read();
        store
            .variant(variant_id)
            .filter(|(p, _)| p.id == product_id)
            .map(|(_, v)| v.render())
    }

    /// A product's name, description (`pt`), brand and published flag.
    pub fn product_info(&self, product_id: u64) -> Option<Value> {
        let store = self.read();
        store.products.get(&product_id).map(|p| {
            serde_json::json!({"name": p.name, "description": p.info.description,
                "brand": p.info.brand, "published": p.info.published})
        })
    }

    /// Stock of a variant (`None` if unknown or stock not managed).
    pub fn variant_stock(&self, product_id: u64, variant_id: u64) -> Option<i64> {
        let store = self.read();
        store
            .variant(variant_id)
            .filter(|(p, v)| p.id == product_id && v.stock_management)
            .and_then(|(_, v)| v.stock)
    }

    /// Sets a variant's stock (managed).
    pub fn set_variant_stock(
        &self,
        product_id: u64,
        variant_id: u64,
        stock: i64,
    ) -> Result<(), SimError> {
        self.edit_variant(product_id, variant_id, |v| {
            v.stock = Some(stock);
            v.stock_management = true;
        })
    }

    /// Sets a variant's price and promotional price (centavos), as an edit in the
    /// platform's admin would (prices drifting away from ponte's).
    pub fn set_variant_price(
        &self,
        product_id: u64,
        variant_id: u64,
        price: Option<i64>,
        promotional_price: Option<i64>,
    ) -> Result<(), SimError> {
        self.edit_variant(product_id, variant_id, |v| {
            v.price = price;
            v.promotional_price = promotional_price;
        })
    }

    /// Applies `edit` to a variant and marks it updated.
    fn edit_variant(
        &self,
        product_id: u64,
        variant_id: u64,
        edit: impl FnOnce(&mut catalogue::Variant),
    ) -> Result<(), SimError> {
        let mut store = self.write();
        let now = store.clock.tick();
        let v = store
            .products
            .get_mut(&product_id)
            .and_then(|p| p.variants.iter_mut().find(|v| v.id == variant_id))
            .ok_or_else(|| SimError::NotFound(format!("variant {product_id}/{variant_id}")))?;
        edit(v);
        v.updated_at = now;
        Ok(())
    }

    /// Metafields attached to an order (`owner_resource: "Order"`).
    pub fn metafields_for(&self, order_id: u64) -> Vec<Value> {
        let store = self.read();
        store
            .metafields
            .values()
            .filter(|m| m.owner_resource == "Order" && m.owner_id == order_id)
            .map(resources::Metafield::render)
            .collect()
    }

    /// Registered webhooks as `GET /webhooks` lists them.
    pub fn webhooks(&self) -> Vec<Value> {
        self.read()
            .webhooks
            .values()
            .map(resources::Webhook::render)
            .collect()
    }
}
