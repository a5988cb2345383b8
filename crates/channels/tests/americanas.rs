//! The Americanas (SkyHub) connector against the simulator: the queue, the listing,
//! sends, stock, limits and auth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use ponte_channels::{Connector, PlatformErrorKind, PollCursor, PollMode, PollPage, StockItem};
use ponte_core::action::{Action, CancelReason, Cancellation, Delivery, Invoice, Shipment};
use ponte_core::OrderStatus;
use ponte_sim::americanas::{
    AmConfig, AmSim, Fault, FaultKind, Method, NewAmItem, NewAmOrder, ServerHandle,
};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn start(config: AmConfig) -> (AmSim, ServerHandle) {
    let sim = AmSim::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    (sim, server)
}

fn connect_as(server: &ServerHandle, api_key: &str, sim: &AmSim) -> Arc<dyn Connector> {
    let settings = json!({"api_base_url": server.base_url()});
    let credentials = json!({
        "user_email": sim.config().user_email,
        "api_key": api_key,
        "account_manager_key": sim.config().account_manager_key,
    });
    let http = ponte_channels::Outbound::new(Duration::from_secs(10), true).unwrap();
    ponte_channels::platforms()
        .into_iter()
        .find(|p| p.name() == "americanas")
        .unwrap()
        .connect(&settings, &credentials, http)
        .unwrap()
}

fn connect(sim: &AmSim, server: &ServerHandle) -> Arc<dyn Connector> {
    connect_as(server, &sim.config().api_key, sim)
}

fn paid(sku: &str) -> NewAmOrder {
    NewAmOrder {
        items: vec![NewAmItem {
            sku: sku.into(),
            product_id: None,
            name: "Produto".into(),
            qty: 2,
            price_cents: 1_000,
        }],
        status: "payment_received".into(),
        ..NewAmOrder::default()
    }
}

async fn changes(conn: &Arc<dyn Connector>) -> PollPage {
    let (_, r) = conn
        .list_orders(&PollCursor::start(DateTime::<Utc>::MIN_UTC))
        .await;
    r.unwrap()
}

fn codes(page: &PollPage) -> Vec<String> {
    page.orders
        .iter()
        .map(|o| o.as_ref().unwrap().data.external_id.clone())
        .collect()
}

#[tokio::test]
async fn queue_is_read_in_lots_and_deleted_after() {
    let (sim, server) = start(AmConfig::default()).await;
    let conn = connect(&sim, &server);
    let made: Vec<String> = (0..10)
        .map(|i| {
            sim.create_order(NewAmOrder {
                new_code_format: i % 2 == 0,
                ..paid("SKU-1")
            })
        })
        .collect();
    let lot = ponte_channels::americanas::QUEUE_LOT as usize;
    let first = changes(&conn).await;
    assert_eq!(codes(&first), made[..lot].to_vec());
    assert_eq!(first.receipt, made[..lot].to_vec());
    assert_eq!(first.extra_requests, lot as u32 - 1);
    assert!(first.next.is_some(), "a full lot: the queue may hold more");
    let o = first.orders[0].as_ref().unwrap();
    assert_eq!(o.data.status, OrderStatus::Approved);
    assert_eq!(o.data.totals.subtotal_cents, Some(2_000));
    let (_, r) = conn.ack_listed(&first.receipt).await.unwrap();
    r.unwrap();
    assert_eq!(sim.queue_len(), 10 - lot);
    // The engine waits for its budget between pages; so does this test (9/s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = changes(&conn).await;
    assert_eq!(codes(&second), made[lot..].to_vec());
    conn.ack_listed(&second.receipt).await.unwrap().1.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let last = changes(&conn).await;
    assert!(last.orders.is_empty());
    assert!(last.next.is_none(), "the queue answered empty");
    assert_eq!(last.extra_requests, 0);
    assert!(conn.ack_listed(&last.receipt).await.is_none());
    assert_eq!(sim.queue_len(), 0);
    assert_eq!(sim.queue_counts(), (10, 10));
    server.shutdown().await;
}

