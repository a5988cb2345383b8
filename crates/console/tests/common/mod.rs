//! The console test harness: the router over a real engine on a temporary SQLite
//! store, called in process, with a signed-in session; form posts (url-encoded and
//! multipart), refusals read next to their field, and a Nuvemshop simulator whose
//! orders the engine imports.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use ponte_core::{ChannelId, OrderId, Role, SystemClock, TenantId};
use ponte_engine::{
    Caller, ChannelInput, Cipher, Engine, EngineConfig, MasterKey, TokenSetup, UserInput, Workers,
};
use ponte_sim::nuvemshop::{
    NewLine, NewOrder, NuvemshopSim, PaymentStatus, ServerHandle, SimConfig,
};
use ponte_store::{OrderFilter, PageRequest};
use ponte_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tower::ServiceExt;

pub const TOKEN: &str = "console-token-0123456789abcdef";
/// Every person the tests add signs in with this password.
pub const PASSWORD: &str = "senha-bem-forte-42";

pub struct App {
    pub router: Router,
    pub engine: Arc<Engine>,
    _dir: TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn field(&self, name: &str) -> String {
        let at = self
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap();
        let rest = &self.body[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The text of the refusal shown next to the field with this id
    /// (`<p class="error" id="{id}-error">`, tags left out), after checking the field
    /// points to it.
    pub fn error_at(&self, id: &str) -> Option<String> {
        let tag = format!("id=\"{id}-error\"");
        let at = self.body.find(&tag)?;
        let rest = &self.body[at + tag.len()..];
        let html = &rest[rest.find('>')? + 1..];
        let html = &html[..html.find("</p>")?];
        assert!(
            self.body
                .contains(&format!("aria-describedby=\"{id}-error\""))
                || self.body.contains(&format!(" {id}-error\"")),
            "{id} does not point to its error"
        );
        let mut text = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Checks that the field with this id shows a refusal saying `message`.
    pub fn refused_at(&self, id: &str, message: &str) {
        let Some(text) = self.error_at(id) else {
            panic!("no refusal at {id}: {}", self.body);
        };
        assert!(text.contains(message), "{id}: {message:?} not in {text:?}");
    }
}

/// `name=value` of a `Set-Cookie` header.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A part of a multipart form: (name, file name if a file, content).
pub type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

impl App {
    pub async fn new(secure: bool) -> App {
        App::with(EngineConfig::default(), secure).await
    }

    /// An app whose engine has this configuration.
    pub async fn with(config: EngineConfig, secure: bool) -> App {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("ponte.db"))
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let key = MasterKey::parse(&"cd".repeat(32)).unwrap();
        let engine = Engine::new(store, Arc::new(SystemClock), Cipher::new(&key), config)
            .await
            .unwrap();
        engine
            .setup_token(&TokenSetup::Given(TOKEN.into()))
            .await
            .unwrap();
        let config = ponte_console::ConsoleConfig {
            session_key: key.derive("console sessions"),
            secure_cookies: secure,
            time_zone: chrono_tz::America::Sao_Paulo,
        };
        App {
            router: ponte_console::router(engine.clone(), config).unwrap(),
            engine,
            _dir: dir,
        }
    }

    pub fn tenant(&self) -> TenantId {
        self.engine.default_tenant()
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let r = self.router.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, cookies: &[&str]) -> Reply {
        let mut b = Request::get(path);
        if !cookies.is_empty() {
            b = b.header(header::COOKIE, cookies.join("; "));
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, cookies: &[&str], form: &str) -> Reply {
        let mut b =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            b = b.header(header::COOKIE, cookies.join("; "));
        }
        self.send(b.body(Body::from(form.to_owned())).unwrap())
            .await
    }

    /// Posts a `multipart/form-data` body as a browser does.
    pub async fn post_multipart(&self, path: &str, cookies: &[&str], parts: &[Part<'_>]) -> Reply {
        let boundary = "----ponteTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, file, content) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: text/xml\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let b = Request::post(path)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(header::COOKIE, cookies.join("; "));
        self.send(b.body(Body::from(body)).unwrap()).await
    }

    /// Signs in; returns the session cookie (`name=value`) and the page's CSRF token.
    pub async fn sign_in(&self) -> (String, String) {
        let form = self.get("/console/login", &[]).await;
        let login = pair(&form.cookie("ponte_login").unwrap());
        let csrf = form.field("csrf");
        let r = self
            .post(
                "/console/login",
                &[&login],
                &format!("token={TOKEN}&csrf={csrf}&next=%2Fconsole%2Ferrors"),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), "/console/errors");
        let session = pair(&r.cookie("ponte_session").unwrap());
        let page = self.get("/console/errors", &[&session]).await;
        assert_eq!(page.status, StatusCode::OK);
        (session, page.field("csrf"))
    }
}

impl App {
    /// The bootstrap admin token as a caller (adds people).
    pub async fn admin(&self) -> Caller {
        self.engine.authenticate(TOKEN).await.unwrap()
    }

    /// Adds a person with this role who signs in with [`PASSWORD`]; returns the e-mail.
    pub async fn person(&self, role: Role) -> String {
        let email = format!("{role}@loja.example");
        let input = UserInput {
            email: email.clone(),
            name: format!("Pessoa {role}"),
            role,
            password: Some(PASSWORD.into()),
        };
        self.engine
            .create_user(&self.admin().await, input)
            .await
            .unwrap();
        email
    }

    /// Posts the e-mail and password form of the sign-in page.
    pub async fn sign_in_form(&self, email: &str, password: &str) -> Reply {
        let page = self.get("/console/login", &[]).await;
        let login = pair(&page.cookie("ponte_login").unwrap());
        let csrf = page.field("csrf");
        let body = form(&[
            ("email", email),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/console/orders"),
        ]);
        self.post("/console/login", &[&login], &body).await
    }

    /// Signs in as a person; returns the session cookie and the CSRF token.
    pub async fn sign_in_as(&self, email: &str) -> (String, String) {
        let r = self.sign_in_form(email, PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), "/console/orders");
        let session = pair(&r.cookie("ponte_session").unwrap());
        let page = self.get("/console/orders", &[&session]).await;
        assert_eq!(page.status, StatusCode::OK);
        (session, page.field("csrf"))
    }
}

/// A simulated Nuvemshop store with a channel on it, the engine's workers running.
pub struct Shop {
    pub sim: NuvemshopSim,
    pub channel: ChannelId,
    _server: ServerHandle,
    _workers: Workers,
}

impl Shop {
    /// Starts the simulator and creates the channel (`settings` merged into the
    /// defaults: every order imported, no rate limit).
    pub async fn open(app: &App, settings: serde_json::Value) -> Shop {
        let sim = NuvemshopSim::new(SimConfig {
            bucket_size: 0,
            ..SimConfig::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = sim.serve(listener).await;
        let mut all = serde_json::json!({
            "store_id": sim.config().store_id.to_string(),
            "api_base_url": server.base_url(),
            "import_policy": "all",
            "rate_limit_per_sec": 1e6,
            "rate_limit_burst": 1e6,
        });
        if let (Some(all), Some(extra)) = (all.as_object_mut(), settings.as_object()) {
            all.extend(extra.clone());
        }
        let ch = app
            .engine
            .create_channel(
                app.tenant(),
                ChannelInput {
                    platform: "nuvemshop".into(),
                    name: "Loja Nuvem".into(),
                    settings: all,
                    credentials: serde_json::json!({
                        "access_token": sim.config().access_token,
                        "app_secret": sim.config().app_secret,
                    }),
                },
            )
            .await
            .unwrap();
        Shop {
            sim,
            channel: ch.id,
            _server: server,
            _workers: Workers::start(app.engine.clone()),
        }
    }

    /// Places an order at the store (paid or awaiting payment) with these lines
    /// (SKU, quantity), notifies ponte by webhook and waits until it is imported.
    pub async fn order(&self, app: &App, paid: bool, lines: &[(&str, u32)]) -> OrderId {
        let id = self.sim.create_order(NewOrder {
            payment_status: if paid {
                PaymentStatus::Paid
            } else {
                PaymentStatus::Pending
            },
            lines: lines
                .iter()
                .map(|(sku, quantity)| NewLine {
                    sku: Some((*sku).to_owned()),
                    quantity: *quantity,
                    ..NewLine::default()
                })
                .collect(),
            ..NewOrder::default()
        });
        self.notify(app, "order/created", id).await;
        let filter = OrderFilter {
            channel_id: Some(self.channel),
            external_id: Some(id.to_string()),
            ..OrderFilter::default()
        };
        let req = PageRequest {
            cursor: None,
            limit: 1,
        };
        let start = Instant::now();
        loop {
            let found = app
                .engine
                .store()
                .orders(app.tenant(), &filter, &req)
                .await
                .unwrap();
            if let Some(o) = found.items.first() {
                return o.id;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "order {id} not imported"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Shop {
    /// Sends ponte the store's signed webhook for `event` about order `id`.
    pub async fn notify(&self, app: &App, event: &str, id: u64) {
        let body = self.sim.notification_body(event, id);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        headers.insert(
            "x-linkedstore-hmac-sha256",
            self.sim.signature(&body).parse().unwrap(),
        );
        app.engine
            .receive_webhook(self.channel, &headers, &body)
            .await
            .unwrap();
    }
}

/// Waits until `check` holds (20 s at most).
pub async fn wait_for<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(20), "never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A form body from its fields.
pub fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// An engine that may call loopback addresses (simulators), webhooks registered at
/// `public_url` when given.
pub fn loopback(public_url: Option<&str>) -> EngineConfig {
    EngineConfig {
        allow_private_networks: true,
        public_url: public_url.unwrap_or("http://127.0.0.1:8080").to_owned(),
        public_url_set: public_url.is_some(),
        ..EngineConfig::default()
    }
}
