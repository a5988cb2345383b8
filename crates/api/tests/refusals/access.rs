//! Who may call what: a disabled tenant is refused on every route (and its webhooks,
//! storing nothing), a role below a route's is refused naming the role needed, the
//! admin routes take only the installation's admin token, and tenant B's token sees
//! none of tenant A's records on any route, on both backends.

use crate::fixtures::{World, APP_SECRET};
use crate::harness::{operations, Api, Backend, Covered, ADMIN_TOKEN, TOKEN};
use ponte_core::ErrorCode as E;
use ponte_engine::{installation_admin, TenantPatch};
use serde_json::json;

/// The routes that need `admin` (an `operator` is refused); every other route that
/// declares `forbidden_role` needs `operator`.
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/audit"),
    ("post", "/api/v1/carrier-accounts"),
    ("delete", "/api/v1/carrier-accounts/{id}"),
    ("post", "/api/v1/channels"),
    ("patch", "/api/v1/channels/{id}"),
    ("delete", "/api/v1/channels/{id}"),
    ("put", "/api/v1/channels/{id}/status-map"),
    ("put", "/api/v1/channels/{id}/payment-map"),
    ("put", "/api/v1/channels/{id}/customer-fields"),
    ("patch", "/api/v1/scheduled-tasks/{id}"),
    ("patch", "/api/v1/settings"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("patch", "/api/v1/users/{id}"),
    ("delete", "/api/v1/users/{id}"),
    ("post", "/api/v1/webhook-endpoints"),
    ("patch", "/api/v1/webhook-endpoints/{id}"),
    ("delete", "/api/v1/webhook-endpoints/{id}"),
    ("post", "/api/v1/webhook-endpoints/{id}/rotate-secret"),
];

/// Routes declaring `code`.
fn declaring(code: E) -> Vec<(String, String)> {
    operations()
        .into_iter()
        .filter(|(_, _, codes)| codes.iter().any(|c| c == code.as_str()))
        .map(|(m, p, _)| (m, p))
        .collect()
}

pub fn covers() -> Vec<Covered> {
    let mut out: Vec<Covered> = [E::TenantDisabled, E::ForbiddenRole]
        .into_iter()
        .flat_map(|c| declaring(c).into_iter().map(move |(m, p)| (m, p, c)))
        .collect();
    out.retain(|(_, p, _)| p.starts_with("/api/"));
    out.push((
        "post".into(),
        "/webhooks/{channel_id}".into(),
        E::TenantDisabled,
    ));
    out
}

