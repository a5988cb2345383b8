//! The Mercado Livre connector against the simulator: tokens, reads, polling, sends
//! and stock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use ponte_channels::{Connector, Platform, PlatformErrorKind, PollCursor, PollMode, StockItem};
use ponte_core::action::{Action, Delivery, Invoice, Shipment};
use ponte_core::OrderStatus;
use ponte_sim::mercadolivre::{MlConfig, MlSim, NewMlItem, NewMlOrder, ServerHandle};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn start(config: MlConfig) -> (MlSim, ServerHandle) {
    let sim = MlSim::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    (sim, server)
}

fn connect(
    sim: &MlSim,
    server: &ServerHandle,
    extra: Value,
    access: Option<&str>,
) -> Arc<dyn Connector> {
    let mut settings =
        json!({"seller_id": sim.config().seller_id, "api_base_url": server.base_url()});
    if let (Value::Object(s), Value::Object(e)) = (&mut settings, extra) {
        s.extend(e);
    }
    let mut credentials = json!({
        "client_id": sim.config().client_id,
        "client_secret": sim.config().client_secret,
        "refresh_token": sim.current_refresh_token(),
    });
    if let Some(a) = access {
        credentials["access_token"] = json!(a);
    }
    let http = ponte_channels::Outbound::new(Duration::from_secs(10), true).unwrap();
    ponte_channels::platforms()
        .into_iter()
        .find(|p| p.name() == "mercadolivre")
        .unwrap()
        .connect(&settings, &credentials, http)
        .unwrap()
}

fn connect_with(sim: &MlSim, server: &ServerHandle, refresh: &str) -> Arc<dyn Connector> {
    let settings = json!({"seller_id": sim.config().seller_id, "api_base_url": server.base_url()});
    let credentials = json!({
        "client_id": sim.config().client_id,
        "client_secret": sim.config().client_secret,
        "refresh_token": refresh,
    });
    let http = ponte_channels::Outbound::new(Duration::from_secs(10), true).unwrap();
    ponte_channels::mercadolivre::MercadoLivre
        .connect(&settings, &credentials, http)
        .unwrap()
}

fn nfe_xml() -> String {
    r#"<nfeProc versao="4.00" xmlns="http://www.portalfiscal.inf.br/nfe"><NFe/></nfeProc>"#.into()
}

fn invoice() -> Action {
    Action::Invoice(Invoice {
        number: "1".into(),
        series: "1".into(),
        access_key: ponte_core::nfe::NfeKey::parse("43180906929383000163550010000000261000010301")
            .unwrap(),
        issued_at: Utc::now(),
        total_cents: 10_000,
        xml_url: None,
        has_xml: true,
    })
}

#[tokio::test]
async fn tokens_refresh_rotate_and_invalid_grant_holds() {
    let (sim, server) = start(MlConfig {
        access_token: None,
        ..MlConfig::default()
    })
    .await;
    let id = sim.create_order(NewMlOrder::default());
    let c = connect(&sim, &server, json!({}), None);
    // No access token: the first call refreshes.
    let (_, r) = c.fetch_order(&id.to_string()).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(sim.refreshes(), 1);
    // Still valid: no refresh.
    let (_, r) = c.fetch_order(&id.to_string()).await;
    assert!(r.is_ok());
    assert_eq!(sim.refreshes(), 1);
    // Expired at ML before ponte expected it: 401, one refresh, one retry.
    sim.expire_access_tokens();
    let (_, r) = c.fetch_order(&id.to_string()).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(sim.refreshes(), 2);
    // The refresh token rotated: a connector still holding the first one is refused.
    let stale = connect_with(&sim, &server, "TG-sim-refresh-0");
    let (_, r) = stale.fetch_order(&id.to_string()).await;
    assert_eq!(r.unwrap_err().kind, PlatformErrorKind::Auth);
    // A revoked grant: invalid_grant is an auth error (held, never lost).
    sim.revoke_grant();
    sim.expire_access_tokens();
    let (_, r) = c.fetch_order(&id.to_string()).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, PlatformErrorKind::Auth);
    assert!(e.message.contains("invalid_grant"), "{}", e.message);
    server.shutdown().await;
}

