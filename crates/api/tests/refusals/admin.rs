//! `/api/v1/admin/tenants` with the installation's admin token: bodies, missing
//! tenants, names, and plans that cannot have an add-on.

use crate::harness::{covered, unknown_id, Api, Covered, ADMIN_TOKEN};
use ponte_core::ErrorCode as E;
use serde_json::{json, Value};

const BODY_ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/admin/tenants"),
    ("patch", "/api/v1/admin/tenants/{id}"),
    ("post", "/api/v1/admin/tenants/{id}/tokens"),
];

pub fn covers() -> Vec<Covered> {
    let mut out = covered(&[
        ("get", "/api/v1/admin/tenants/{id}", E::TenantNotFound),
        ("patch", "/api/v1/admin/tenants/{id}", E::TenantNotFound),
        (
            "post",
            "/api/v1/admin/tenants/{id}/tokens",
            E::TenantNotFound,
        ),
        ("post", "/api/v1/admin/tenants", E::ValidationFailed),
        ("patch", "/api/v1/admin/tenants/{id}", E::ValidationFailed),
        (
            "post",
            "/api/v1/admin/tenants/{id}/tokens",
            E::ValidationFailed,
        ),
        ("post", "/api/v1/admin/tenants", E::PlanRequired),
        ("patch", "/api/v1/admin/tenants/{id}", E::PlanRequired),
    ]);
    for (m, p) in BODY_ROUTES {
        for code in [
            E::MalformedJson,
            E::InvalidBody,
            E::UnsupportedMediaType,
            E::PayloadTooLarge,
        ] {
            out.push(((*m).to_owned(), (*p).to_owned(), code));
        }
    }
    out
}

async fn admin(api: &Api, method: &str, path: &str, body: Option<Value>) -> crate::harness::Reply {
    api.call_as(ADMIN_TOKEN, method, path, body.as_ref()).await
}

async fn tenant(api: &Api) -> String {
    let t = admin(
        api,
        "POST",
        "/api/v1/admin/tenants",
        Some(json!({"name": "Loja B", "plan": "avancado"})),
    )
    .await
    .ok();
    t["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bodies_are_refused_alike() {
    let api = Api::new().await;
    let id = tenant(&api).await;
    for (m, template) in BODY_ROUTES {
        let path = template.replace("{id}", &id);
        let m = m.to_uppercase();
        for (ct, body, code) in [
            ("application/json", b"{oops}".to_vec(), E::MalformedJson),
            (
                "application/json",
                br#"{"no_such_field": 1}"#.to_vec(),
                E::InvalidBody,
            ),
            ("text/plain", b"{}".to_vec(), E::UnsupportedMediaType),
            (
                "application/json",
                vec![b' '; 3 * 1024 * 1024],
                E::PayloadTooLarge,
            ),
        ] {
            let req = axum::http::Request::builder()
                .method(m.as_str())
                .uri(&path)
                .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
                .header("content-type", ct)
                .body(axum::body::Body::from(body))
                .unwrap();
            api.expect(api.send(req), code).await;
        }
    }
}

#[tokio::test]
async fn missing_tenants_names_and_plans() {
    let api = Api::new().await;
    let id = tenant(&api).await;
    let unknown = unknown_id();
    for (m, p, body) in [
        ("GET", format!("/api/v1/admin/tenants/{unknown}"), None),
        ("GET", "/api/v1/admin/tenants/not-an-id".to_owned(), None),
        (
            "PATCH",
            format!("/api/v1/admin/tenants/{unknown}"),
            Some(json!({"name": "x"})),
        ),
        (
            "POST",
            format!("/api/v1/admin/tenants/{unknown}/tokens"),
            Some(json!({})),
        ),
    ] {
        api.expect(admin(&api, m, &p, body), E::TenantNotFound)
            .await;
    }
    let one = format!("/api/v1/admin/tenants/{id}");
    for (m, p, body) in [
        (
            "POST",
            "/api/v1/admin/tenants".to_owned(),
            json!({"name": " ", "plan": "pro"}),
        ),
        ("PATCH", one.clone(), json!({"name": ""})),
        ("POST", format!("{one}/tokens"), json!({"name": ""})),
    ] {
        api.expect(admin(&api, m, &p, Some(body)), E::ValidationFailed)
            .await;
    }
    let r = api
        .expect(
            admin(
                &api,
                "POST",
                "/api/v1/admin/tenants",
                Some(json!({"name": "Loja C", "plan": "basico", "addons": ["instant_events"]})),
            ),
            E::PlanRequired,
        )
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("avancado"),
        "{}",
        r.body
    );
    let r = api
        .expect(
            admin(
                &api,
                "PATCH",
                &one,
                Some(json!({"plan": "basico", "addons": ["instant_events"]})),
            ),
            E::PlanRequired,
        )
        .await;
    assert!(
        r.body["detail"].as_str().unwrap().contains("pro, master"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_admin_creates_a_tenant_its_token_and_changes_its_plan() {
    let api = Api::new().await;
    let id = tenant(&api).await;
    let one = format!("/api/v1/admin/tenants/{id}");
    let t = admin(&api, "GET", &one, None).await.ok();
    assert_eq!(
        (t["plan"].as_str(), t["enabled"].as_bool()),
        (Some("avancado"), Some(true))
    );
    assert_eq!(t["entitled"], json!([]));
    let t = admin(
        &api,
        "PATCH",
        &one,
        Some(json!({"addons": ["instant_events"]})),
    )
    .await
    .ok();
    assert_eq!(t["entitled"], json!(["instant_events"]));
    let list = admin(&api, "GET", "/api/v1/admin/tenants", None).await.ok();
    let plans: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["plan"].as_str().unwrap())
        .collect();
    assert_eq!(
        plans,
        ["master", "avancado"],
        "the default tenant is master"
    );
    let tok = admin(&api, "POST", &format!("{one}/tokens"), Some(json!({})))
        .await
        .ok();
    assert_eq!(tok["role"], "admin");
    let token = tok["token"].as_str().unwrap();
    let mine = api.call_as(token, "GET", "/api/v1/tokens", None).await.ok();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert!(mine["items"][0].get("token").is_none(), "never shown again");
    let audit = api.call_as(token, "GET", "/api/v1/audit", None).await.ok();
    let kinds: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["token.created", "tenant.plan_changed", "tenant.created"]
    );
    assert_eq!(audit["items"][1]["actor_kind"], "installation_admin");
}