async fn set_enabled(api: &Api, enabled: bool) {
    let patch = TenantPatch {
        enabled: Some(enabled),
        ..TenantPatch::default()
    };
    api.engine
        .update_tenant(&installation_admin(), api.engine.default_tenant(), patch)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_tenant_is_refused_everywhere_and_its_webhooks_store_nothing() {
    let w = World::new().await;
    let before = w.api.snapshot().await;
    set_enabled(&w.api, false).await;
    let routes = declaring(E::TenantDisabled);
    assert!(routes.len() > 40, "{}", routes.len());
    for (m, template) in routes.iter().filter(|(_, p)| p.starts_with("/api/")) {
        let reply = w
            .api
            .call(&m.to_uppercase(), &w.path(template), Some(&json!({})))
            .await;
        reply.refused(E::TenantDisabled);
    }
    let body = br#"{"store_id":1001,"event":"order/created","id":7001}"#;
    w.api
        .webhook(&w.channel, body, Some(APP_SECRET))
        .await
        .refused(E::TenantDisabled);
    set_enabled(&w.api, true).await;
    assert_eq!(w.api.snapshot().await, before, "nothing was stored");
    // Enabled again: its token and webhooks work at once.
    let ok = w.api.webhook(&w.channel, body, Some(APP_SECRET)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn a_role_below_the_routes_is_refused_naming_the_role_needed() {
    let w = World::new().await;
    let viewer = w.api.token("viewer").await;
    let operator = w.api.token("operator").await;
    let routes: Vec<_> = declaring(E::ForbiddenRole)
        .into_iter()
        .filter(|(_, p)| !p.starts_with("/api/v1/admin/"))
        .collect();
    assert!(routes.len() >= 30, "{}", routes.len());
    for (m, template) in &routes {
        let admin_only = ADMIN_ROUTES
            .iter()
            .any(|(am, ap)| am == m && ap == template);
        let path = w.path(template);
        let method = m.to_uppercase();
        let body = Some(json!({}));
        let r = w
            .api
            .expect(
                w.api.call_as(&viewer, &method, &path, body.as_ref()),
                E::ForbiddenRole,
            )
            .await;
        let needed = if admin_only { "`admin`" } else { "`operator`" };
        assert!(
            r.body["detail"].as_str().unwrap().contains(needed),
            "{m} {template}: {}",
            r.body
        );
        let r = w
            .api
            .call_as(&operator, &method, &path, body.as_ref())
            .await;
        if admin_only {
            r.refused(E::ForbiddenRole);
        } else {
            assert_ne!(
                r.body["code"], "forbidden_role",
                "{m} {template}: {}",
                r.body
            );
        }
    }
    for (m, p) in ADMIN_ROUTES {
        assert!(routes.iter().any(|(rm, rp)| rm == m && rp == p), "{m} {p}");
    }
    // A viewer reads every list.
    for path in ["/api/v1/orders", "/api/v1/channels", "/api/v1/status-sends"] {
        let r = w.api.call_as(&viewer, "GET", path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn the_admin_routes_take_only_the_installation_admin_token() {
    let w = World::new().await;
    for (m, template) in declaring(E::ForbiddenRole)
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/v1/admin/"))
    {
        let path = w.path(&template);
        w.api
            .expect(
                w.api
                    .call_as(TOKEN, &m.to_uppercase(), &path, Some(&json!({}))),
                E::ForbiddenRole,
            )
            .await;
    }
    let r = w
        .api
        .call_as(ADMIN_TOKEN, "GET", "/api/v1/admin/tenants", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The admin token is no tenant's token.
    let r = w
        .api
        .call_as(ADMIN_TOKEN, "GET", "/api/v1/orders", None)
        .await;
    r.refused(E::Unauthorized);
}

/// Tenant B's admin token on every route, naming tenant A's records: 404 on each route
/// that names a record, empty lists elsewhere; never A's data, never a 500.
async fn tenant_b_sees_nothing_of_tenant_a(backend: Backend) {
    let api = Api::on(backend).await;
    let w = World::on(api).await;
    let a_user = w
        .api
        .call(
            "POST",
            "/api/v1/users",
            Some(&json!({"email": "ana@a.com.br", "name": "Ana", "role": "viewer"})),
        )
        .await
        .ok();
    let a_token = w.api.call("GET", "/api/v1/tokens", None).await.ok()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = w
        .api
        .call_as(
            ADMIN_TOKEN,
            "POST",
            "/api/v1/admin/tenants",
            Some(&json!({"name": "Loja B", "plan": "pro"})),
        )
        .await
        .ok();
    let b_token = w
        .api
        .call_as(
            ADMIN_TOKEN,
            "POST",
            &format!("/api/v1/admin/tenants/{}/tokens", b["id"].as_str().unwrap()),
            Some(&json!({})),
        )
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = w.api.snapshot().await;
    let a_ids = [
        w.channel.clone(),
        w.order.clone(),
        w.task.clone(),
        a_token.clone(),
        a_user["id"].as_str().unwrap().to_owned(),
    ];
    let mut walked = 0;
    for (m, template, _) in operations() {
        if !template.starts_with("/api/v1/") || template.starts_with("/api/v1/admin/") {
            continue;
        }
        let path = w
            .path(&template)
            .replace("/tokens/{id}", &format!("/tokens/{a_token}"));
        let path = if template.starts_with("/api/v1/users/{id}") {
            format!("/api/v1/users/{}", a_user["id"].as_str().unwrap())
        } else {
            path
        };
        let body = json!({"name": "x", "channel_id": w.channel, "ids": [w.order]});
        let r = w
            .api
            .call_as(&b_token, &m.to_uppercase(), &path, Some(&body))
            .await;
        walked += 1;
        assert!(r.status < 500, "{m} {path}: {} {}", r.status, r.body);
        let text = r.body.to_string();
        for id in &a_ids {
            assert!(
                !text.contains(id.as_str()),
                "{m} {path} shows A's {id}: {text}"
            );
        }
        if template.contains('{') {
            assert!(
                r.status == 404 || r.status == 422 || r.status == 400,
                "{m} {path}: {} {}",
                r.status,
                r.body
            );
        }
    }
    assert!(walked >= 50, "{walked}");
    assert_eq!(w.api.snapshot().await, before, "B changed nothing of A");
}

#[tokio::test]
async fn tenant_b_sees_nothing_of_tenant_a_on_sqlite() {
    tenant_b_sees_nothing_of_tenant_a(Backend::Sqlite).await;
}

#[tokio::test]
async fn tenant_b_sees_nothing_of_tenant_a_on_postgres() {
    tenant_b_sees_nothing_of_tenant_a(Backend::Postgres).await;
}
