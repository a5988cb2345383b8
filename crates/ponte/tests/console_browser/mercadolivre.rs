//! A Mercado Livre account connected with the Novo canal form against the Mercado
//! Livre simulator; its orders import; when the seller revokes ponte's grant, Canais
//! says "Reconectar" until the operator saves the seller's new refresh token.

use crate::browser::Browser;
use crate::common::{until, Backend, Ponte, Storage};
use ponte_sim::mercadolivre::{MlConfig, MlSim, NewMlOrder};
use serde_json::json;
use std::time::Duration;

/// Starts a manual sync of the channel's orders (once the previous one has finished).
async fn sync(p: &Ponte, ch: &str) {
    let body = json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"});
    until(Duration::from_secs(30), "a sync started", || async {
        let (s, r) = p.post(&format!("/api/v1/channels/{ch}/sync"), &body).await;
        assert!(s == 202 || s == 409, "{s} {r}");
        (s == 202).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mercado_livre_account_is_connected_and_asks_to_reconnect() {
    let sim = MlSim::new(MlConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    let storage = Storage::new(Backend::Sqlite).await;
    let p = storage.start(&[]);
    let cfg = sim.config().clone();
    let mut b = Browser::open(&p.base, "mercadolivre").await;
    let admin = crate::shop::person(&p, "admin").await;
    b.sign_in(&admin).await;
    b.wait_h1("Pedidos").await;

    b.goto("/console/channels/new", "ml-new").await;
    // Choosing the platform swaps in its fields.
    b.select("Plataforma", "Mercado Livre").await;
    b.wait_text("ID do vendedor").await;
    b.page("ml-channel-new").await;
    b.fill("Nome do canal", "Mercado Livre").await;
    b.fill("ID do vendedor", &cfg.seller_id).await;
    b.fill("URL base da API", &server.base_url()).await;
    b.fill("Requisições por segundo", "1000").await;
    b.fill("ID do aplicativo (client_id)", &cfg.client_id).await;
    b.fill(
        "Chave secreta do aplicativo (client_secret)",
        &cfg.client_secret,
    )
    .await;
    b.fill("Refresh token", &sim.current_refresh_token()).await;
    b.click("#create").await;
    b.wait_h1("Mercado Livre").await;
    b.page("ml-channel").await;
    let channels = p.get("/api/v1/channels").await;
    let ch = channels["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(channels["items"][0]["platform"], "mercadolivre");

    // An order placed meanwhile arrives by the manual sync (the callback URL is set
    // in ML's app manager, not here).
    let id = sim.create_order(NewMlOrder::default());
    sync(&p, &ch).await;
    until(Duration::from_secs(30), "the order imported", || async {
        let o = p.get(&format!("/api/v1/orders?external_id={id}")).await;
        (o["items"].as_array().is_some_and(|i| !i.is_empty())).then_some(())
    })
    .await;

    // The seller revokes the grant: the next sync is refused, Canais asks to reconnect.
    sim.revoke_grant();
    sim.expire_access_tokens();
    sync(&p, &ch).await;
    until(Duration::from_secs(30), "the refusal recorded", || async {
        let c = p.get(&format!("/api/v1/channels/{ch}")).await;
        (!c["credentials_problem"].is_null()).then_some(())
    })
    .await;
    b.click_text("Canais").await;
    b.wait_h1("Canais").await;
    b.wait_text("Reconectar").await;
    b.page("ml-channels-reconnect").await;

    // The operator saves the seller's new refresh token on the platform tab.
    let refresh = sim.reauthorize();
    b.goto(&format!("/console/channels/{ch}/platform"), "ml-platform")
        .await;
    b.fill("ID do aplicativo (client_id)", &cfg.client_id).await;
    b.fill(
        "Chave secreta do aplicativo (client_secret)",
        &cfg.client_secret,
    )
    .await;
    b.fill("Refresh token", &refresh).await;
    b.click("#save").await;
    b.wait_text_of("#notice", "Salvo.").await;
    let c = p.get(&format!("/api/v1/channels/{ch}")).await;
    assert!(c["credentials_problem"].is_null(), "{c}");
    b.click_text("Canais").await;
    b.wait_h1("Canais").await;
    assert!(!b.text("main").await.contains("Reconectar"));
    b.page("ml-channels-reconnected").await;
    b.close().await;
    server.shutdown().await;
}
