//! Tokens, people and plans: what each refuses, and the flows the issue names (three
//! roles, a revoked token refused by a second instance, plan gating of instant events,
//! the bootstrap token replaced, the audit trail of each change).

use crate::fixtures::{World, APP_SECRET};
use crate::harness::{covered, unknown_id, Api, Backend, Covered, ADMIN_TOKEN, TOKEN};
use ponte_core::ErrorCode as E;
use ponte_engine::{installation_admin, TenantPatch, TokenSetup};
use serde_json::json;

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/tokens", E::ValidationFailed),
        ("delete", "/api/v1/tokens/{id}", E::TokenNotFound),
        ("post", "/api/v1/users", E::ValidationFailed),
        ("post", "/api/v1/users", E::EmailTaken),
        ("get", "/api/v1/users/{id}", E::UserNotFound),
        ("patch", "/api/v1/users/{id}", E::UserNotFound),
        ("patch", "/api/v1/users/{id}", E::ValidationFailed),
        ("patch", "/api/v1/users/{id}", E::EmailTaken),
        ("delete", "/api/v1/users/{id}", E::UserNotFound),
        ("post", "/api/v1/channels", E::PlanRequired),
        ("patch", "/api/v1/channels/{id}", E::PlanRequired),
    ])
}

#[tokio::test]
async fn tokens_and_people_refuse_bad_values_and_missing_ids() {
    let api = Api::new().await;
    let past = "2020-01-01T00:00:00Z";
    for body in [
        json!({"name": "", "role": "viewer"}),
        json!({"name": "erp", "role": "viewer", "expires_at": past}),
    ] {
        api.refuses("POST", "/api/v1/tokens", Some(body), E::ValidationFailed)
            .await;
    }
    for id in [unknown_id(), "nope".into()] {
        let p = format!("/api/v1/tokens/{id}");
        api.refuses("DELETE", &p, None, E::TokenNotFound).await;
        let p = format!("/api/v1/users/{id}");
        api.refuses("GET", &p, None, E::UserNotFound).await;
        api.refuses("PATCH", &p, Some(json!({"name": "x"})), E::UserNotFound)
            .await;
        api.refuses("DELETE", &p, None, E::UserNotFound).await;
    }
    for body in [
        json!({"email": "not-an-email", "name": "Ana", "role": "viewer"}),
        json!({"email": "ana@loja.com.br", "name": "", "role": "viewer"}),
        json!({"email": "ana@loja.com.br", "name": "Ana", "role": "viewer", "password": "short"}),
    ] {
        api.refuses("POST", "/api/v1/users", Some(body), E::ValidationFailed)
            .await;
    }
    let ana = json!({"email": "Ana@Loja.com.br", "name": "Ana", "role": "viewer", "password": "senha-longa-123"});
    let a = api.call("POST", "/api/v1/users", Some(&ana)).await.ok();
    assert_eq!(
        a["email"], "ana@loja.com.br",
        "e-mails are kept in lower case"
    );
    assert!(a.get("password_link").is_none() && a["has_password"] == true);
    api.refuses("POST", "/api/v1/users", Some(ana), E::EmailTaken)
        .await;
    let bia = json!({"email": "bia@loja.com.br", "name": "Bia", "role": "operator"});
    let b = api.call("POST", "/api/v1/users", Some(&bia)).await.ok();
    let link = b["password_link"].as_str().unwrap();
    assert!(link.contains("/console/password?token=pnt_"), "{link}");
    let p = format!("/api/v1/users/{}", b["id"].as_str().unwrap());
    api.refuses(
        "PATCH",
        &p,
        Some(json!({"email": "ana@loja.com.br"})),
        E::EmailTaken,
    )
    .await;
    api.refuses(
        "PATCH",
        &p,
        Some(json!({"password": "123"})),
        E::ValidationFailed,
    )
    .await;
    let shown = api
        .call("GET", "/api/v1/users", None)
        .await
        .ok()
        .to_string();
    assert!(
        !shown.contains("argon2") && !shown.contains("senha"),
        "{shown}"
    );
}

