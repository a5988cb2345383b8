//! Roles in the console and the audit trail: a viewer reads and sees no form to act
//! with, and a post of theirs is refused (403 naming the role) and changes nothing; an
//! operator resends and runs but cannot save a channel or settings; an admin can, and
//! every such change is in the audit trail (never a credential's value), which the
//! Auditoria page lists and filters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{form, loopback, App, Shop};
use ponte_core::Role;
use ponte_store::{AuditEntry, AuditFilter, PageRequest};
use serde_json::json;

async fn trail(app: &App, kind: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        kind: Some(kind.into()),
        ..AuditFilter::default()
    };
    let req = PageRequest {
        cursor: None,
        limit: 100,
    };
    app.engine
        .audit_trail(app.tenant(), &filter, &req)
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_but_cannot_act() {
    let app = App::with(loopback(None), false).await;
    let shop = Shop::open(&app, json!({})).await;
    let order = shop.order(&app, true, &[("SKU-1", 1)]).await;
    let email = app.person(Role::Viewer).await;
    let (session, csrf) = app.sign_in_as(&email).await;

    let r = app
        .get(&format!("/console/orders/{order}"), &[&session])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("invoice-form") && !r.body.contains("cancel-form"));
    let r = app
        .post(
            &format!("/console/orders/{order}/cancel"),
            &[&session],
            &form(&[("csrf", csrf.as_str()), ("reason", "payment_expired")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.contains("requer o papel <strong>Operador</strong>"),
        "{}",
        r.body
    );
    let o = app.engine.store().order(app.tenant(), order).await.unwrap();
    assert!(
        o.unwrap().fulfilment.cancellation.is_none(),
        "nothing changed"
    );

    for (page, hidden) in [
        ("/console/settings", "settings-form"),
        ("/console/tasks", "tasks/sync"),
        ("/console/stock", "movement-form"),
        ("/console/channels", "/console/channels/new"),
    ] {
        let r = app.get(page, &[&session]).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(!r.body.contains(hidden), "{page} shows {hidden}");
    }
    let r = app
        .get(
            &format!("/console/channels/{}/automations", shop.channel),
            &[&session],
        )
        .await;
    assert!(!r.body.contains("id=\"save\"") && r.body.contains("disabled"));
    assert!(!r.body.contains("enabled-save"));
    let r = app
        .post(
            "/console/settings",
            &[&session],
            &form(&[("csrf", csrf.as_str()), ("auto_cancel_days", "3")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<strong>Administrador</strong>"));
    let settings = app.engine.tenant_settings(app.tenant()).await.unwrap();
    assert_eq!(settings.auto_cancel_awaiting_payment_after_days, None);
    for admin_page in ["/console/audit", "/console/people", "/console/tokens"] {
        let r = app.get(admin_page, &[&session]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{admin_page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_resends_and_runs_but_cannot_save_a_channel() {
    let app = App::with(loopback(None), false).await;
    let shop = Shop::open(&app, json!({})).await;
    let email = app.person(Role::Operator).await;
    let (session, csrf) = app.sign_in_as(&email).await;
    let channel = app
        .engine
        .channel(app.tenant(), shop.channel)
        .await
        .unwrap();

    let r = app
        .post(
            "/console/errors/resend-channel",
            &[&session],
            &form(&[
                ("csrf", csrf.as_str()),
                ("channel_id", &channel.id.to_string()),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let resent = trail(&app, "status_sends.resent").await;
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].actor.name, email);
    assert_eq!(resent[0].actor.kind, "user");
    assert_eq!(resent[0].target.as_deref(), Some(&*channel.id.to_string()));

    let r = app.get("/console/tasks", &[&session]).await;
    assert!(r.body.contains("tasks/sync") && r.body.contains("/run\""));
    assert!(
        !r.body.contains("class=\"row-form\""),
        "task settings: admin"
    );
    let r = app
        .get(
            &format!("/console/channels/{}/platform", channel.id),
            &[&session],
        )
        .await;
    assert!(!r.body.contains("id=\"save\""));
    assert!(r.body.contains("id=\"verify\"") || !r.body.contains("webhooks/check"));
    let r = app
        .post(
            &format!("/console/channels/{}/platform", channel.id),
            &[&session],
            &form(&[("csrf", csrf.as_str()), ("name", "Outro nome")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<strong>Administrador</strong>"));
    let after = app.engine.channel(app.tenant(), channel.id).await.unwrap();
    assert_eq!(after.name, channel.name, "nothing changed");
    assert!(trail(&app, "channel.updated").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_s_changes_are_audited_without_credentials_and_listed() {
    let app = App::with(loopback(None), false).await;
    let shop = Shop::open(&app, json!({})).await;
    let email = app.person(Role::Admin).await;
    let (session, csrf) = app.sign_in_as(&email).await;
    let id = shop.channel;

    let r = app
        .post(
            "/console/settings",
            &[&session],
            &form(&[("csrf", csrf.as_str()), ("auto_cancel_days", "5")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let e = trail(&app, "settings.updated").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].actor.name, email);
    assert_eq!(e[0].detail, json!({"auto_cancel_days": "5"}));

    let r = app
        .post(
            &format!("/console/channels/{id}/automations"),
            &[&session],
            &form(&[
                ("csrf", csrf.as_str()),
                ("send_status_updates", "true"),
                ("send_cancellations", "false"),
                ("send_delivery_info", "true"),
                ("fulfillment_mode", "false"),
                ("max_attempts", "4"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = app.engine.channel(app.tenant(), id).await.unwrap();
    let sim = shop.sim.config();
    let platform: Vec<(&str, String)> = vec![
        ("csrf", csrf.clone()),
        ("name", "Loja Nova".into()),
        ("store_id", c.settings["store_id"].as_str().unwrap().into()),
        (
            "api_base_url",
            c.settings["api_base_url"].as_str().unwrap().into(),
        ),
        ("instant_events", "false".into()),
        ("import_policy", "all".into()),
        ("user_agent", "".into()),
        ("access_token", sim.access_token.clone()),
        ("app_secret", sim.app_secret.clone()),
    ];
    let pairs: Vec<(&str, &str)> = platform.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app
        .post(
            &format!("/console/channels/{id}/platform"),
            &[&session],
            &form(&pairs),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = app
        .post(
            &format!("/console/channels/{id}/enabled"),
            &[&session],
            &form(&[
                ("csrf", csrf.as_str()),
                ("enabled", "false"),
                ("tab", "platform"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let updates = trail(&app, "channel.updated").await;
    assert_eq!(updates.len(), 3, "{updates:?}");
    assert!(updates
        .iter()
        .all(|u| u.target.as_deref() == Some(&*id.to_string())));
    let text =
        serde_json::to_string(&updates.iter().map(|u| &u.detail).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains(&sim.access_token), "{text}");
    assert!(!text.contains(&sim.app_secret), "{text}");
    let saved = updates
        .iter()
        .find(|u| u.detail.get("name").is_some())
        .unwrap();
    assert_eq!(saved.detail["access_token"], "[replaced]");
    assert_eq!(saved.detail["app_secret"], "[replaced]");
    assert_eq!(saved.detail["user_agent"], serde_json::Value::Null);
    assert_eq!(saved.detail["name"], "Loja Nova");
    let switched = updates
        .iter()
        .find(|u| u.detail.get("enabled").is_some())
        .unwrap();
    assert_eq!(switched.detail["enabled"], "false");

    // Auditoria: every entry, filtered by kind and by actor.
    let r = app.get("/console/audit", &[&session]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<h1>Auditoria</h1>"));
    assert!(r.body.contains("Configurações alteradas"));
    assert!(r.body.contains("Canal alterado"));
    assert!(
        r.body.contains("Pessoa adicionada"),
        "the engine's own entries"
    );
    assert!(!r.body.contains(&sim.access_token));
    let r = app
        .get("/console/audit?kind=settings.updated", &[&session])
        .await;
    assert_eq!(r.body.matches("data-kind=").count(), 1, "{}", r.body);
    let r = app
        .get(
            &format!("/console/audit?actor={email}&from=2000-01-01"),
            &[&session],
        )
        .await;
    assert_eq!(r.body.matches("data-kind=").count(), 4);
    let r = app
        .get("/console/audit?actor=nobody&kind=", &[&session])
        .await;
    assert!(r.body.contains("Nenhuma alteração registrada"));
    let r = app.get("/console/audit?to=2000-01-01", &[&session]).await;
    assert_eq!(r.body.matches("data-kind=").count(), 0);
}
