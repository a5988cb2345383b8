//! Webhooks de saída, in process: an endpoint registered from the page (its secret
//! shown once), a delivery that fails against a local receiver listed with its HTTP
//! status and answer, "Reenviar" and "Recuperar desde" queueing it again until it is
//! delivered, and who may see and post what.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use axum::routing::post;
use common::{form, loopback, App, Shop};
use ponte_core::webhook_schedule::WebhookSchedule;
use ponte_core::Role;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A local endpoint answering 503 while `down`, counting what it got.
async fn receiver(down: Arc<AtomicBool>, got: Arc<AtomicUsize>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let (down, got) = (down.clone(), got.clone());
            async move {
                got.fetch_add(1, Ordering::SeqCst);
                if down.load(Ordering::SeqCst) {
                    (StatusCode::SERVICE_UNAVAILABLE, "em manutenção")
                } else {
                    (StatusCode::OK, "recebido")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_show_attempts_and_resend_and_recover() {
    let mut config = loopback(None);
    // One attempt: a failure is final at once (until resent).
    config.webhook_schedule = WebhookSchedule {
        waits: vec![],
        jitter: 0.0,
    };
    let app = App::with(config, false).await;
    let (session, csrf) = app.sign_in().await;
    let (down, got) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicUsize::new(0)),
    );
    let url = receiver(down.clone(), got.clone()).await;

    let r = app.get("/console/webhook-endpoints", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Webhooks de saída</h1>"));
    assert!(r.body.contains("aria-current=\"page\">Webhooks de saída<"));
    assert!(r.body.contains("Nenhum endpoint cadastrado."));

    // Refused: shown next to the field, nothing stored.
    let bad = form(&[("csrf", &csrf), ("url", "ftp://erp.example/x")]);
    let r = app
        .post("/console/webhook-endpoints", &[&session], &bad)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.refused_at("endpoint-url", "is not an http(s) URL");
    assert!(r.body.contains("value=\"ftp://erp.example/x\""));
    assert!(app.engine.endpoints(app.tenant()).await.unwrap().is_empty());
    let r = app
        .post(
            "/console/webhook-endpoints",
            &[&session],
            &form(&[("csrf", "x"), ("url", &url)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");

    let ok = form(&[("csrf", &csrf), ("url", &url), ("description", "ERP")]);
    let r = app
        .post("/console/webhook-endpoints", &[&session], &ok)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("id=\"endpoint-secret\">whsec_"),
        "shown once"
    );
    let eps = app.engine.endpoints(app.tenant()).await.unwrap();
    assert_eq!(eps.len(), 1);
    let ep = eps[0].id;
    let page = format!("/console/webhook-endpoints/{ep}");
    let r = app.get("/console/webhook-endpoints", &[&session]).await;
    assert!(!r.body.contains("whsec_"), "never shown again");
    assert!(r.body.contains(&format!("href=\"{page}\">{url}</a>")));
    assert!(r.body.contains("badge endpoint-enabled"));

    // An order: its order.created fails at the receiver (503), once and for all.
    let shop = Shop::open(&app, serde_json::json!({})).await;
    shop.order(&app, true, &[("CAMISETA-P", 1)]).await;
    common::wait_for(|| async {
        let r = app.get(&page, &[&session]).await;
        r.body.contains("badge attempt-failed")
    })
    .await;
    let r = app.get(&page, &[&session]).await;
    assert!(r.body.contains("<code>order.created</code>"), "{}", r.body);
    assert!(r.body.contains("<td>503</td>"));
    assert!(r
        .body
        .contains("<code class=\"answer\">em manutenção</code>"));
    assert!(r.body.contains(" ms</td>"), "the duration");
    let list = app.get("/console/webhook-endpoints", &[&session]).await;
    let row = list
        .body
        .split(&format!("id=\"endpoint-{ep}\""))
        .nth(1)
        .unwrap();
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<td>0</td>\n    <td>1</td>"),
        "0 pending, 1 failed: {row}"
    );
    assert!(row.contains("Nunca"), "never delivered: {row}");

    // Reenviar: the receiver is back; the message goes again and is delivered.
    down.store(false, Ordering::SeqCst);
    let attempt = r.body.split("id=\"resend-").nth(1).unwrap();
    let attempt = &attempt[..attempt.find('"').unwrap()];
    let resend = format!("{page}/attempts/{attempt}/resend");
    let r = app.post(&resend, &[&session], "csrf=x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
    let r = app
        .post(&resend, &[&session], &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("{page}?resent=1"));
    let r = app.get(r.location(), &[&session]).await;
    assert!(r.body.contains("id=\"endpoint-resent\""));
    common::wait_for(|| async {
        let r = app.get(&page, &[&session]).await;
        r.body.contains("badge attempt-succeeded")
    })
    .await;
    let seen = got.load(Ordering::SeqCst);

    // Recuperar desde: everything since a time goes again.
    let r = app
        .post(
            &format!("{page}/recover"),
            &[&session],
            &form(&[("csrf", &csrf), ("since", "2000-01-01T00:00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with(&format!("{page}?recovered=")));
    assert_ne!(r.location(), format!("{page}?recovered=0"));
    let r = app.get(r.location(), &[&session]).await;
    assert!(r.body.contains("id=\"endpoint-recovered\""));
    common::wait_for(|| async { got.load(Ordering::SeqCst) > seen }).await;
    let r = app
        .post(
            &format!("{page}/recover"),
            &[&session],
            &form(&[("csrf", &csrf), ("since", "ontem")]),
        )
        .await;
    assert_eq!(r.location(), format!("{page}?bad_since=1"));
    let r = app.get(r.location(), &[&session]).await;
    assert!(r.body.contains("id=\"recover-since-error\""));

    // Not found.
    let other = "/console/webhook-endpoints/01a24525-192a-731b-b2a8-6aa4577106bb";
    assert_eq!(
        app.get(other, &[&session]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("{page}/attempts/{ep}/resend"),
            &[&session],
            &form(&[("csrf", &csrf)])
        )
        .await
        .status,
        StatusCode::NOT_FOUND,
        "not an attempt of this endpoint"
    );

    // A viewer reads without forms; an operator resends and recovers but does not register.
    let viewer = app.person(Role::Viewer).await;
    let (vs, vcsrf) = app.sign_in_as(&viewer).await;
    let r = app.get(&page, &[&vs]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("id=\"resend-") && !r.body.contains("recover-form"));
    let r = app.post(&resend, &[&vs], &form(&[("csrf", &vcsrf)])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let list = app.get("/console/webhook-endpoints", &[&vs]).await;
    assert!(!list.body.contains("endpoint-form"));
    let operator = app.person(Role::Operator).await;
    let (os, ocsrf) = app.sign_in_as(&operator).await;
    let r = app.get(&page, &[&os]).await;
    assert!(r.body.contains("id=\"resend-") && r.body.contains("recover-form"));
    let r = app
        .post(
            "/console/webhook-endpoints",
            &[&os],
            &form(&[("csrf", &ocsrf), ("url", &url)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.engine.endpoints(app.tenant()).await.unwrap().len(), 1);
}