/// Three roles on one tenant, a token revoked on one instance and refused by another.
async fn roles_and_revocation(backend: Backend) {
    let w = World::on(Api::on(backend).await).await;
    let api = &w.api;
    let second = api.second_instance().await;
    let viewer = api.token("viewer").await;
    let operator = api.token("operator").await;
    let admin = api.token("admin").await;
    let order = format!("/api/v1/orders/{}/separation", w.order);
    // viewer reads, cannot act; operator acts, cannot manage channels; admin manages.
    assert_eq!(
        api.call_as(&viewer, "GET", "/api/v1/orders", None)
            .await
            .status,
        200
    );
    api.call_as(&viewer, "POST", &order, Some(&json!({})))
        .await
        .refused(E::ForbiddenRole);
    let r = api
        .call_as(&operator, "POST", &order, Some(&json!({})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rename = json!({"name": "Loja 2"});
    let ch = format!("/api/v1/channels/{}", w.channel);
    api.call_as(&operator, "PATCH", &ch, Some(&rename))
        .await
        .refused(E::ForbiddenRole);
    assert_eq!(
        api.call_as(&admin, "PATCH", &ch, Some(&rename))
            .await
            .status,
        200
    );
    // Revoked on the first instance: the second, which has just accepted it, refuses it too.
    assert_eq!(
        second
            .call_as(&operator, "GET", "/api/v1/orders", None)
            .await
            .status,
        200
    );
    let tokens = api.call("GET", "/api/v1/tokens", None).await.ok();
    let id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "operator")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = &tokens["items"].as_array().unwrap()[0];
    assert!(
        t.get("token").is_none() && t.get("token_hash").is_none(),
        "{t}"
    );
    let r = api
        .call("DELETE", &format!("/api/v1/tokens/{id}"), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    api.call_as(&operator, "GET", "/api/v1/orders", None)
        .await
        .refused(E::Unauthorized);
    tokio::time::sleep(ponte_engine::TOKEN_CACHE_TTL).await;
    second
        .call_as(&operator, "GET", "/api/v1/orders", None)
        .await
        .refused(E::Unauthorized);
    // The trail names who did each change, never a secret.
    let audit = api.call("GET", "/api/v1/audit?limit=100", None).await.ok();
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "token.revoked", "{kinds:?}");
    assert!(
        kinds.contains(&"channel.updated") && kinds.contains(&"token.created"),
        "{kinds:?}"
    );
    let by_admin = api
        .call(
            "GET",
            "/api/v1/audit?actor=admin%20token&kind=channel.updated",
            None,
        )
        .await
        .ok();
    assert_eq!(by_admin["items"][0]["detail"], json!({"name": "Loja 2"}));
    assert_eq!(by_admin["items"][0]["target"], w.channel.as_str());
    let secret =
        json!({"credentials": {"access_token": "new-secret-token", "app_secret": APP_SECRET}});
    assert_eq!(api.call("PATCH", &ch, Some(&secret)).await.status, 200);
    let last = api.call("GET", "/api/v1/audit?limit=1", None).await.ok();
    let shown = last.to_string();
    assert!(
        !shown.contains("new-secret-token") && !shown.contains(APP_SECRET),
        "{shown}"
    );
    assert_eq!(
        last["items"][0]["detail"]["credentials"]["access_token"],
        "[replaced]"
    );
}

#[tokio::test]
async fn roles_and_revocation_on_sqlite() {
    roles_and_revocation(Backend::Sqlite).await;
}

#[tokio::test]
async fn roles_and_revocation_on_postgres() {
    roles_and_revocation(Backend::Postgres).await;
}

#[tokio::test]
async fn a_plan_without_instant_events_cannot_turn_them_on_and_leaves_webhooks_to_polling() {
    let w = World::new().await;
    let patch = TenantPatch {
        plan: Some(ponte_core::Plan::Basico),
        ..TenantPatch::default()
    };
    w.api
        .engine
        .update_tenant(&installation_admin(), w.api.engine.default_tenant(), patch)
        .await
        .unwrap();
    let on = json!({"settings": {"instant_events": true}});
    let ch = format!("/api/v1/channels/{}", w.channel);
    let r = w.api.refuses("PATCH", &ch, Some(on), E::PlanRequired).await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("avancado"),
        "{}",
        r.body
    );
    let new = json!({
        "platform": "nuvemshop", "name": "Outra",
        "settings": {"store_id": "2002", "api_base_url": crate::fixtures::NOWHERE, "instant_events": true},
        "credentials": {"access_token": "t", "app_secret": APP_SECRET},
    });
    w.api
        .refuses("POST", "/api/v1/channels", Some(new), E::PlanRequired)
        .await;
    // Its webhooks are acknowledged and left to polling.
    let body = br#"{"store_id":1001,"event":"order/created","id":7002}"#;
    let r = w.api.webhook(&w.channel, body, Some(APP_SECRET)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = w
        .api
        .get("/api/v1/webhook-deliveries?resource_id=7002")
        .await;
    assert_eq!(d["items"][0]["state"], "ignored", "{d}");
    assert!(
        d["items"][0]["error"].as_str().unwrap().contains("plan"),
        "{d}"
    );
}

#[tokio::test]
async fn a_new_bootstrap_token_replaces_the_previous_one() {
    let api = Api::new().await;
    let other = api.token("viewer").await;
    let next = "the-next-bootstrap-token-0123456789";
    api.engine
        .setup_token(&TokenSetup::Given(next.into()))
        .await
        .unwrap();
    tokio::time::sleep(ponte_engine::TOKEN_CACHE_TTL).await;
    api.call_as(TOKEN, "GET", "/api/v1/orders", None)
        .await
        .refused(E::Unauthorized);
    assert_eq!(
        api.call_as(next, "GET", "/api/v1/orders", None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call_as(&other, "GET", "/api/v1/orders", None)
            .await
            .status,
        200
    );
    // The installation's admin token is refused by tenant routes, and a tenant's by admin routes.
    api.call_as(ADMIN_TOKEN, "GET", "/api/v1/orders", None)
        .await
        .refused(E::Unauthorized);
}
