//! A Nuvemshop channel created with the Novo canal form against the simulator: a
//! store id that is not a number is refused next to its field and creates nothing;
//! the corrected form creates the channel, shown on Canais and on its page's tabs; an
//! order the store then notifies arrives and opens, and its webhook shows in Webhooks
//! recebidos. Configurações is seen too.

use crate::browser::Browser;
use crate::shop::{customer, line, paid_order, Bare, CPF};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_is_created_with_the_form() {
    let shop = Bare::open().await;
    let config = shop.sim.sim.config();
    let mut b = Browser::open(&shop.p.base, "channel").await;
    let admin = crate::shop::person(&shop.p, "admin").await;
    b.sign_in(&admin).await;
    b.wait_h1("Pedidos").await;
    b.page("orders-empty").await;

    b.click_text("Canais").await;
    b.wait_h1("Canais").await;
    b.page("channels-empty").await;
    b.wait_text("Nenhum canal cadastrado.").await;
    b.click("#new-channel").await;
    b.wait_h1("Novo canal").await;
    b.page("channel-new").await;
    assert_eq!(
        b.find("#f-platform-choice")
            .await
            .prop("value")
            .await
            .unwrap(),
        Some("nuvemshop".to_owned())
    );

    // The store id is the number Nuvemshop gives the store: a name is refused.
    b.fill("Nome do canal", "Loja Centro").await;
    b.fill("ID da loja", "loja-centro").await;
    b.fill("URL base da API", &shop.sim.base_url).await;
    b.fill("Requisições por segundo", "1000").await;
    b.fill("Access token", &config.access_token).await;
    b.fill("App secret", &config.app_secret).await;
    b.click("#create").await;
    b.refused_at("#f-store_id", "Parâmetros inválidos.").await;
    b.wait_text("store_id must be the numeric store id").await;
    b.page("channel-new-refused").await;
    let channels = shop.p.get("/api/v1/channels").await;
    assert_eq!(channels["items"], Value::Array(vec![]), "{channels}");
    // What was typed is kept, except the credentials (never shown).
    for (field, kept) in [
        ("#f-name", "Loja Centro"),
        ("#f-api_base_url", shop.sim.base_url.as_str()),
        ("#f-access_token", ""),
        ("#f-app_secret", ""),
    ] {
        let value = b.find(field).await.prop("value").await.unwrap();
        assert_eq!(value.as_deref(), Some(kept), "{field}");
    }

    b.fill("ID da loja", &config.store_id.to_string()).await;
    b.fill("Access token", &config.access_token).await;
    b.fill("App secret", &config.app_secret).await;
    b.click("#create").await;
    b.wait_text_of(
        "#notice",
        "Canal criado. Confira as automações e o estoque nas abas abaixo.",
    )
    .await;
    b.wait_h1("Loja Centro").await;
    b.page("channel").await;
    let path = b.path().await;
    let id = path
        .strip_prefix("/console/channels/")
        .and_then(|p| p.strip_suffix("/platform?created=1"))
        .unwrap_or_else(|| panic!("the channel's page: {path}"))
        .to_owned();
    let channel = shop.p.get(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(channel["platform"], "nuvemshop", "{channel}");
    assert_eq!(channel["enabled"], true, "{channel}");
    assert_eq!(
        channel["settings"]["store_id"],
        config.store_id.to_string(),
        "{channel}"
    );
    assert_eq!(channel["settings"]["api_base_url"], shop.sim.base_url);

    // Its tabs.
    for (slug, tab) in [
        ("automations", "Automações"),
        ("stock", "Estoque"),
        ("status-map", "DE-PARA"),
        ("webhooks", "Webhooks"),
        ("platform", "Parâmetros da plataforma"),
    ] {
        b.click(&format!("nav.tabs a[href='/console/channels/{id}/{slug}']"))
            .await;
        b.wait_path(&format!("/console/channels/{id}/{slug}")).await;
        b.wait_text_of("nav.tabs a[aria-current=page]", tab).await;
        b.page(&format!("channel-{slug}")).await;
    }

    // Canais lists it, with the integration on.
    b.click_text("Canais").await;
    b.wait_h1("Canais").await;
    b.page("channels").await;
    let row = b.row("Loja Centro").await;
    assert_eq!(row[1..3], ["Nuvemshop", "Sim"], "{row:?}");

    // An order the store notifies arrives and opens.
    let url = channel["webhook_url"].as_str().unwrap();
    let lines = vec![line(7001, "CAM-AZUL-M", "Camiseta Azul M", 1, 12_990)];
    let (ext, _, number) =
        paid_order(&shop.sim, &shop.p, url, customer("Maria Silva", CPF), lines).await;
    b.click_text("Pedidos").await;
    b.wait_h1("Pedidos").await;
    b.page("orders").await;
    assert_eq!(b.row(&number).await[2], "Loja Centro");
    b.click_text(&number).await;
    b.wait_h1(&format!("Pedido {number}")).await;
    b.page("order").await;
    b.wait_text(&ext.to_string()).await;
    b.wait_text("529.982.247-25").await;

    // Its webhook, received.
    b.click_text("Webhooks").await;
    b.wait_h1("Webhooks recebidos").await;
    b.page("deliveries").await;
    let row = b.row(&ext.to_string()).await;
    assert_eq!(
        [&row[1], &row[2], &row[4]],
        ["Loja Centro", "order/paid", "Processado"],
        "{row:?}"
    );

    b.click_text("Configurações").await;
    b.wait_h1("Configurações").await;
    b.page("settings").await;
    b.close().await;
}
