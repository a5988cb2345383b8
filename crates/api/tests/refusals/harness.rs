//! The real router (`ponte_api::router`) over a real engine on a temporary SQLite
//! store, called in process, with fixtures and a snapshot of everything the API shows.
//! No worker runs: what a request queues stays queued, so a refusal can be checked to
//! have changed nothing. Channels point at a loopback port nothing listens on: no
//! call leaves the machine.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request};
use axum::Router;
use chrono::Utc;
use hmac::{Hmac, Mac};
use ponte_core::import::ImportPolicy;
use ponte_core::order::{
    Customer, MappedOrder, OrderData, OrderItem, Payment, PlatformStatus, Shipping, Totals,
};
use ponte_core::{ErrorCode, OrderStatus, SystemClock};
use ponte_engine::{Cipher, Engine, EngineConfig, MasterKey, TokenSetup};
use ponte_store::{CallRecord, ImportCommit, ImportResult};
use ponte_store_sqlite::SqliteStore;
use serde_json::{json, Value};
use sha2::Sha256;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

/// The API token every request carries unless it tests the token.
pub const TOKEN: &str = "refusals-token-0123456789abcdef";
/// A base URL nothing listens on (loopback: allowed by [`Api::new`], refused by [`Api::strict`]).
pub const NOWHERE: &str = "http://127.0.0.1:1";
/// Another such host (a change of host).
pub const ELSEWHERE: &str = "http://127.0.0.2:1";
/// The Nuvemshop store id of [`Api::channel`].
pub const STORE_ID: &str = "1001";
/// The app secret that signs [`Api::channel`]'s webhooks.
pub const APP_SECRET: &str = "app-secret-0123456789";
/// An NF-e access key with a valid check digit (the fixture's).
pub const NFE_KEY: &str = "43180906929383000163550010000000261000010301";

/// One application on its own database.
pub struct Api {
    pub engine: Arc<Engine>,
    router: Router,
    next_ext: AtomicU32,
    _dir: TempDir,
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts a refusal with `code`: the status the code table gives it, a problem
    /// document (`application/problem+json`) carrying the code.
    #[track_caller]
    pub fn refused(&self, code: ErrorCode) -> &Self {
        let want = code
            .http_status()
            .unwrap_or_else(|| panic!("{code} is never answered"));
        assert_eq!(
            (self.status, self.body["code"].as_str()),
            (want, Some(code.as_str())),
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], want, "{}", self.body);
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        self
    }

    /// Asserts a success and returns the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "{}: {}",
            self.status,
            self.body
        );
        self.body
    }
}

impl Api {
    /// An application that may call loopback addresses (the channels' [`NOWHERE`]).
    pub async fn new() -> Api {
        Self::with(true).await
    }

    /// An application that refuses loopback and private addresses, as in production.
    pub async fn strict() -> Api {
        Self::with(false).await
    }

