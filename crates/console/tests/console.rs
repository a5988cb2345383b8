//! The console router over a real engine on a temporary SQLite store, called in
//! process: signing in and out, sessions, CSRF, language, security headers. The pages
//! with data are driven in a real browser by `crates/ponte/tests/console_browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{pair, App, TOKEN};

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
        "/console/tasks",
        "/console/stock",
        "/console/deliveries",
        "/console/settings",
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
        ("/console/tasks", "<h1>Tarefas agendadas</h1>"),
        ("/console/stock", "<h1>Estoque</h1>"),
        ("/console/deliveries", "<h1>Webhooks recebidos</h1>"),
        ("/console/settings", "<h1>Configurações</h1>"),
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
    assert!(app.engine.authenticate(TOKEN).await.is_ok());
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
