//! Channel settings and credentials: each fault has its code on creation and on change,
//! and a refused change leaves the channel (its settings, its sealed credentials) as
//! it was.

use crate::fixtures::{ELSEWHERE, NOWHERE, STORE_ID};
use crate::harness::{covered, Api, Covered};
use ponte_core::ErrorCode as E;
use serde_json::{json, Value};

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/channels", E::UnknownSetting),
        ("patch", "/api/v1/channels/{id}", E::UnknownSetting),
        ("post", "/api/v1/channels", E::UnknownPlatform),
        ("post", "/api/v1/channels", E::InvalidSettings),
        ("patch", "/api/v1/channels/{id}", E::InvalidSettings),
        ("post", "/api/v1/channels", E::ForbiddenAddress),
        ("patch", "/api/v1/channels/{id}", E::ForbiddenAddress),
        ("post", "/api/v1/channels", E::CredentialsInUse),
        ("patch", "/api/v1/channels/{id}", E::CredentialsInUse),
        ("patch", "/api/v1/channels/{id}", E::CredentialsRequired),
        ("post", "/api/v1/channels", E::ValidationFailed),
        ("patch", "/api/v1/channels/{id}", E::ValidationFailed),
    ])
}

/// A Nuvemshop channel body with these settings and credentials merged in.
fn nuvemshop(settings: Value, credentials: Value) -> Value {
    let mut s = json!({"store_id": STORE_ID, "api_base_url": NOWHERE});
    let mut c = json!({"access_token": "token-1", "app_secret": "secret-1"});
    merge(&mut s, settings);
    merge(&mut c, credentials);
    json!({"platform": "nuvemshop", "name": "Loja", "settings": s, "credentials": c})
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

async fn create_refused(api: &Api, body: Value, code: E) {
    api.refuses("POST", "/api/v1/channels", Some(body), code)
        .await;
}

async fn change_refused(api: &Api, channel: &str, body: Value, code: E) {
    let path = format!("/api/v1/channels/{channel}");
    api.refuses("PATCH", &path, Some(body), code).await;
}

#[tokio::test]
async fn a_setting_the_platform_does_not_know_is_unknown_setting() {
    let api = Api::new().await;
    let c = api.channel().await;
    create_refused(
        &api,
        nuvemshop(json!({"colour": "blue"}), json!({})),
        E::UnknownSetting,
    )
    .await;
    create_refused(
        &api,
        nuvemshop(json!({}), json!({"password": "x"})),
        E::UnknownSetting,
    )
    .await;
    let vtex_key = nuvemshop(json!({"account": "loja"}), json!({}));
    create_refused(&api, vtex_key, E::UnknownSetting).await;
    change_refused(
        &api,
        &c,
        json!({"settings": {"colour": "blue"}}),
        E::UnknownSetting,
    )
    .await;
}

#[tokio::test]
async fn a_platform_without_a_connector_is_unknown_platform() {
    let api = Api::new().await;
    for platform in ["shopify", "", "Nuvemshop"] {
        let mut body = nuvemshop(json!({}), json!({}));
        body["platform"] = platform.into();
        create_refused(&api, body, E::UnknownPlatform).await;
    }
}

#[tokio::test]
async fn a_missing_or_wrong_setting_or_credential_is_invalid_settings() {
    let api = Api::new().await;
    api.warehouse("CD1").await;
    let c = api.channel().await;
    for (settings, credentials) in [
        (json!({"store_id": "abc"}), json!({})),
        (json!({"store_id": null}), json!({})),
        (json!({"api_base_url": "ftp://example.com"}), json!({})),
        (json!({"rate_limit_per_sec": 0}), json!({})),
        (json!({"import_policy": "some"}), json!({})),
        (json!({"max_attempts": "many"}), json!({})),
        (json!({"stock_warehouses": ["NOPE"]}), json!({})),
        (json!({}), json!({"app_secret": ""})),
        (json!({}), json!({"app_secret": null})),
    ] {
        let body = nuvemshop(settings, credentials);
        create_refused(&api, body, E::InvalidSettings).await;
    }
    let mut not_an_object = nuvemshop(json!({}), json!({}));
    not_an_object["settings"] = "store_id=1".into();
    create_refused(&api, not_an_object, E::InvalidSettings).await;
    for change in [
        json!({"settings": {"store_id": "abc"}}),
        json!({"settings": {"rate_limit_burst": -1}}),
        json!({"settings": {"stock_warehouses": ["CD1", "NOPE"]}}),
        json!({"settings": {"debit_warehouse": "NOPE"}}),
        json!({"credentials": {"access_token": "token-2"}}),
        json!({"credentials": "secret"}),
        json!({"settings": "store_id=1"}),
    ] {
        change_refused(&api, &c, change, E::InvalidSettings).await;
    }
}

#[tokio::test]
async fn a_private_or_loopback_address_is_forbidden_address() {
    let api = Api::strict().await;
    // A public address (no call is made to it: no public URL, no polling set-up).
    let c = api.channel_at("https://93.184.216.34").await;
    for base in [
        "http://127.0.0.1:8080",
        "http://10.0.0.7",
        "http://192.168.1.1",
        "http://169.254.169.254",
        "http://[::1]:8080",
        "http://0.0.0.0",
    ] {
        let body = nuvemshop(json!({"api_base_url": base}), json!({}));
        create_refused(&api, body, E::ForbiddenAddress).await;
        let move_with_credentials = json!({
            "settings": {"api_base_url": base},
            "credentials": {"access_token": "token-2", "app_secret": "secret-2"},
        });
        change_refused(&api, &c, move_with_credentials, E::ForbiddenAddress).await;
        // Checked before whether the move comes with credentials.
        let bare_move = json!({"settings": {"api_base_url": base}});
        change_refused(&api, &c, bare_move, E::ForbiddenAddress).await;
    }
}

#[tokio::test]
async fn a_new_host_without_its_credentials_is_credentials_required() {
    let api = Api::new().await;
    let c = api.channel().await;
    let moved = json!({"settings": {"api_base_url": ELSEWHERE}});
    change_refused(&api, &c, moved.clone(), E::CredentialsRequired).await;
    let other_port = json!({"settings": {"api_base_url": "http://127.0.0.1:2"}});
    change_refused(&api, &c, other_port, E::CredentialsRequired).await;
    // With them, it is accepted: the refusal was about the credentials alone.
    let mut with = moved;
    with["credentials"] = json!({"access_token": "token-2", "app_secret": "secret-2"});
    api.call("PATCH", &format!("/api/v1/channels/{c}"), Some(&with))
        .await
        .ok();
}

#[tokio::test]
async fn another_enabled_channel_with_the_same_vtex_credentials_is_credentials_in_use() {
    let api = Api::new().await;
    api.vtex_channel("loja", "key-1").await.ok();
    let same = api.vtex_channel("loja", "key-1");
    api.expect(same, E::CredentialsInUse).await;
    let same_account_other_case = api.vtex_channel("LOJA", "key-1");
    api.expect(same_account_other_case, E::CredentialsInUse)
        .await;
    let b = api.vtex_channel("loja", "key-2").await.ok();
    let b = b["id"].as_str().unwrap();
    let take = json!({"credentials": {"app_key": "key-1", "app_token": "app-token-1"}});
    change_refused(&api, b, take, E::CredentialsInUse).await;
    // A disabled channel holds nothing; enabling it again is refused.
    api.call("DELETE", &format!("/api/v1/channels/{b}"), None)
        .await
        .ok();
    let take = json!({"credentials": {"app_key": "key-1", "app_token": "app-token-1"}});
    api.call("PATCH", &format!("/api/v1/channels/{b}"), Some(&take))
        .await
        .ok();
    change_refused(&api, b, json!({"enabled": true}), E::CredentialsInUse).await;
}

#[tokio::test]
async fn an_empty_name_is_validation_failed() {
    let api = Api::new().await;
    let c = api.channel().await;
    for name in ["", "   "] {
        let mut body = nuvemshop(json!({}), json!({}));
        body["name"] = name.into();
        create_refused(&api, body, E::ValidationFailed).await;
        change_refused(&api, &c, json!({"name": name}), E::ValidationFailed).await;
    }
}