    async fn with(allow_private_networks: bool) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("ponte.db"))
                .await
                .unwrap(),
        );
        let key = MasterKey::parse(&"ab".repeat(32)).unwrap();
        let config = EngineConfig {
            allow_private_networks,
            ..EngineConfig::default()
        };
        let engine = Engine::new(store, Arc::new(SystemClock), Cipher::new(&key), config)
            .await
            .unwrap();
        engine
            .setup_token(&TokenSetup::Given(TOKEN.into()))
            .await
            .unwrap();
        engine.ensure_all_tasks().await.unwrap();
        Api {
            router: ponte_api::router(engine.clone()),
            engine,
            next_ext: AtomicU32::new(1),
            _dir: dir,
        }
    }

    /// Sends a request as given.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let r = self.router.clone().oneshot(req).await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request with the API token; a JSON body when given.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    /// A request with the API token and this raw body and content type.
    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// A GET that must succeed.
    pub async fn get(&self, path: &str) -> Value {
        self.call("GET", path, None).await.ok()
    }

    /// Asserts `request` is refused with `code` and changes nothing the API shows.
    #[track_caller]
    pub fn expect<'a>(
        &'a self,
        request: impl Future<Output = Reply> + 'a,
        code: ErrorCode,
    ) -> impl Future<Output = Reply> + 'a {
        let at = std::panic::Location::caller();
        async move {
            let before = self.snapshot().await;
            let reply = request.await;
            assert_eq!(
                reply.body["code"],
                code.as_str(),
                "{at}: {} {}",
                reply.status,
                reply.body
            );
            reply.refused(code);
            assert_eq!(
                self.snapshot().await,
                before,
                "{at}: the refusal changed something"
            );
            reply
        }
    }

    /// [`Api::expect`] for a request with the API token and this JSON body.
    #[track_caller]
    pub fn refuses<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
        body: Option<Value>,
        code: ErrorCode,
    ) -> impl Future<Output = Reply> + 'a {
        self.expect(
            async move { self.call(method, path, body.as_ref()).await },
            code,
        )
    }

    /// Everything the API shows (every list, every record's detail), the channels'
    /// sealed credentials and the job queue.
    pub async fn snapshot(&self) -> Value {
        let mut out = serde_json::Map::new();
        for path in [
            "/api/v1/channels",
            "/api/v1/orders?limit=500",
            "/api/v1/status-sends?limit=500",
            "/api/v1/webhook-deliveries?limit=500",
            "/api/v1/products?limit=500",
            "/api/v1/warehouses",
            "/api/v1/scheduled-tasks",
            "/api/v1/settings",
            "/api/v1/unmapped-skus",
            "/api/v1/stock/pushes?limit=500",
        ] {
            out.insert(path.into(), self.get(path).await);
        }
        let store = self.engine.store();
        for c in items(&out["/api/v1/channels"]) {
            let id = c["id"].as_str().unwrap();
            for path in [
                format!("/api/v1/channels/{id}"),
                format!("/api/v1/channels/{id}/listings?limit=500"),
                format!("/api/v1/channels/{id}/stock"),
            ] {
                out.insert(path.clone(), self.get(&path).await);
            }
            let sealed = store.channel(id.parse().unwrap()).await.unwrap().unwrap();
            out.insert(
                format!("credentials {id}"),
                hex::encode(sealed.credentials).into(),
            );
        }
        for o in items(&out["/api/v1/orders?limit=500"]) {
            let path = format!("/api/v1/orders/{}", o["id"].as_str().unwrap());
            out.insert(path.clone(), self.get(&path).await);
        }
        for p in items(&out["/api/v1/products?limit=500"]) {
            let path = format!("/api/v1/stock/{}", p["sku"].as_str().unwrap());
            out.insert(path.clone(), self.get(&path).await);
        }
        for t in items(&out["/api/v1/scheduled-tasks"]) {
            let path = format!(
                "/api/v1/scheduled-tasks/{}/runs?limit=500",
                t["id"].as_str().unwrap()
            );
            out.insert(path.clone(), self.get(&path).await);
        }
        let jobs = store.job_counts().await.unwrap();
        out.insert(
            "jobs".into(),
            json!([jobs.pending, jobs.running, jobs.failed]),
        );
        Value::Object(out)
    }

    /// A Nuvemshop channel calling [`NOWHERE`], signing webhooks with [`APP_SECRET`].
    pub async fn channel(&self) -> String {
        self.channel_at(NOWHERE).await
    }

    /// A Nuvemshop channel calling `base`.
    pub async fn channel_at(&self, base: &str) -> String {
        let body = json!({
            "platform": "nuvemshop",
            "name": "Loja",
            "settings": {"store_id": STORE_ID, "api_base_url": base},
            "credentials": {"access_token": "token-1", "app_secret": APP_SECRET},
        });
        let c = self
            .call("POST", "/api/v1/channels", Some(&body))
            .await
            .ok();
        c["id"].as_str().unwrap().to_owned()
    }

    /// A VTEX channel of `account` with this app key.
    pub async fn vtex_channel(&self, account: &str, app_key: &str) -> Reply {
        let body = json!({
            "platform": "vtex",
            "name": "VTEX",
            "settings": {"account": account, "api_base_url": NOWHERE},
            "credentials": {"app_key": app_key, "app_token": "app-token-1"},
        });
        self.call("POST", "/api/v1/channels", Some(&body)).await
    }

    /// An order of `channel` in `status`, as imports store it (a cancelled one is
    /// imported paid, then cancelled: a new cancelled order is not imported).
    pub async fn order(&self, channel: &str, status: OrderStatus) -> String {
        let ext = format!("{}", 5000 + self.next_ext.fetch_add(1, Ordering::Relaxed));
        if status == OrderStatus::Cancelled {
            self.import(channel, &ext, OrderStatus::Approved).await;
        }
        self.import(channel, &ext, status).await;
        let page = self
            .get(&format!(
                "/api/v1/orders?channel_id={channel}&external_id={ext}"
            ))
            .await;
        assert_eq!(page["items"][0]["status"], status.as_str(), "{page}");
        page["items"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Stores what an import of order `ext` in `status` fetched, now.
    async fn import(&self, channel: &str, ext: &str, status: OrderStatus) {
        let now = Utc::now();
        let order = MappedOrder {
            data: OrderData {
                external_id: ext.to_owned(),
                number: Some(ext.to_owned()),
                status,
                payment: Payment::default(),
                items: vec![OrderItem {
                    sku: Some("SKU-1".into()),
                    name: Some("Camiseta".into()),
                    quantity: 1,
                    unit_price_cents: Some(50_000),
                    product_id: Some("10".into()),
                    variant_id: Some("11".into()),
                    barcode: None,
                }],
                customer: Customer::default(),
                billing_address: None,
                shipping_address: None,
                shipping: Shipping::default(),
                totals: Totals {
                    total_cents: Some(50_000),
                    ..Totals::default()
                },
                currency: Some("BRL".into()),
                placed_at: Some(now),
                platform_updated_at: Some(now),
                paid_at: None,
                cancelled_at: None,
                platform_status: PlatformStatus::default(),
            },
            closed_at_platform: false,
            raw: json!({"id": ext}),
        };
        let channel_id = channel.parse().unwrap();
        let commit = ImportCommit {
            lease: None,
            tenant_id: self.engine.default_tenant(),
            channel_id,
            external_id: ext.to_owned(),
            call: CallRecord {
                request: format!("GET /orders/{ext}"),
                status: Some(200),
                duration_ms: 1,
                error: None,
            },
            result: ImportResult::Fetched {
                order: Box::new(order),
                policy: ImportPolicy::All,
            },
        };
        self.engine
            .store()
            .apply_polled(vec![commit], now)
            .await
            .unwrap();
    }

    /// Applies an ERP action that must be accepted.
    pub async fn act(&self, order: &str, action: &str, body: Value) -> Value {
        let path = format!("/api/v1/orders/{order}/{action}");
        self.call("POST", &path, Some(&body)).await.ok()
    }

    /// Adds a product.
    pub async fn product(&self, sku: &str) {
        let body = json!({"sku": sku, "name": "Produto"});
        self.call("POST", "/api/v1/products", Some(&body))
            .await
            .ok();
    }

    /// Adds a warehouse.
    pub async fn warehouse(&self, code: &str) {
        let body = json!({"code": code, "name": "Depósito"});
        self.call("POST", "/api/v1/warehouses", Some(&body))
            .await
            .ok();
    }

    /// Posts a webhook to `channel` signed with `secret` (no signature header when `None`).
    pub async fn webhook(&self, channel: &str, body: &[u8], secret: Option<&str>) -> Reply {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("/webhooks/{channel}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(s) = secret {
            req = req.header("x-linkedstore-hmac-sha256", sign(body, s));
        }
        self.send(req.body(Body::from(body.to_vec())).unwrap())
            .await
    }
}

/// The hex HMAC-SHA256 Nuvemshop signs a webhook body with.
pub fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A page's items.
pub fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// A well-formed id that names nothing.
pub fn unknown_id() -> String {
    ponte_core::OrderId::new().to_string()
}

/// A valid invoice body for `NFE_KEY`, number 26, series 1, R$ 500,00 (the fixture's).
pub fn invoice() -> Value {
    json!({
        "number": "26",
        "series": "1",
        "access_key": NFE_KEY,
        "issued_at": "2018-09-25T03:00:00Z",
        "total_cents": 50_000,
    })
}

/// The authorized NF-e XML fixture (layout 4.00).
pub fn nfe_xml() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
    );
    std::fs::read_to_string(path).unwrap()
}

