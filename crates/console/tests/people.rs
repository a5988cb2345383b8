//! People in the console: e-mail and password sign-in, failed sign-ins limited (429),
//! sessions that end when the person is disabled or gets a new password, the one-time
//! password link page, and the Pessoas and Tokens pages (admin).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{form, pair, App, PASSWORD, TOKEN};
use ponte_core::Role;
use ponte_engine::{UserInput, UserPatch};

#[tokio::test]
async fn a_person_signs_in_with_e_mail_and_password() {
    let app = App::new(false).await;
    let page = app.get("/console/login", &[]).await;
    assert!(page.body.contains("<label for=\"email\">E-mail</label>"));
    assert!(page.body.contains("<label for=\"password\">Senha</label>"));
    assert!(page
        .body
        .contains("<label for=\"token\">Token de API</label>"));
    let email = app.person(Role::Operator).await;
    let r = app.sign_in_form(&email, "not-the-password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    r.refused_at("password", "E-mail ou senha não conferem.");
    assert!(
        r.body.contains(&format!("value=\"{email}\"")),
        "e-mail kept"
    );
    let r = app.sign_in_form("nobody@loja.example", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let (session, _) = app.sign_in_as(&email).await;
    let r = app.get("/console/orders", &[&session]).await;
    assert!(
        r.body.contains("operator@loja.example · Operador"),
        "{}",
        r.body
    );
    // The audit trail and admin pages are not in an operator's menu.
    assert!(!r.body.contains("href=\"/console/audit\""));
}

#[tokio::test]
async fn repeated_failures_are_refused_with_429() {
    let app = App::new(false).await;
    let email = app.person(Role::Viewer).await;
    for _ in 0..5 {
        let r = app.sign_in_form(&email, "wrong-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.sign_in_form(&email, "wrong-password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    r.refused_at("password", "Muitas tentativas sem sucesso");
    // Even the right password waits: the limit is checked first.
    let r = app.sign_in_form(&email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.cookie("ponte_session").is_none());
}

#[tokio::test]
async fn a_disabled_person_s_session_ends_and_so_does_it_after_a_new_password() {
    let app = App::new(false).await;
    let email = app.person(Role::Admin).await;
    let id = app
        .engine
        .users(app.tenant())
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
        .unwrap()
        .id;
    let admin = app.admin().await;
    let (session, _) = app.sign_in_as(&email).await;
    let patch = |p: UserPatch| {
        let admin = admin.clone();
        let engine = app.engine.clone();
        async move { engine.update_user(&admin, id, p).await.unwrap() }
    };
    patch(UserPatch {
        password: Some("another-password-1".into()),
        ..UserPatch::default()
    })
    .await;
    let r = app.get("/console/orders", &[&session]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "a new password ends it");
    assert!(r.location().starts_with("/console/login"));
    patch(UserPatch {
        password: Some(PASSWORD.into()),
        ..UserPatch::default()
    })
    .await;
    let (session, _) = app.sign_in_as(&email).await;
    patch(UserPatch {
        enabled: Some(false),
        ..UserPatch::default()
    })
    .await;
    let r = app.get("/console/settings", &[&session]).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "disabled: the session ends"
    );
    let r = app.sign_in_form(&email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "and cannot sign in");
}

#[tokio::test]
async fn a_one_time_link_sets_the_password_once() {
    let app = App::new(false).await;
    let input = UserInput {
        email: "nova@loja.example".into(),
        name: "Nova".into(),
        role: Role::Viewer,
        password: None,
    };
    let (_, link) = app
        .engine
        .create_user(&app.admin().await, input)
        .await
        .unwrap();
    let link = link.unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let path = format!("/console/password?token={token}");
    assert!(link.ends_with(&path), "{link}");
    let page = app.get(&path, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains("<label for=\"password-new\">Nova senha</label>"));
    let login = pair(&page.cookie("ponte_login").unwrap());
    let csrf = page.field("csrf");
    let post = |password: &str, confirm: &str| {
        form(&[
            ("token", token.as_str()),
            ("password", password),
            ("confirm", confirm),
            ("csrf", csrf.as_str()),
        ])
    };
    let r = app
        .post(
            "/console/password",
            &[&login],
            &post(PASSWORD, "something-else"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("password-confirm", "As duas senhas não são iguais.");
    let r = app
        .post("/console/password", &[&login], &post("short", "short"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("password-new", "password must have at least 10 characters");
    let r = app
        .post("/console/password", &[&login], &post(PASSWORD, PASSWORD))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/console/login?password_set=1");
    let r = app.get(r.location(), &[]).await;
    assert!(r.body.contains("id=\"password-set\""));
    app.sign_in_as("nova@loja.example").await;
    // Used: the link works no more.
    let r = app.get(&path, &[]).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(r.body.contains("id=\"link-invalid\""));
    assert!(!r.body.contains("password-form"));
}

#[tokio::test]
async fn an_admin_adds_a_person_and_the_link_is_shown_once() {
    let app = App::new(false).await;
    let email = app.person(Role::Admin).await;
    let (session, csrf) = app.sign_in_as(&email).await;
    let r = app.get("/console/orders", &[&session]).await;
    for nav in ["/console/audit", "/console/people", "/console/tokens"] {
        assert!(r.body.contains(&format!("href=\"{nav}\"")), "{nav}");
    }
    let r = app.get("/console/people", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("admin@loja.example"));
    let add = |email: &str| {
        form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("name", "Caixa"),
            ("role", "operator"),
        ])
    };
    let r = app
        .post("/console/people", &[&session], &add("not-an-email"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("person-email", "is not an e-mail address");
    let r = app
        .post("/console/people", &[&session], &add("caixa@loja.example"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"link-value\">http://"));
    assert!(r.body.contains("/console/password?token=pnt_"));
    let r = app
        .post("/console/people", &[&session], &add("caixa@loja.example"))
        .await;
    r.refused_at("person-email", "Outra pessoa já entra com este e-mail.");
    let r = app.get("/console/people", &[&session]).await;
    assert!(!r.body.contains("token=pnt_"), "shown once");

    // Disabling a person: their sessions end at once.
    let people = app.engine.users(app.tenant()).await.unwrap();
    let caixa = people
        .iter()
        .find(|u| u.email == "caixa@loja.example")
        .unwrap();
    app.engine
        .update_user(
            &app.admin().await,
            caixa.id,
            UserPatch {
                password: Some(PASSWORD.into()),
                ..UserPatch::default()
            },
        )
        .await
        .unwrap();
    let (theirs, _) = app.sign_in_as("caixa@loja.example").await;
    let r = app
        .post(
            &format!("/console/people/{}", caixa.id),
            &[&session],
            &form(&[("csrf", csrf.as_str()), ("role", "operator")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let u = app.engine.user(app.tenant(), caixa.id).await.unwrap();
    assert!(!u.enabled);
    let r = app.get("/console/orders", &[&theirs]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_admin_creates_a_token_shown_once_and_revokes_it() {
    let app = App::new(false).await;
    let (session, csrf) = app.sign_in().await;
    let r = app
        .post(
            "/console/tokens",
            &[&session],
            &form(&[
                ("csrf", csrf.as_str()),
                ("name", "ERP"),
                ("role", "operator"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let at = r.body.find("id=\"token-value\">").unwrap() + 17;
    let token = r.body[at..at + r.body[at..].find('<').unwrap()].to_owned();
    assert!(token.starts_with("pnt_"), "{token}");
    let caller = app.engine.authenticate(&token).await.unwrap();
    assert_eq!(caller.role, Role::Operator);
    let r = app.get("/console/tokens", &[&session]).await;
    assert!(r.body.contains(">ERP<") && !r.body.contains(&token));
    let id = app
        .engine
        .tokens(app.tenant())
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "ERP")
        .unwrap()
        .id;
    let r = app
        .post(
            &format!("/console/tokens/{id}/revoke"),
            &[&session],
            &form(&[("csrf", csrf.as_str())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.engine.authenticate(&token).await.is_err());
    // The session the bootstrap token opened goes on; the revoked one is gone.
    assert!(app.engine.authenticate(TOKEN).await.is_ok());
}

/// Posts the sign-in form from `address` (the connection's peer, as the server gives
/// it), with an `X-Forwarded-For` claiming another.
async fn sign_in_from(app: &App, address: [u8; 4], email: &str) -> StatusCode {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{header, Request};
    let page = app.get("/console/login", &[]).await;
    let login = pair(&page.cookie("ponte_login").unwrap());
    let body = form(&[
        ("email", email),
        ("password", "wrong-password"),
        ("csrf", &page.field("csrf")),
    ]);
    let req = Request::post("/console/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, login)
        .header("x-forwarded-for", "203.0.113.9")
        .extension(ConnectInfo(std::net::SocketAddr::from((address, 40000))))
        .body(Body::from(body))
        .unwrap();
    app.send(req).await.status
}

#[tokio::test]
async fn failures_are_limited_per_connection_address_whatever_headers_say() {
    let app = App::new(false).await;
    // Twenty failures from one address, each on another account (none at its limit).
    for i in 0..20 {
        let email = format!("p{i}@loja.example");
        assert_eq!(
            sign_in_from(&app, [10, 0, 0, 1], &email).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let fresh = "fresh@loja.example";
    assert_eq!(
        sign_in_from(&app, [10, 0, 0, 1], fresh).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        sign_in_from(&app, [10, 0, 0, 2], fresh).await,
        StatusCode::UNAUTHORIZED,
        "another address is not limited"
    );
}

#[tokio::test]
async fn a_disabled_tenant_closes_every_session() {
    let app = App::new(false).await;
    let email = app.person(Role::Viewer).await;
    let (person, _) = app.sign_in_as(&email).await;
    let (token, _) = app.sign_in().await;
    let patch = ponte_engine::TenantPatch {
        enabled: Some(false),
        ..ponte_engine::TenantPatch::default()
    };
    app.engine
        .update_tenant(&ponte_engine::installation_admin(), app.tenant(), patch)
        .await
        .unwrap();
    let r = app.get("/console/orders", &[&person]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A token looked up in the last half second may still be trusted that long.
    common::wait_for(|| async {
        app.get("/console/orders", &[&token]).await.status == StatusCode::SEE_OTHER
    })
    .await;
    let r = app.sign_in_form(&email, PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
