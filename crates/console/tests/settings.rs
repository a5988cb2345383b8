//! Configurações, in process: the automatic cancellation days are shown, saved and
//! cleared; refused values show next to the field with 422 and change nothing; the
//! form needs the session's CSRF token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::App;

async fn days(app: &App) -> Option<u32> {
    app.engine
        .tenant_settings(app.tenant())
        .await
        .unwrap()
        .auto_cancel_awaiting_payment_after_days
}

#[tokio::test]
async fn automatic_cancellation_days_are_saved_refused_and_cleared() {
    let app = App::new(false).await;
    let (session, csrf) = app.sign_in().await;
    let r = app.get("/console/settings", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Configurações</h1>"));
    assert!(r.body.contains("aria-current=\"page\">Configurações<"));
    assert!(r.body.contains(
        "<label for=\"settings-auto_cancel_days\">Cancelamento automático de pedidos (dias)</label>"
    ));
    assert!(r
        .body
        .contains("name=\"auto_cancel_days\" inputmode=\"numeric\" value=\"\""));
    assert!(r.body.contains("America/Sao_Paulo"));

    let r = app
        .post(
            "/console/settings",
            &[&session],
            &format!("csrf={csrf}&auto_cancel_days=30"),
        )
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/console/settings?saved=1")
    );
    assert_eq!(days(&app).await, Some(30));
    let r = app.get("/console/settings?saved=1", &[&session]).await;
    assert!(r.body.contains("id=\"settings-saved\""));
    assert!(r.body.contains("value=\"30\""));

    for value in ["400", "0", "trinta", "-1"] {
        let r = app
            .post(
                "/console/settings",
                &[&session],
                &format!("csrf={csrf}&auto_cancel_days={value}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{value}");
        r.refused_at("settings-auto_cancel_days", "Um campo tem valor inválido.");
        assert!(r.body.contains(&format!("value=\"{value}\"")));
        assert_eq!(days(&app).await, Some(30), "{value}: nothing changed");
    }

    let r = app
        .post(
            "/console/settings",
            &[&session],
            "csrf=forged&auto_cancel_days=5",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(days(&app).await, Some(30));

    // Blank: never cancel.
    let r = app
        .post(
            "/console/settings",
            &[&session],
            &format!("csrf={csrf}&auto_cancel_days="),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(days(&app).await, None);
}
