//! Webhooks de saída in the browser: an endpoint created through the API, the first
//! two deliveries of an order's `order.created` refused by a local receiver (503), both
//! attempts seen on the endpoint's page, "Reenviar" pressed, and the delivery then
//! listed as delivered (the receiver got it a third time, answered 200).

use crate::browser::Browser;
use crate::common::{until, Backend, Sim, Storage};
use crate::shop::{customer, line, paid_order, person, CPF};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A local endpoint refusing (503) the first `fail` requests; counts every request.
async fn receiver(fail: usize) -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/erp/hooks",
        post(move || {
            let seen = seen.clone();
            async move {
                if seen.fetch_add(1, Ordering::SeqCst) < fail {
                    (StatusCode::SERVICE_UNAVAILABLE, "ERP em manutenção")
                } else {
                    (StatusCode::OK, "recebido")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/erp/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_resent_from_the_endpoint_page() {
    let storage = Storage::new(Backend::Sqlite).await;
    let sim = Sim::start(Sim::unlimited()).await;
    let p = storage.start(&[]);
    let (hooks, got) = receiver(2).await;
    let (status, ep) = p
        .post(
            "/api/v1/webhook-endpoints",
            &json!({"url": hooks, "events": ["order.created"], "description": "ERP da loja"}),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    let ep_id = ep["id"].as_str().unwrap().to_owned();

    // The order's creation is refused at once and again 5 s later; the next retry is
    // minutes away.
    let (_, url) = p.nuvemshop_channel(&sim, "all").await;
    let lines = vec![line(11, "CAMISETA-P", "Camiseta P", 1, 4990)];
    paid_order(&sim, &p, &url, customer("Ana Souza", CPF), lines).await;
    until(
        Duration::from_secs(30),
        "two refused deliveries",
        || async { (got.load(Ordering::SeqCst) >= 2).then_some(()) },
    )
    .await;

    let mut b = Browser::open(&p.base, "webhooks").await;
    let admin = person(&p, "admin").await;
    b.sign_in(&admin).await;
    b.wait_h1("Pedidos").await;
    b.click_text("Webhooks de saída").await;
    b.wait_h1("Webhooks de saída").await;
    b.page("endpoints").await;
    let row = b.row(&hooks).await;
    assert!(row[0].contains("ERP da loja"), "{row:?}");
    assert!(row[1].starts_with("Ativo"), "{row:?}");
    assert!(row[1].contains("Falhando desde"), "{row:?}");
    assert_eq!(row[2..4], ["1", "0"], "one pending, none failed: {row:?}");
    assert_eq!(row[4], "Nunca", "{row:?}");

    b.click_text(&hooks).await;
    b.wait_h1("Endpoint de webhook").await;
    b.page("endpoint-failing").await;
    assert_eq!(
        b.path().await,
        format!("/console/webhook-endpoints/{ep_id}")
    );
    let attempts = b.texts("#attempts tbody tr").await;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    for a in &attempts {
        assert!(a.contains("order.created") && a.contains("Falhou"), "{a}");
        assert!(a.contains("503") && a.contains("ERP em manutenção"), "{a}");
    }

    b.click("#attempts tbody tr:first-child button").await;
    let notice = "A mensagem voltou para a fila e será enviada de novo.";
    b.wait_text_of("#endpoint-resent", notice).await;
    b.page("endpoint-resent").await;
    b.reload_until(
        "#attempts tbody tr:first-child",
        "Entregue",
        "endpoint-delivered",
    )
    .await;
    let newest = b.text("#attempts tbody tr:first-child").await;
    assert!(
        newest.contains("200") && newest.contains("recebido"),
        "{newest}"
    );
    assert_eq!(got.load(Ordering::SeqCst), 3, "resent once");
    let attempts = p
        .get(&format!("/api/v1/webhook-endpoints/{ep_id}/attempts"))
        .await;
    assert_eq!(attempts["items"][0]["outcome"], "succeeded", "{attempts}");
    b.close().await;
}