#[tokio::test]
async fn undeleted_orders_come_back_and_updates_are_not_lost() {
    let (sim, server) = start(AmConfig {
        queue_return: Duration::from_millis(300),
        ..AmConfig::default()
    })
    .await;
    let conn = connect(&sim, &server);
    let a = sim.create_order(NewAmOrder::default());
    // Read, never deleted (a crash between store and delete).
    assert_eq!(codes(&changes(&conn).await), vec![a.clone()]);
    assert!(
        changes(&conn).await.orders.is_empty(),
        "hidden while handed out"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = changes(&conn).await;
    assert_eq!(
        codes(&again),
        vec![a.clone()],
        "back after the return delay"
    );
    // Updated while handed out: deleting the older copy keeps it queued.
    sim.set_status(&a, "payment_received").unwrap();
    conn.ack_listed(&again.receipt).await.unwrap().1.unwrap();
    let updated = changes(&conn).await;
    assert_eq!(
        updated.orders[0].as_ref().unwrap().data.status,
        OrderStatus::Approved
    );
    conn.ack_listed(&updated.receipt).await.unwrap().1.unwrap();
    assert_eq!(sim.queue_len(), 0);
    // A code already gone counts as deleted.
    conn.ack_listed(&updated.receipt).await.unwrap().1.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn queue_failures_and_auth() {
    let (sim, server) = start(AmConfig::default()).await;
    let conn = connect(&sim, &server);
    let a = sim.create_order(NewAmOrder::default());
    let b = sim.create_order(NewAmOrder::default());
    sim.inject(Fault::new(
        "/queues/orders",
        1,
        FaultKind::RateLimited { retry_after_ms: 0 },
    ));
    let (_, r) = conn
        .list_orders(&PollCursor::start(DateTime::<Utc>::MIN_UTC))
        .await;
    assert!(matches!(
        r.unwrap_err().kind,
        PlatformErrorKind::RateLimited(_)
    ));
    sim.inject(Fault::new("/queues/orders", 1, FaultKind::Status(503)).with_method(Method::GET));
    let (_, r) = conn
        .list_orders(&PollCursor::start(DateTime::<Utc>::MIN_UTC))
        .await;
    assert_eq!(r.unwrap_err().kind, PlatformErrorKind::Transient);
    let page = changes(&conn).await;
    assert_eq!(codes(&page), vec![a, b]);
    // A failed delete leaves the order queued (it comes back); the others go.
    sim.inject(
        Fault::new("/queues/orders/", 1, FaultKind::Status(500)).with_method(Method::DELETE),
    );
    let (_, r) = conn.ack_listed(&page.receipt).await.unwrap();
    assert!(r.is_err());
    assert_eq!(sim.queue_len(), 1);
    let bad = connect_as(&server, "wrong-key", &sim);
    let (info, r) = bad
        .list_orders(&PollCursor::start(DateTime::<Utc>::MIN_UTC))
        .await;
    assert_eq!(info.status, Some(401));
    assert_eq!(r.unwrap_err().kind, PlatformErrorKind::Auth);
    assert!(conn.verify_webhook(&http::HeaderMap::new(), b"{}").is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn backfill_walks_the_listing_at_one_get_per_second() {
    let (sim, server) = start(AmConfig::default()).await;
    let conn = connect(&sim, &server);
    for _ in 0..3 {
        sim.create_order(NewAmOrder::default());
    }
    let started = Instant::now();
    let (info, r) = conn
        .list_orders(&PollCursor::start_as(
            PollMode::Backfill,
            Utc::now() - chrono::Duration::hours(1),
        ))
        .await;
    assert_eq!(info.request, "GET /orders");
    let page = r.unwrap();
    assert_eq!(page.orders.len(), 3);
    assert_eq!(page.total, Some(3));
    assert!(page.next.is_none());
    let later = Utc::now() + chrono::Duration::hours(1);
    let (_, r) = conn
        .list_orders(&PollCursor::start_as(PollMode::Backfill, later))
        .await;
    assert!(r.unwrap().orders.is_empty());
    let code = sim.create_order(NewAmOrder::default());
    let (_, o) = conn.fetch_order(&code).await;
    assert_eq!(o.unwrap().data.external_id, code);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "three GET /orders* calls take two seconds of pacing"
    );
    assert_eq!(
        sim.requests().iter().filter(|r| r.status == 429).count(),
        0,
        "the 1/s limit was respected"
    );
    let (_, o) = conn.fetch_order("../x").await;
    assert_eq!(o.unwrap_err().kind, PlatformErrorKind::Permanent);
    server.shutdown().await;
}

fn invoice() -> Action {
    Action::Invoice(Invoice {
        number: "1".into(),
        series: "1".into(),
        access_key: ponte_core::nfe::NfeKey::parse("43180906929383000163550010000000261000010301")
            .unwrap(),
        issued_at: Utc::now(),
        total_cents: 2_000,
        xml_url: None,
        has_xml: false,
    })
}

#[tokio::test]
async fn every_status_send() {
    let (sim, server) = start(AmConfig::default()).await;
    let conn = connect(&sim, &server);
    let code = sim.create_order(paid("SKU-9"));
    let r = conn.send(&code, &invoice(), None).await;
    r.result.unwrap();
    assert_eq!(sim.status_of(&code).as_deref(), Some("order_invoiced"));
    // A retry after a crash: the platform refuses (422), the order is there: done.
    let r = conn.send(&code, &invoice(), None).await;
    r.result.unwrap();
    let ship = Action::Shipment(Shipment {
        tracking_code: Some("AA123456789BR".into()),
        tracking_url: Some("https://rastreamento.correios.com.br/AA123456789BR".into()),
        carrier: Some("Correios".into()),
        shipped_at: Utc::now(),
    });
    let r = conn.send(&code, &ship, None).await;
    r.result.unwrap();
    let o = sim.order(&code).unwrap();
    assert_eq!(o["status"]["code"], "order_shipped");
    assert_eq!(
        o["shipments"][0]["items"],
        json!([{"sku": "SKU-9", "qty": 2}])
    );
    assert_eq!(o["shipments"][0]["track"]["code"], "AA123456789BR");
    assert_eq!(o["shipments"][0]["track"]["method"], "Correios PAC");
    let r = conn
        .send(
            &code,
            &Action::Delivery(Delivery {
                delivered_at: Utc::now(),
            }),
            None,
        )
        .await;
    r.result.unwrap();
    assert_eq!(sim.status_of(&code).as_deref(), Some("complete"));
    let cancel = Action::Cancel(Cancellation {
        reason: CancelReason::Customer,
        note: None,
    });
    // Delivered orders cannot be cancelled: the platform's 422 is final, with its message.
    let r = conn.send(&code, &cancel, None).await;
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, PlatformErrorKind::Permanent);
    assert_eq!(e.status, Some(422));
    assert!(e.message.contains("cannot move"), "{}", e.message);
    let other = sim.create_order(NewAmOrder::default());
    conn.send(&other, &cancel, None).await.result.unwrap();
    assert_eq!(sim.status_of(&other).as_deref(), Some("order_canceled"));
    // Invoice only from payment_received.
    let fresh = sim.create_order(NewAmOrder::default());
    let e = conn
        .send(&fresh, &invoice(), None)
        .await
        .result
        .unwrap_err();
    assert_eq!(e.status, Some(422));
    // Refused before any call.
    let no_track = Action::Shipment(Shipment {
        tracking_code: None,
        tracking_url: None,
        carrier: None,
        shipped_at: Utc::now(),
    });
    assert!(conn.check_send(&no_track).is_err());
    assert!(conn
        .send_support(ponte_core::action::ActionKind::Separation)
        .is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn stock_per_sku_and_variation() {
    let (sim, server) = start(AmConfig::default()).await;
    let conn = connect(&sim, &server);
    sim.add_product("SKU 1", 3);
    sim.add_variation("P2-AZUL", 1);
    let items = [
        StockItem {
            sku: "SKU 1".into(),
            product_id: "SKU 1".into(),
            variant_id: "SKU 1".into(),
            quantity: 7,
        },
        StockItem {
            sku: "P2-AZUL".into(),
            product_id: "P2".into(),
            variant_id: "P2-AZUL".into(),
            quantity: 4,
        },
    ];
    assert_ne!(
        conn.stock_batch_key("SKU 1", "SKU 1"),
        conn.stock_batch_key("P2", "P2-AZUL")
    );
    assert_eq!(conn.stock_batch_max(), 1);
    for item in &items {
        let calls = conn.push_stock(std::slice::from_ref(item)).await;
        assert_eq!(calls.len(), 1);
        calls[0].result.clone().unwrap();
    }
    assert_eq!(sim.product_qty("SKU 1"), Some(7));
    assert_eq!(sim.variation_qty("P2-AZUL"), Some(4));
    let missing = StockItem {
        sku: "NOPE".into(),
        product_id: "NOPE".into(),
        variant_id: "NOPE".into(),
        quantity: 1,
    };
    let calls = conn.push_stock(&[missing]).await;
    assert_eq!(
        calls[0].result.clone().unwrap_err().kind,
        PlatformErrorKind::NotFound
    );
    server.shutdown().await;
}