/// A refusal a test asserts: method and path as the OpenAPI document spells them, and
/// the code.
pub type Covered = (String, String, ErrorCode);

/// `(method, path, code)` triples as [`Covered`].
pub fn covered(list: &[(&str, &str, ErrorCode)]) -> Vec<Covered> {
    list.iter()
        .map(|(m, p, c)| ((*m).to_owned(), (*p).to_owned(), *c))
        .collect()
}

/// Every operation of the OpenAPI document: method, path and its `x-error-codes`.
pub fn operations() -> Vec<(String, String, Vec<String>)> {
    let doc: Value = serde_json::from_str(&ponte_api::openapi_json()).unwrap();
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let codes = op["x-error-codes"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} has no x-error-codes"))
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect();
            out.push((method.clone(), path.clone(), codes));
        }
    }
    out
}

/// An application with one of each record a route names: a channel, a paid order of
/// it, a product and the channel's import task.
pub struct World {
    pub api: Api,
    pub channel: String,
    pub order: String,
    pub sku: String,
    pub task: String,
}

impl World {
    pub async fn new() -> World {
        let api = Api::new().await;
        let channel = api.channel().await;
        let order = api.order(&channel, OrderStatus::Approved).await;
        api.product("SKU-1").await;
        let tasks = api
            .get(&format!("/api/v1/scheduled-tasks?channel_id={channel}"))
            .await;
        let task = items(&tasks)
            .into_iter()
            .find(|t| t["kind"] == "import_orders")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        World {
            api,
            channel,
            order,
            sku: "SKU-1".into(),
            task,
        }
    }

    /// `template` (an OpenAPI path) naming this world's records.
    pub fn path(&self, template: &str) -> String {
        template
            .replace("/channels/{id}", &format!("/channels/{}", self.channel))
            .replace("/orders/{id}", &format!("/orders/{}", self.order))
            .replace(
                "/scheduled-tasks/{id}",
                &format!("/scheduled-tasks/{}", self.task),
            )
            .replace("{sku}", &self.sku)
            .replace("{channel_id}", &self.channel)
            .replace("{id}", &unknown_id())
    }
}
