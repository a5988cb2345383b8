//! The console router over a real engine on a temporary SQLite store, called in
//! process: signing in and out, sessions, CSRF, language, security headers. The pages
//! with data are driven in a real browser by `crates/ponte/tests/console_browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use ponte_core::SystemClock;
use ponte_engine::{Cipher, Engine, EngineConfig, MasterKey, TokenSetup};
use ponte_store_sqlite::SqliteStore;
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

const TOKEN: &str = "console-token-0123456789abcdef";

struct App {
    router: Router,
    engine: Arc<Engine>,
    _dir: TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn field(&self, name: &str) -> String {
        let at = self
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap();
        let rest = &self.body[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// `name=value` of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

impl App {
    async fn new(secure: bool) -> App {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("ponte.db"))
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let key = MasterKey::parse(&"cd".repeat(32)).unwrap();
        let engine = Engine::new(
            store,
            Arc::new(SystemClock),
            Cipher::new(&key),
            EngineConfig::default(),
        )
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

    async fn send(&self, req: Request<Body>) -> Reply {
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

    async fn get(&self, path: &str, cookies: &[&str]) -> Reply {
        let mut b = Request::get(path);
        if !cookies.is_empty() {
            b = b.header(header::COOKIE, cookies.join("; "));
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookies: &[&str], form: &str) -> Reply {
        let mut b =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            b = b.header(header::COOKIE, cookies.join("; "));
        }
        self.send(b.body(Body::from(form.to_owned())).unwrap())
            .await
    }

    /// Signs in; returns the session cookie (`name=value`) and the page's CSRF token.
    async fn sign_in(&self) -> (String, String) {
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

#[tokio::test]
async fn the_root_and_every_page_lead_to_sign_in() {
    let app = App::new(false).await;
    let r = app.get("/", &[]).await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/console")
    );
    for page in [
        "/console",
        "/console/orders",
        "/console/errors",
        "/console/history",
        "/console/channels",
    ] {
        let r = app.get(page, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        if page != "/console" {
            assert!(
                r.location()
                    .starts_with("/console/login?next=%2Fconsole%2F"),
                "{page}: {}",
                r.location()
            );
        }
    }
    // htmx requests are told where to go instead of swapping the sign-in page in.
    let r = app
        .send(
            Request::get("/console/orders")
                .header("hx-request", "true")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key("hx-redirect"));
}

#[tokio::test]
async fn the_sign_in_page_is_a_labelled_form_under_a_strict_policy() {
    let app = App::new(false).await;
    let r = app.get("/console/login", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<html lang=\"pt-BR\">"));
    assert!(r.body.contains("name=\"token\""));
    assert!(r.body.contains("<label for=\"token\">Token de API</label>"));
    assert!(r.body.contains("name=\"csrf\""));
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(
        !r.body.contains("<script>") && !r.body.contains("style=\""),
        "nothing inline"
    );
    assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let c = r.cookie("ponte_login").unwrap();
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Lax") && !c.contains("Secure"),
        "{c}"
    );
}

#[tokio::test]
async fn a_wrong_token_or_a_forged_form_opens_no_session() {
    let app = App::new(false).await;
    let form = app.get("/console/login", &[]).await;
    let login = pair(&form.cookie("ponte_login").unwrap());
    let csrf = form.field("csrf");
    let r = app
        .post(
            "/console/login",
            &[&login],
            &format!("token=wrong&csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Token inválido ou revogado."), "{}", r.body);
    assert!(r.body.contains("aria-invalid=\"true\""));
    assert!(r.cookie("ponte_session").is_none());
    // Right token, but not from this browser's form.
    let r = app
        .post(
            "/console/login",
            &[&login],
            &format!("token={TOKEN}&csrf=forged"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.cookie("ponte_session").is_none());
    let r = app
        .post("/console/login", &[], &format!("token={TOKEN}&csrf={csrf}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_session_opens_the_pages_until_sign_out() {
    let app = App::new(false).await;
    let (session, csrf) = app.sign_in().await;
    for (page, heading) in [
        ("/console/orders", "<h1>Pedidos</h1>"),
        ("/console/errors", "<h1>Erros</h1>"),
        (
            "/console/history",
            "<h1>Histórico de Envio de Situação</h1>",
        ),
        ("/console/channels", "<h1>Canais</h1>"),
    ] {
        let r = app.get(page, &[&session]).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(r.body.contains(heading), "{page}: {}", r.body);
        assert!(r.body.contains("aria-current=\"page\""), "{page}");
    }
    let csv = app.get("/console/history.csv", &[&session]).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with("id,created_at,channel_id"));
    let missing = app
        .get(
            "/console/orders/01a24525-192a-731b-b2a8-6aa4577106bb",
            &[&session],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // A form without the session's CSRF token changes nothing.
    let r = app
        .post("/console/errors/resend", &[&session], "ids=x")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/console/errors/resend",
            &[&session],
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"resent-count\">0<"), "{}", r.body);
    // Sign out clears the cookie.
    let r = app.post("/console/logout", &[&session], "csrf=wrong").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post("/console/logout", &[&session], &format!("csrf={csrf}"))
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/console/login")
    );
    assert!(r.cookie("ponte_session").unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn a_tampered_or_foreign_session_is_refused() {
    let app = App::new(false).await;
    let (session, _) = app.sign_in().await;
    let tampered = session.replacen('|', "|0", 1);
    let r = app.get("/console/orders", &[&tampered]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Another installation's key signs sessions this one does not accept.
    let other = App::new(false).await;
    let (theirs, _) = other.sign_in().await;
    drop(other);
    let r = app.get("/console/orders", &[&theirs]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.engine.authenticate(TOKEN).await.unwrap().is_some());
}

#[tokio::test]
async fn english_by_header_or_switch() {
    let app = App::new(false).await;
    let (session, _) = app.sign_in().await;
    let r = app
        .send(
            Request::get("/console/orders")
                .header(header::COOKIE, &session)
                .header(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.body.contains("<h1>Orders</h1>") && r.body.contains("<html lang=\"en\">"));
    let r = app
        .get("/console/lang/en?back=%2Fconsole%2Fhistory", &[])
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/console/history")
    );
    let lang = pair(&r.cookie("ponte_lang").unwrap());
    let r = app.get("/console/history", &[&session, &lang]).await;
    assert!(
        r.body.contains("<h1>Status send history</h1>"),
        "{}",
        r.body
    );
    let r = app
        .get("/console/lang/en?back=https%3A%2F%2Fevil.example", &[])
        .await;
    assert_eq!(r.location(), "/console/orders");
    assert_eq!(
        app.get("/console/lang/fr", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn cookies_are_secure_behind_https_and_assets_are_embedded() {
    let app = App::new(true).await;
    let r = app.get("/console/login", &[]).await;
    assert!(r.cookie("ponte_login").unwrap().contains("Secure"));
    for (name, kind) in [
        ("htmx.min.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("console.js", "text/javascript; charset=utf-8"),
    ] {
        let r = app.get(&format!("/console/assets/{name}"), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(r.headers[header::CONTENT_TYPE], kind);
        assert!(r.body.len() > 100);
    }
    assert_eq!(
        app.get("/console/assets/nope.js", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}
