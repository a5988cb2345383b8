//! Atendimento (SAC): a Mercado Livre question arrives by notification, the operator
//! finds it on the Atendimento page, answers it from the ticket's page and sees it
//! sent; a ticket recorded in ponte shows no answer form (it is never sent to a channel).

use crate::browser::Browser;
use crate::common::{until, Backend, Storage};
use ponte_sim::mercadolivre::{MlConfig, MlSim};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_from_the_console() {
    let sim = MlSim::new(MlConfig {
        notify_retry_base: Duration::from_millis(100),
        ..MlConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    let storage = Storage::new(Backend::Sqlite).await;
    let p = storage.start(&[]);
    let cfg = sim.config().clone();
    let (s, ch) = p
        .post(
            "/api/v1/channels",
            &json!({"platform": "mercadolivre", "name": "Mercado Livre",
                "settings": {"seller_id": cfg.seller_id, "api_base_url": server.base_url(),
                             "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6},
                "credentials": {"client_id": cfg.client_id, "client_secret": cfg.client_secret,
                                "refresh_token": sim.current_refresh_token()}}),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    sim.set_callback_url(Some(ch["webhook_url"].as_str().unwrap().to_owned()));
    let q = sim.ask_question("MLB1000000001", "Serve no modelo 2020?");
    until(Duration::from_secs(30), "the question stored", || async {
        let t = p.get("/api/v1/tickets?kind=question").await;
        (t["items"].as_array().is_some_and(|i| !i.is_empty())).then_some(())
    })
    .await;
    let (s, local) = p
        .post(
            "/api/v1/tickets",
            &json!({"kind": "claim", "subject": "Ligação da cliente", "text": "Quer trocar o tamanho"}),
        )
        .await;
    assert_eq!(s, 201, "{local}");

    let mut b = Browser::open(&p.base, "tickets").await;
    let operator = crate::shop::person(&p, "operator").await;
    b.sign_in(&operator).await;
    b.wait_h1("Pedidos").await;
    b.click_text("Atendimento").await;
    b.wait_h1("Atendimento (SAC)").await;
    b.wait_text("Anúncio MLB1000000001").await;
    b.page("tickets").await;

    b.click_text("Anúncio MLB1000000001").await;
    b.wait_text("Serve no modelo 2020?").await;
    b.fill("Sua resposta", "Serve sim.").await;
    b.click("#answer").await;
    b.wait_text_of(
        "#ticket-queued",
        "Resposta na fila: vai ao canal em segundo plano.",
    )
    .await;
    b.reload_until("#ticket-state", "Respondido", "ticket-answered")
        .await;
    assert_eq!(sim.question(q).unwrap()["answer"]["text"], "Serve sim.");

    let id = local["id"].as_str().unwrap();
    b.goto(&format!("/console/tickets/{id}"), "ticket-local")
        .await;
    b.wait_text("Este atendimento não veio de um canal").await;
    assert!(!b.text("main").await.contains("Enviar resposta"));
    b.close().await;
    server.shutdown().await;
}
