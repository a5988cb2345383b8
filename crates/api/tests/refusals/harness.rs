//! The real router (`ponte_api::router`) over a real engine on a temporary SQLite
//! store, called in process; what the OpenAPI document declares; and a snapshot of
//! everything the API shows. No worker runs: what a request queues stays queued, so a
//! refusal can be checked to have changed nothing.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request};
use axum::Router;
use ponte_core::{ErrorCode, SystemClock};
use ponte_engine::{Cipher, Engine, EngineConfig, MasterKey, TokenSetup};
use ponte_store_sqlite::SqliteStore;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

/// The API token every request carries unless it tests the token (the default
/// tenant's bootstrap token: `admin`).
pub const TOKEN: &str = "refusals-token-0123456789abcdef";

/// The installation's admin token (`PONTE_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "installation-admin-0123456789abcdef";

/// The store an application runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A scratch PostgreSQL database (dropped at the end).
    Postgres,
}

/// One application on its own database.
pub struct Api {
    pub engine: Arc<Engine>,
    router: Router,
    _dir: TempDir,
    _db: Option<crate::scratch_pg::ScratchDb>,
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
    /// An application that may call loopback addresses (the channels' [`crate::fixtures::NOWHERE`]).
    pub async fn new() -> Api {
        Self::with(true).await
    }

    /// An application that refuses loopback and private addresses, as in production.
    pub async fn strict() -> Api {
        Self::with(false).await
    }

    /// An application on `backend` that may call loopback addresses.
    pub async fn on(backend: Backend) -> Api {
        Self::build(true, backend).await
    }

    async fn with(allow_private_networks: bool) -> Api {
        Self::build(allow_private_networks, Backend::Sqlite).await
    }

    async fn build(allow_private_networks: bool, backend: Backend) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let (store, db): (Arc<dyn ponte_store::Store>, _) = match backend {
            Backend::Sqlite => (
                Arc::new(
                    SqliteStore::open(&dir.path().join("ponte.db"))
                        .await
                        .unwrap(),
                ),
                None,
            ),
            Backend::Postgres => {
                let db = crate::scratch_pg::ScratchDb::create().await;
                let store = ponte_store_pg::PgStore::connect(&db.url, 4).await.unwrap();
                store.migrate().await.unwrap();
                (Arc::new(store), Some(db))
            }
        };
        let key = MasterKey::parse(&"ab".repeat(32)).unwrap();
        let config = EngineConfig {
            allow_private_networks,
            admin_token_hash: Some(ponte_engine::hash_token(ADMIN_TOKEN)),
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
            _dir: dir,
            _db: db,
        }
    }

    /// A second instance: another engine on the same database (PostgreSQL: its own
    /// pool; SQLite: the same store), as another process would run.
    pub async fn second_instance(&self) -> Api {
        let store = self.engine.store().clone();
        let key = MasterKey::parse(&"ab".repeat(32)).unwrap();
        let config = EngineConfig {
            allow_private_networks: true,
            admin_token_hash: Some(ponte_engine::hash_token(ADMIN_TOKEN)),
            ..EngineConfig::default()
        };
        let engine = Engine::new(store, Arc::new(SystemClock), Cipher::new(&key), config)
            .await
            .unwrap();
        Api {
            router: ponte_api::router(engine.clone()),
            engine,
            _dir: tempfile::tempdir().unwrap(),
            _db: None,
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
        self.call_as(TOKEN, method, path, body).await
    }

    /// A request with this bearer token; a JSON body when given.
    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
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

    /// A new token of the default tenant with this role (`viewer`, `operator`, `admin`).
    pub async fn token(&self, role: &str) -> String {
        let body = serde_json::json!({"name": format!("{role} token"), "role": role});
        let t = self.call("POST", "/api/v1/tokens", Some(&body)).await.ok();
        t["token"].as_str().unwrap().to_owned()
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
            "/api/v1/carrier-accounts",
            "/api/v1/tickets",
            "/api/v1/orders?limit=500",
            "/api/v1/status-sends?limit=500",
            "/api/v1/webhook-deliveries?limit=500",
            "/api/v1/products?limit=500",
            "/api/v1/warehouses",
            "/api/v1/scheduled-tasks",
            "/api/v1/settings",
            "/api/v1/unmapped-skus",
            "/api/v1/stock/pushes?limit=500",
            "/api/v1/prices/scheduled?limit=500",
            "/api/v1/prices/pushes?limit=500",
            "/api/v1/webhook-endpoints",
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
                format!("/api/v1/channels/{id}/prices"),
                format!("/api/v1/channels/{id}/status-map"),
                format!("/api/v1/channels/{id}/payment-map"),
                format!("/api/v1/channels/{id}/customer-fields"),
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
            let sku = p["sku"].as_str().unwrap();
            for path in [
                format!("/api/v1/stock/{sku}"),
                format!("/api/v1/prices/{sku}"),
            ] {
                out.insert(path.clone(), self.get(&path).await);
            }
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
}

/// A page's items.
pub fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// A well-formed id that names nothing.
pub fn unknown_id() -> String {
    ponte_core::OrderId::new().to_string()
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
