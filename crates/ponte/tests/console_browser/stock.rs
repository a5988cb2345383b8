//! Stock in the browser: the channel's Estoque tab sends the São Paulo warehouse's
//! balance, a movement recorded on Estoque changes what the channel shows (on the page
//! and at the store), a movement into an unknown warehouse is refused next to its field
//! and changes nothing, and a resync's progress is followed in place until done.

use crate::browser::{eventually, Browser};
use crate::shop::Bare;
use fantoccini::Locator;
use ponte_sim::nuvemshop::{Fault, FaultKind, Method};
use serde_json::json;
use std::time::Duration;

/// The product's SKU at ponte.
const SKU: &str = "CAMISETA-AZUL-M";

/// Its row on Estoque.
const ROW: &str = "#sku-CAMISETA-AZUL-M";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_movement_changes_what_the_channel_shows() {
    let shop = Bare::open().await;
    let p = &shop.p;
    let (channel, _) = p.nuvemshop_channel(&shop.sim, "paid_only").await;
    let (s, w) = p
        .post(
            "/api/v1/warehouses",
            &json!({"code": "SP", "name": "São Paulo"}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let (s, r) = p
        .post(
            "/api/v1/products",
            &json!({"sku": SKU, "name": "Camiseta Azul M"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    // The product is a variant of the store's catalogue.
    let (product, variant, _) = shop.sim.sim.variant_skus()[0].clone();
    let listing =
        json!({"sku": SKU, "product_id": product.to_string(), "variant_id": variant.to_string()});
    let (s, r) = p
        .post(
            &format!("/api/v1/channels/{channel}/listings"),
            &json!({ "listings": [listing] }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let at_store = || shop.sim.sim.variant_stock(product, variant);

    // The channel's Estoque tab: send the São Paulo warehouse's balance.
    let mut b = Browser::open(&p.base, "stock").await;
    let admin = crate::shop::person(&shop.p, "admin").await;
    b.sign_in(&admin).await;
    b.wait_h1("Pedidos").await;
    b.goto(
        &format!("/console/channels/{channel}/stock"),
        "channel-stock",
    )
    .await;
    b.click("#f-send_stock-yes").await;
    b.click("#f-stock_warehouses-1").await;
    b.select("Qual estoque será movimentado?", "SP · São Paulo")
        .await;
    b.click("#save").await;
    b.wait_text_of("#notice", "Salvo.").await;
    b.page("channel-stock-saved").await;
    let c = p.get(&format!("/api/v1/channels/{channel}")).await;
    let settings = &c["settings"];
    assert_eq!(
        (
            &settings["send_stock"],
            &settings["stock_warehouses"],
            &settings["debit_warehouse"]
        ),
        (&json!(true), &json!(["SP"]), &json!("SP")),
        "{c}"
    );

    // Seven shirts arrive at São Paulo.
    b.click("nav a[href='/console/stock']").await;
    b.wait_h1("Estoque").await;
    b.page("stock-before").await;
    b.fill_in("#movement-form", "SKU", SKU).await;
    b.fill("Depósito", "SP").await;
    b.select("Operação", "Entrada (soma ao físico)").await;
    b.fill("Quantidade", "7").await;
    b.fill("Motivo", "Compra do fornecedor").await;
    b.click_text("Registrar movimentação").await;
    b.wait_text_of(
        "#stock-recorded",
        "Movimentação registrada. Os canais recebem o novo saldo em instantes.",
    )
    .await;
    b.page("stock-recorded").await;
    eventually("the store shows 7", || async {
        (at_store() == Some(7)).then_some(())
    })
    .await;
    b.reload_until(&format!("{ROW} .shown"), "Loja Teste: mostra 7", "stock")
        .await;
    assert_eq!(b.text(&format!("{ROW} .available")).await, "7");
    assert_eq!(b.text(&format!("{ROW} .shown .badge")).await, "Enviado");

    // Into a warehouse that does not exist: refused at the field, nothing changes.
    b.fill_in("#movement-form", "SKU", SKU).await;
    b.fill("Depósito", "MG").await;
    b.fill("Quantidade", "3").await;
    b.click_text("Registrar movimentação").await;
    b.refused_at("#movement-warehouse", "Depósito não cadastrado.")
        .await;
    b.page("stock-refused").await;
    let value = b.find("#movement-warehouse").await.prop("value").await;
    assert_eq!(
        value.unwrap().as_deref(),
        Some("MG"),
        "what was typed is kept"
    );
    p.settle(Duration::from_secs(10)).await;
    let levels = p.get(&format!("/api/v1/stock/{SKU}")).await;
    let warehouses = levels["warehouses"].as_array().unwrap();
    assert_eq!(warehouses.len(), 1, "{levels}");
    assert_eq!(warehouses[0]["physical"], 7, "{levels}");
    assert_eq!(at_store(), Some(7));
    assert_eq!(b.text(&format!("{ROW} .available")).await, "7");

    // Everything sent again, the store slow to answer: the progress updates in place.
    shop.sim.sim.inject(
        Fault::new(
            format!("/products/{product}/variants"),
            1,
            FaultKind::Delay(Duration::from_millis(2500)),
        )
        .with_method(Method::PATCH),
    );
    b.click("#resync-button").await;
    b.wait_text_of(
        "#stock-resynced",
        "Reenvio iniciado; saldos a enviar de novo: 1",
    )
    .await;
    b.page("stock-resync").await;
    b.wait_text("Enviando…").await;
    // Anything htmx swaps in keeps this; a new page would not.
    b.client
        .execute("window.ponteSamePage = true", vec![])
        .await
        .unwrap();
    let cells = eventually("the resync done", || async {
        let row = b
            .client
            .find(Locator::Css("#stock-progress tbody tr"))
            .await
            .ok()?;
        let mut cells = vec![];
        for c in row.find_all(Locator::Css("td")).await.ok()? {
            cells.push(c.text().await.ok()?);
        }
        (cells.get(2).map(String::as_str) == Some("0")).then_some(cells)
    })
    .await;
    assert_eq!(
        [&cells[0], &cells[3], &cells[4]],
        ["Loja Teste", "1", "0"],
        "{cells:?}"
    );
    let same = b
        .client
        .execute("return window.ponteSamePage === true", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the progress was updated in place");
    b.screenshot("stock-resync-done").await;
    assert_eq!(at_store(), Some(7));
    b.close().await;
}