#[tokio::test]
async fn fetch_reads_billing_and_forward_shipment() {
    let (sim, server) = start(MlConfig::default()).await;
    let mut new = NewMlOrder::default();
    new.buyer.doc_type = "CNPJ".into();
    new.buyer.doc_number = "11222333000181".into();
    new.buyer.last_name = None;
    new.buyer.name = "Empresa X".into();
    new.buyer.state_registration = Some("110042490114".into());
    new.pack_id = Some(2_000_010_703_698_453);
    new.shipping_cost_cents = 1_590;
    let id = sim.create_order(new);
    let c = connect(&sim, &server, json!({}), Some("APP_USR-sim-access-0"));
    let (_, r) = c.fetch_order(&id.to_string()).await;
    let m = r.unwrap();
    assert_eq!(m.data.status, OrderStatus::Approved);
    assert_eq!(m.data.totals.total_cents, Some(11_590));
    assert_eq!(m.data.totals.shipping_cents, Some(1_590));
    let doc = m.data.customer.document.clone().unwrap();
    assert!(doc.valid, "{doc:?}");
    assert_eq!(m.data.customer.name.as_deref(), Some("Empresa X"));
    let refs = ponte_channels::mercadolivre::order_refs(&m.raw);
    assert_eq!(refs.pack_id.as_deref(), Some("2000010703698453"));
    assert_eq!(refs.substatus.as_deref(), Some("invoice_pending"));
    assert_eq!(
        ponte_channels::mercadolivre::state_registration(&m.raw).as_deref(),
        Some("110042490114")
    );
    assert_eq!(
        sim.request_count(&ponte_sim::mercadolivre::Method::POST, "/oauth/token"),
        0
    );
    server.shutdown().await;
}

