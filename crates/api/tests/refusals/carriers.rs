//! Carrier accounts: each fault has its code on creation, a missing account the same
//! code on every route that names it, and a refusal stores nothing.

use crate::fixtures::NOWHERE;
use crate::harness::{covered, unknown_id, Api, Covered};
use ponte_core::ErrorCode as E;
use serde_json::{json, Value};

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/carrier-accounts", E::UnknownCarrier),
        ("post", "/api/v1/carrier-accounts", E::UnknownSetting),
        ("post", "/api/v1/carrier-accounts", E::InvalidSettings),
        ("post", "/api/v1/carrier-accounts", E::ForbiddenAddress),
        ("post", "/api/v1/carrier-accounts", E::ValidationFailed),
        (
            "post",
            "/api/v1/carrier-accounts",
            E::CarrierAccountNameTaken,
        ),
        (
            "get",
            "/api/v1/carrier-accounts/{id}",
            E::CarrierAccountNotFound,
        ),
        (
            "delete",
            "/api/v1/carrier-accounts/{id}",
            E::CarrierAccountNotFound,
        ),
    ])
}

fn correios(name: &str, settings: Value, credentials: Value) -> Value {
    let mut s = json!({"api_base_url": NOWHERE});
    let mut c = json!({"user": "loja", "access_code": "code-1", "postage_card": "0076770702"});
    if let (Value::Object(a), Value::Object(b)) = (&mut s, settings) {
        a.extend(b);
    }
    if let (Value::Object(a), Value::Object(b)) = (&mut c, credentials) {
        a.extend(b);
    }
    json!({"carrier": "correios", "name": name, "settings": s, "credentials": c})
}

async fn refused(api: &Api, body: Value, code: E) {
    api.refuses("POST", "/api/v1/carrier-accounts", Some(body), code)
        .await;
}

#[tokio::test]
async fn each_fault_of_a_new_account_has_its_code() {
    let api = Api::new().await;
    let mut jadlog = correios("J", json!({}), json!({}));
    jadlog["carrier"] = json!("jadlog");
    refused(&api, jadlog, E::UnknownCarrier).await;
    refused(
        &api,
        correios("C", json!({"colour": "blue"}), json!({})),
        E::UnknownSetting,
    )
    .await;
    refused(
        &api,
        correios("C", json!({}), json!({"password": "x"})),
        E::UnknownSetting,
    )
    .await;
    refused(
        &api,
        correios("C", json!({"rate_limit_per_sec": 0.001}), json!({})),
        E::InvalidSettings,
    )
    .await;
    refused(
        &api,
        correios("C", json!({"api_base_url": "ftp://x"}), json!({})),
        E::InvalidSettings,
    )
    .await;
    refused(
        &api,
        correios("C", json!({}), json!({"access_code": ""})),
        E::InvalidSettings,
    )
    .await;
    let mut me = json!({"carrier": "melhor_envio", "name": "ME", "settings": {"api_base_url": NOWHERE},
                        "credentials": {"user": "loja"}});
    refused(&api, me.clone(), E::UnknownSetting).await;
    me["credentials"] = json!({"access_token": "t k"});
    refused(&api, me, E::InvalidSettings).await;
    refused(
        &api,
        correios(" ", json!({}), json!({})),
        E::ValidationFailed,
    )
    .await;
    let made = api
        .call(
            "POST",
            "/api/v1/carrier-accounts",
            Some(&correios("Correios SP", json!({}), json!({}))),
        )
        .await
        .ok();
    assert_eq!(made["carrier"], "correios");
    assert!(made.get("credentials").is_none(), "{made}");
    assert_eq!(made["settings"]["rate_limit_per_sec"], 5.0, "{made}");
    refused(
        &api,
        correios("Correios SP", json!({}), json!({})),
        E::CarrierAccountNameTaken,
    )
    .await;
    let listed = api.get("/api/v1/carrier-accounts").await;
    assert!(!listed.to_string().contains("code-1"), "{listed}");
}

#[tokio::test]
async fn a_private_api_address_is_forbidden_address() {
    let api = Api::strict().await;
    refused(
        &api,
        correios("C", json!({}), json!({})),
        E::ForbiddenAddress,
    )
    .await;
}

#[tokio::test]
async fn a_missing_account_is_carrier_account_not_found() {
    let api = Api::new().await;
    for id in [unknown_id(), "not-an-id".to_owned()] {
        let path = format!("/api/v1/carrier-accounts/{id}");
        api.refuses("GET", &path, None, E::CarrierAccountNotFound)
            .await;
        api.refuses("DELETE", &path, None, E::CarrierAccountNotFound)
            .await;
    }
    let made = api
        .call(
            "POST",
            "/api/v1/carrier-accounts",
            Some(&correios("C", json!({}), json!({}))),
        )
        .await
        .ok();
    let path = format!("/api/v1/carrier-accounts/{}", made["id"].as_str().unwrap());
    assert_eq!(api.get(&path).await["name"], "C");
    api.call("DELETE", &path, None).await.ok();
    api.refuses("GET", &path, None, E::CarrierAccountNotFound)
        .await;
}
