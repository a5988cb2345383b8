//! The console test harness: the router over a real engine on a temporary SQLite
//! store, called in process, with a signed-in session.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use ponte_core::SystemClock;
use ponte_engine::{Cipher, Engine, EngineConfig, MasterKey, TokenSetup};
use ponte_store_sqlite::SqliteStore;
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

pub const TOKEN: &str = "console-token-0123456789abcdef";

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
}

/// `name=value` of a `Set-Cookie` header.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

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