#[tokio::test]
async fn polling_walks_search_then_missed_feeds() {
    let (sim, server) = start(MlConfig::default()).await;
    // No callback: every notification is missed.
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(sim.create_order(NewMlOrder::default()));
    }
    while sim.missed_count() < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let c = connect(&sim, &server, json!({}), None);
    let since = Utc::now() - chrono::Duration::hours(2);
    let mut cursor = Some(PollCursor::start(since));
    let mut seen = vec![];
    let mut pages = 0;
    while let Some(cur) = cursor {
        let (_, page) = c.list_orders(&cur).await;
        let page = page.unwrap();
        pages += 1;
        for o in page.orders {
            seen.push(o.unwrap().data.external_id);
        }
        cursor = page.next;
    }
    assert_eq!(pages, 2, "search, then missed feeds");
    // Each order twice: listed, and recovered from its missed notification.
    for id in &ids {
        assert_eq!(seen.iter().filter(|s| **s == id.to_string()).count(), 2);
    }
    // A backfill does not read missed feeds.
    let (_, page) = c
        .list_orders(&PollCursor::start_as(PollMode::Backfill, since))
        .await;
    let page = page.unwrap();
    assert_eq!(page.orders.len(), 3);
    assert!(page.next.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn me2_invoice_uploads_the_xml_once() {
    let (sim, server) = start(MlConfig::default()).await;
    let id = sim.create_order(NewMlOrder::default());
    let c = connect(&sim, &server, json!({}), None);
    let xml = nfe_xml();
    // Without the XML: refused before any call.
    let r = c.send(&id.to_string(), &invoice(), None).await;
    assert!(r.result.is_err());
    assert!(c
        .check_send(&Action::Invoice(Invoice {
            has_xml: false,
            ..match invoice() {
                Action::Invoice(i) => i,
                _ => unreachable!(),
            }
        }))
        .is_err());
    // ML answers a transient code first, then takes it.
    sim.fail_next_invoice("shipment_already_being_processed");
    let r = c.send(&id.to_string(), &invoice(), Some(&xml)).await;
    assert_eq!(r.result.unwrap_err().kind, PlatformErrorKind::Transient);
    let r = c.send(&id.to_string(), &invoice(), Some(&xml)).await;
    assert!(r.result.is_ok(), "{:?}", r.result);
    let ship = sim.shipment_of(id).unwrap();
    assert_eq!(ship["substatus"], "ready_to_print", "label unlocked");
    assert_eq!(
        sim.invoice_xml(ship["id"].as_u64().unwrap()),
        Some(xml.clone())
    );
    // A retry after a crash: done, no second upload.
    let r = c.send(&id.to_string(), &invoice(), Some(&xml)).await;
    assert!(r.result.is_ok());
    assert_eq!(
        sim.request_count(&ponte_sim::mercadolivre::Method::POST, "/shipments/"),
        2
    );
    // A permanent ML code stays permanent.
    let other = sim.create_order(NewMlOrder::default());
    sim.fail_next_invoice("invalid_nfe_cstat");
    let r = c.send(&other.to_string(), &invoice(), Some(&xml)).await;
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, PlatformErrorKind::Permanent);
    assert!(e.message.contains("invalid_nfe_cstat"));
    // ME1: the NF-e goes to the pack.
    let me1 = sim.create_order(NewMlOrder {
        mode: "me1".into(),
        logistic_type: "default".into(),
        pack_id: Some(77),
        ..NewMlOrder::default()
    });
    let r = c.send(&me1.to_string(), &invoice(), Some(&xml)).await;
    assert!(r.result.is_ok(), "{:?}", r.result);
    assert_eq!(sim.fiscal_documents("77"), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn me1_shipped_and_delivered_me2_not_supported_fraud_refused() {
    let (sim, server) = start(MlConfig::default()).await;
    let c = connect(&sim, &server, json!({}), None);
    let me1 = sim.create_order(NewMlOrder {
        mode: "me1".into(),
        logistic_type: "default".into(),
        ..NewMlOrder::default()
    });
    let shipped = Action::Shipment(Shipment {
        tracking_code: Some("BR123".into()),
        tracking_url: Some("https://rastreio.example/BR123".into()),
        carrier: None,
        shipped_at: Utc::now(),
    });
    let r = c.send(&me1.to_string(), &shipped, None).await;
    assert!(r.result.is_ok(), "{:?}", r.result);
    let r = c
        .send(
            &me1.to_string(),
            &Action::Delivery(Delivery {
                delivered_at: Utc::now(),
            }),
            None,
        )
        .await;
    assert!(r.result.is_ok(), "{:?}", r.result);
    let sent = sim.seller_notifications();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1["tracking_number"], "BR123");
    assert_eq!(sent[0].1["payload"]["service_id"], 11);
    assert!(sent[1].1["substatus"].is_null());
    assert_eq!(sim.shipment_of(me1).unwrap()["status"], "delivered");
    // ME2: nothing sent, recorded as done.
    let me2 = sim.create_order(NewMlOrder::default());
    let r = c.send(&me2.to_string(), &shipped, None).await;
    assert!(r.result.is_ok());
    assert!(
        r.request.contains("not_supported_by_platform"),
        "{}",
        r.request
    );
    assert_eq!(sim.seller_notifications().len(), 2);
    // Fraud: never a shipping status.
    let fraud = sim.create_order(NewMlOrder {
        mode: "me1".into(),
        tags: vec!["fraud_risk_detected".into()],
        ..NewMlOrder::default()
    });
    let (_, m) = c.fetch_order(&fraud.to_string()).await;
    assert_eq!(m.unwrap().data.status, OrderStatus::PaymentInReview);
    let r = c.send(&fraud.to_string(), &shipped, None).await;
    assert!(r
        .result
        .unwrap_err()
        .message
        .contains("fraud_risk_detected"));
    // Cancellation and separation: not supported.
    assert!(c
        .send_support(ponte_core::action::ActionKind::Cancel)
        .is_err());
    assert!(c
        .send_support(ponte_core::action::ActionKind::Separation)
        .is_err());
    server.shutdown().await;
}

fn stock(product: &str, variant: &str, q: i64) -> StockItem {
    StockItem {
        sku: format!("S-{variant}"),
        product_id: product.into(),
        variant_id: variant.into(),
        quantity: q,
    }
}

#[tokio::test]
async fn stock_plain_variations_and_user_products() {
    let (sim, server) = start(MlConfig::default()).await;
    sim.add_item("MLB1", 5, &[]);
    sim.add_item("MLB2", 0, &[(11, 1), (12, 2)]);
    let c = connect(&sim, &server, json!({}), None);
    assert_eq!(
        c.stock_batch_key("MLB2", "11"),
        c.stock_batch_key("MLB2", "12")
    );
    let calls = c.push_stock(&[stock("MLB1", "MLB1", 9)]).await;
    assert!(calls.iter().all(|c| c.result.is_ok()));
    assert_eq!(sim.item_quantity("MLB1", None), Some(9));
    let calls = c
        .push_stock(&[stock("MLB2", "11", 7), stock("MLB2", "12", 8)])
        .await;
    assert_eq!(calls.len(), 1, "one call for the item's variations");
    assert!(calls[0].result.is_ok(), "{:?}", calls[0].result);
    assert_eq!(sim.item_quantity("MLB2", Some(11)), Some(7));
    assert_eq!(sim.item_quantity("MLB2", Some(12)), Some(8));
    server.shutdown().await;

    let (sim, server) = start(MlConfig {
        warehouse_management: true,
        ..MlConfig::default()
    })
    .await;
    sim.add_user_product("MLB3", "MLBU3", "9876543", 4);
    let c = connect(
        &sim,
        &server,
        json!({"warehouse_management": true, "stock_store_id": "9876543"}),
        None,
    );
    // Another writer moves the version between ponte's read and write: 409, read again.
    sim.inject(ponte_sim::mercadolivre::Fault::new(
        "/stock/type/seller_warehouse",
        1,
        ponte_sim::mercadolivre::FaultKind::Status(409),
    ));
    let calls = c.push_stock(&[stock("MLB3", "MLB3", 12)]).await;
    assert!(calls[0].result.is_ok(), "{:?}", calls[0].result);
    assert_eq!(sim.user_product_quantity("MLBU3", "9876543"), Some(12));
    sim.bump_user_product("MLBU3");
    let calls = c.push_stock(&[stock("MLB3", "MLB3", 3)]).await;
    assert!(calls[0].result.is_ok());
    assert_eq!(sim.user_product_quantity("MLBU3", "9876543"), Some(3));
    // 429: rate limited, not failed.
    sim.inject(ponte_sim::mercadolivre::Fault::new(
        "/items/MLB3",
        1,
        ponte_sim::mercadolivre::FaultKind::RateLimited { retry_after_ms: 0 },
    ));
    let calls = c.push_stock(&[stock("MLB3", "MLB3", 1)]).await;
    assert!(matches!(
        calls[0].result.as_ref().unwrap_err().kind,
        PlatformErrorKind::RateLimited(_)
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn items_without_variation_use_item_id_as_listing() {
    let (sim, server) = start(MlConfig::default()).await;
    let id = sim.create_order(NewMlOrder {
        items: vec![NewMlItem {
            item_id: "MLB9".into(),
            variation_id: Some(5),
            seller_sku: None,
            title: "x".into(),
            quantity: 2,
            unit_price_cents: 150,
        }],
        ..NewMlOrder::default()
    });
    let c = connect(&sim, &server, json!({}), None);
    let (_, m) = c.fetch_order(&id.to_string()).await;
    let m = m.unwrap();
    assert_eq!(m.data.items[0].variant_id.as_deref(), Some("5"));
    assert_eq!(m.data.totals.subtotal_cents, Some(300));
    server.shutdown().await;
}

/// Stored credentials shared by "instances", compared and set as the store does.
struct MemoryVault(std::sync::Mutex<Value>);

#[async_trait::async_trait]
impl ponte_channels::CredentialVault for MemoryVault {
    async fn load(&self) -> Result<Value, ponte_channels::VaultError> {
        Ok(self.0.lock().unwrap().clone())
    }
    async fn replace(&self, old: &Value, new: &Value) -> Result<bool, ponte_channels::VaultError> {
        let mut v = self.0.lock().unwrap();
        if *v != *old {
            return Ok(false);
        }
        *v = new.clone();
        Ok(true)
    }
}

fn connect_to_vault(
    sim: &MlSim,
    server: &ServerHandle,
    vault: &Arc<MemoryVault>,
) -> Arc<dyn Connector> {
    let settings = json!({"seller_id": sim.config().seller_id, "api_base_url": server.base_url()});
    let credentials = vault.0.lock().unwrap().clone();
    let http = ponte_channels::Outbound::new(Duration::from_secs(10), true).unwrap();
    ponte_channels::mercadolivre::MercadoLivre
        .connect_shared(
            &settings,
            &credentials,
            http,
            ponte_channels::Shared {
                vault: vault.clone(),
                budget: Arc::new(ponte_channels::LocalBudget::default()),
            },
        )
        .unwrap()
}

/// An instance that claimed the renewal and crashed: once its claim has run out
/// another takes over and renews; while a claim holds, the others wait for its
/// result and use it without renewing themselves.
#[tokio::test]
async fn a_crashed_claimer_is_taken_over_and_a_live_one_is_waited_for() {
    let (sim, server) = start(MlConfig {
        access_token: None,
        ..MlConfig::default()
    })
    .await;
    let id = sim.create_order(NewMlOrder::default());
    let base = json!({
        "client_id": sim.config().client_id,
        "client_secret": sim.config().client_secret,
        "refresh_token": sim.current_refresh_token(),
    });
    // The crashed claim ran out a second ago.
    let mut crashed = base.clone();
    crashed["refreshing_until"] = json!((Utc::now() - chrono::Duration::seconds(1)).to_rfc3339());
    let vault = Arc::new(MemoryVault(std::sync::Mutex::new(crashed)));
    let c = connect_to_vault(&sim, &server, &vault);
    let (_, r) = c.fetch_order(&id.to_string()).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(sim.refreshes(), 1);
    let stored = vault.0.lock().unwrap().clone();
    assert!(stored.get("refreshing_until").is_none(), "{stored}");
    assert_eq!(stored["refresh_token"], json!(sim.current_refresh_token()));

    // A live claim: this instance waits; the claimer stores a fresh pair.
    let mut claimed = stored.clone();
    claimed["access_token"] = json!("expired");
    claimed["access_expires_at"] = json!(Utc::now().to_rfc3339());
    claimed["refreshing_until"] = json!((Utc::now() + chrono::Duration::seconds(20)).to_rfc3339());
    *vault.0.lock().unwrap() = claimed;
    let waiter = connect_to_vault(&sim, &server, &vault);
    let claimer = vault.clone();
    let done = stored.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        *claimer.0.lock().unwrap() = done;
    });
    let (_, r) = waiter.fetch_order(&id.to_string()).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(sim.refreshes(), 1, "the claimer's pair was used");
    server.shutdown().await;
}

/// SAC: a question is read, answered once (an answer sent again after a lost result is
/// taken as done), and read again with its answer; a pack's conversation and a claim
/// are read and answered; a close is refused without a call.
#[tokio::test]
async fn questions_conversations_and_claims_are_read_and_answered() {
    use ponte_core::ticket::{Author, OutboundAction, TicketKind, TicketState};
    let (sim, server) = start(MlConfig::default()).await;
    let c = connect(&sim, &server, json!({}), None);

    let q = sim.ask_question("MLB1", "Tem azul?");
    let ext = format!("question:{q}");
    let (_, t) = c.fetch_ticket(&ext).await;
    let t = t.unwrap();
    assert_eq!((t.kind, t.state), (TicketKind::Question, TicketState::Open));
    assert_eq!(t.messages[0].author, Author::Customer);
    let r = c.send_ticket(&ext, OutboundAction::Answer, "Temos.").await;
    assert_eq!(
        r.result.unwrap().as_deref(),
        Some(format!("{q}:answer").as_str())
    );
    let again = c.send_ticket(&ext, OutboundAction::Answer, "Temos.").await;
    assert!(
        again.result.is_ok(),
        "the same answer is done: {:?}",
        again.result
    );
    let other = c.send_ticket(&ext, OutboundAction::Answer, "Outra").await;
    assert!(other.result.is_err(), "another answer is refused");
    let (_, t) = c.fetch_ticket(&ext).await;
    let t = t.unwrap();
    assert_eq!(t.state, TicketState::Answered);
    assert_eq!(t.messages[1].external_id, format!("{q}:answer"));

    let order = sim.create_order(NewMlOrder::default());
    let mid = sim.buyer_message(order, "Quando chega?");
    let ext = format!("pack:{order}");
    // A notification naming the message: its pack is read from it.
    let (calls, t) = c.fetch_ticket(&format!("message:{mid}")).await;
    assert_eq!(calls.len(), 2, "the message, then its pack");
    assert_eq!(t.unwrap().external_id, ext);
    let r = c.send_ticket(&ext, OutboundAction::Answer, "Amanhã").await;
    let id = r.result.unwrap().unwrap();
    let (_, t) = c.fetch_ticket(&ext).await;
    let t = t.unwrap();
    assert_eq!(t.order_ref.as_deref(), Some(order.to_string().as_str()));
    assert_eq!(t.messages[1].external_id, id);
    assert_eq!(t.state, TicketState::Answered);
    let long = "a".repeat(351);
    let r = c.send_ticket(&ext, OutboundAction::Answer, &long).await;
    assert_eq!(r.result.unwrap_err().kind, PlatformErrorKind::Permanent);

    let claim = sim.open_claim(order, "PDD9939", "Não chegou");
    let ext = format!("claim:{claim}");
    c.send_ticket(&ext, OutboundAction::Answer, "Reenviamos")
        .await
        .result
        .unwrap();
    let (calls, t) = c.fetch_ticket(&ext).await;
    assert_eq!(calls.len(), 2, "the claim, then its messages");
    let t = t.unwrap();
    assert_eq!(t.messages[1].author, Author::Seller);
    let r = c.send_ticket(&ext, OutboundAction::Close, "").await;
    assert!(r.calls.is_empty() && r.result.is_err());
    let (_, bad) = c.fetch_ticket("question:../x").await;
    assert!(bad.is_err());
    server.shutdown().await;
}
