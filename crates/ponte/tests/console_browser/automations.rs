//! An automation switched off on the channel's Automações tab stops the next send: an
//! NF-e recorded on the order page with "Enviar atualizações de pedidos" off is kept
//! but never reaches the platform, and the page says why; switched on again, the next
//! order's NF-e goes out. An NF-e XML that does not parse is refused next to the file
//! field and records nothing.

use crate::browser::Browser;
use crate::shop::{customer, line, paid_order, Shop, CPF};
use ponte_sim::nuvemshop::Method;
use std::path::Path;
use std::time::Duration;

/// An authorized NF-e (number 26, series 1).
const NFE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/nfe/nfe_layout4_com_prot.xml"
);

/// Its access key.
const NFE_KEY: &str = "43180906929383000163550010000000261000010301";

/// Sets "Enviar atualizações de pedidos" on the channel's Automações tab.
async fn send_status_updates(b: &mut Browser, shop: &Shop, on: bool) {
    let step = if on {
        "automation-on"
    } else {
        "automation-off"
    };
    b.goto(
        &format!("/console/channels/{}/automations", shop.channel),
        &format!("{step}-tab"),
    )
    .await;
    b.wait_h1("Loja Teste").await;
    let choice = if on { "yes" } else { "no" };
    b.click(&format!("#f-send_status_updates-{choice}")).await;
    b.click("#save").await;
    b.wait_text_of("#notice", "Salvo.").await;
    b.page(step).await;
    let channel = shop
        .p
        .get(&format!("/api/v1/channels/{}", shop.channel))
        .await;
    assert_eq!(channel["settings"]["send_status_updates"], on, "{channel}");
}

/// What the simulator was asked to change since its log was cleared (every call but
/// reads).
fn changes(shop: &Shop) -> Vec<String> {
    let calls = shop.sim.sim.requests().into_iter();
    calls
        .filter(|r| r.method != Method::GET)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The NF-e access key the store holds for order `ext` (the `nfe` metafield).
fn nfe_key_at_store(shop: &Shop, ext: u64) -> Option<String> {
    let fields = shop.sim.sim.metafields_for(ext);
    let key = fields
        .iter()
        .find(|m| m["namespace"] == "nfe" && m["key"] == "key")?;
    key["value"].as_str().map(str::to_owned)
}

/// The kinds and states of the order's status sends, as its page lists them.
async fn sends_shown(b: &Browser) -> Vec<String> {
    b.texts("section[aria-labelledby=h-sends] tbody tr td:nth-child(2), section[aria-labelledby=h-sends] tbody tr td:nth-child(3)")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automation_switched_off_stops_the_next_send() {
    let shop = Shop::open().await;
    let mut b = Browser::open(&shop.p.base, "automations").await;
    let admin = crate::shop::person(&shop.p, "admin").await;
    b.sign_in(&admin).await;
    b.wait_h1("Pedidos").await;
    send_status_updates(&mut b, &shop, false).await;

    // A malformed NF-e XML is refused at the file field; nothing is recorded.
    let order = format!("/console/orders/{}", shop.cpf.id);
    b.goto(&order, "order").await;
    b.wait_h1(&format!("Pedido {}", shop.cpf.number)).await;
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("nfe-quebrada.xml");
    std::fs::write(&broken, "<nfeProc><NFe><infNFe Id=\"NFe4318").unwrap();
    b.upload("XML da NF-e autorizada", &broken).await;
    b.click_text("Registrar nota fiscal").await;
    b.refused_at("#invoice-xml", "XML de NF-e inválido.").await;
    b.page("invoice-malformed").await;
    let o = shop.p.get(&format!("/api/v1/orders/{}", shop.cpf.id)).await;
    assert!(o["fulfilment"]["invoice"].is_null(), "{o}");
    assert_eq!(o["status"], "in_separation", "{o}");

    // With the switch off, the NF-e is recorded and the page says it is not sent, and why.
    shop.sim.sim.clear_requests();
    b.upload("XML da NF-e autorizada", Path::new(NFE)).await;
    b.click_text("Registrar nota fiscal").await;
    b.wait_text_of(
        "#action-done",
        "Nota fiscal (NF-e): registrado, mas não será enviado para a plataforma: \
         Automação desligada para este tipo de envio.",
    )
    .await;
    b.page("invoice-not-sent").await;
    b.wait_text("26/1").await;
    assert_eq!(sends_shown(&b).await, ["Separação", "Enviado"]);
    shop.p.settle(Duration::from_secs(10)).await;
    assert_eq!(changes(&shop), Vec::<String>::new());
    assert_eq!(nfe_key_at_store(&shop, shop.cpf.ext), None);
    let sends = shop
        .p
        .get(&format!("/api/v1/status-sends?order_id={}", shop.cpf.id))
        .await;
    assert_eq!(sends["items"].as_array().unwrap().len(), 1, "{sends}");
    let o = shop.p.get(&format!("/api/v1/orders/{}", shop.cpf.id)).await;
    assert_eq!(o["status"], "invoiced", "{o}");
    // Opened again later, the order's history still says why nothing was sent.
    b.goto(&order, "order-history-not-sent").await;
    b.wait_text("Não enviado à plataforma: Automação desligada para este tipo de envio.")
        .await;

    // Switched on again, the next order's NF-e goes out.
    send_status_updates(&mut b, &shop, true).await;
    let lines = vec![line(7002, "MEIA-01", "Meia Esportiva", 2, 1_990)];
    let (ext, id, number) = paid_order(
        &shop.sim,
        &shop.p,
        &shop.webhook,
        customer("Rita Lima", CPF),
        lines,
    )
    .await;
    b.goto(&format!("/console/orders/{id}"), "next-order").await;
    b.wait_h1(&format!("Pedido {number}")).await;
    b.upload("XML da NF-e autorizada", Path::new(NFE)).await;
    b.click_text("Registrar nota fiscal").await;
    b.wait_text_of(
        "#action-done",
        "Nota fiscal (NF-e): registrado; a situação será enviada para a plataforma.",
    )
    .await;
    b.page("invoice-queued").await;
    b.reload_until(
        "section[aria-labelledby=h-sends] tbody",
        "Enviado",
        "invoice-sent",
    )
    .await;
    assert_eq!(sends_shown(&b).await, ["Nota fiscal (NF-e)", "Enviado"]);
    assert_eq!(nfe_key_at_store(&shop, ext).as_deref(), Some(NFE_KEY));
    b.close().await;
}
