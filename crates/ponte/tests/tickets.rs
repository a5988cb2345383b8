//! SAC tickets end to end (real binary, simulated Mercado Livre seller), on both
//! backends: a question arrives by notification and is answered (a 500 retried, the
//! attempts kept; duplicates change nothing); a post-sale conversation on a pack; a
//! claim answered, refused a close, then closed by the platform; a ticket recorded in
//! ponte refuses answers (409 `ticket_not_from_channel`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(unused_imports)]
#[path = "common/vtex.rs"]
mod vtex_harness;

use common::{until, Backend, Ponte, Storage};
use ponte_sim::mercadolivre::{
    Fault, FaultKind, Method, MlConfig, MlSim, NewMlOrder, ServerHandle,
};
use serde_json::{json, Value};
use std::time::Duration;
use vtex_harness::{imported, start_public};

const WAIT: Duration = Duration::from_secs(30);

struct Ml {
    sim: MlSim,
    server: ServerHandle,
}

async fn start(storage: &Storage) -> (Ponte, Ml, String) {
    let env = storage.env();
    let all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = start_public(storage.dir.path(), &all);
    let sim = MlSim::new(MlConfig {
        notify_retry_base: Duration::from_millis(100),
        ..MlConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = sim.serve(listener).await;
    let cfg = sim.config();
    let (s, ch) = p
        .post(
            "/api/v1/channels",
            &json!({
                "platform": "mercadolivre",
                "name": "Mercado Livre",
                "settings": {"seller_id": cfg.seller_id, "api_base_url": server.base_url(),
                             "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6},
                "credentials": {"client_id": cfg.client_id, "client_secret": cfg.client_secret,
                                "refresh_token": sim.current_refresh_token()},
            }),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    sim.set_callback_url(Some(ch["webhook_url"].as_str().unwrap().to_owned()));
    let id = ch["id"].as_str().unwrap().to_owned();
    (p, Ml { sim, server }, id)
}

/// The only ticket of a kind, once it has `n` messages.
async fn ticket(p: &Ponte, kind: &str, n: usize) -> Value {
    until(
        WAIT,
        &format!("a {kind} ticket with {n} messages"),
        || async {
            let list = p.get(&format!("/api/v1/tickets?kind={kind}")).await;
            let items = list["items"].as_array().unwrap().clone();
            assert!(items.len() <= 1, "one ticket per resource: {list}");
            items
                .into_iter()
                .find(|t| t["messages"].as_array().unwrap().len() == n)
        },
    )
    .await
}

/// The ticket once its last message is in `state`.
async fn last_sent(p: &Ponte, id: &str, state: &str) -> Value {
    until(WAIT, &format!("ticket {id}'s answer {state}"), || async {
        let t = p.get(&format!("/api/v1/tickets/{id}")).await;
        let out = &t["messages"].as_array().unwrap().last().unwrap()["outbound"];
        (out["state"] == state).then_some(t)
    })
    .await
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn question_answered(p: &Ponte, ml: &Ml, channel: &str) {
    let q = ml.sim.ask_question("MLB1000000001", "Tem na cor azul?");
    let t = ticket(p, "question", 1).await;
    assert_eq!(t["state"], "open", "{t}");
    assert_eq!(t["channel_id"], channel);
    assert_eq!(t["external_id"], format!("question:{q}"));
    assert_eq!(t["messages"][0]["author"], "customer");
    assert_eq!(t["messages"][0]["text"], "Tem na cor azul?");

    // The platform fails once: the answer is retried, both attempts kept.
    ml.sim
        .inject(Fault::new("/answers", 1, FaultKind::Status(500)).with_method(Method::POST));
    let id = id_of(&t);
    let (s, queued) = p
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            &json!({"text": "Temos sim!"}),
        )
        .await;
    assert_eq!(s, 202, "{queued}");
    let done = last_sent(p, &id, "succeeded").await;
    let out = &done["messages"][1]["outbound"];
    let outcomes: Vec<_> = out["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["retrying", "succeeded"], "{done}");
    assert_eq!(done["state"], "answered");
    let on_ml = ml.sim.question(q).unwrap();
    assert_eq!(on_ml["status"], "ANSWERED");
    assert_eq!(on_ml["answer"]["text"], "Temos sim!");

    // ML notifies the answered question (and again, duplicated): one ticket, the
    // answer once.
    let body = json!({"resource": format!("/questions/{q}"), "user_id": ml.sim.config().seller_id.parse::<u64>().unwrap(),
                      "topic": "questions", "application_id": ml.sim.config().client_id.parse::<u64>().unwrap()});
    let url = format!("{}/webhooks/{channel}", p.base);
    for _ in 0..2 {
        let r = p.http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    p.settle(WAIT).await;
    let t = ticket(p, "question", 2).await;
    assert_eq!(t["state"], "answered");

    // ML keeps no second answer: a close is not the seller's to make.
    let (s, r) = p
        .post(&format!("/api/v1/tickets/{id}/close"), &json!({}))
        .await;
    assert_eq!(
        (s, r["code"].as_str()),
        (409, Some("ticket_close_unsupported")),
        "{r}"
    );
}

async fn pack_conversation(p: &Ponte, ml: &Ml) {
    let order = ml.sim.create_order(NewMlOrder::default());
    let o = imported(p, &order.to_string(), WAIT).await;
    // An order without a pack: its pack id is the order id.
    ml.sim.buyer_message(order, "Quando chega?");
    let t = ticket(p, "message", 1).await;
    assert_eq!(t["order_id"], o["id"], "linked to its order: {t}");
    let id = id_of(&t);
    let (s, r) = p
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            &json!({"text": "Chega amanhã."}),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let done = last_sent(p, &id, "succeeded").await;
    assert_eq!(done["state"], "answered");
    let on_ml = ml.sim.pack_messages(order);
    assert_eq!(on_ml.len(), 2);
    assert_eq!(on_ml[1]["text"], "Chega amanhã.");
    assert_eq!(
        done["messages"][1]["external_id"], on_ml[1]["id"],
        "the platform's id kept"
    );
    // The buyer writes again: the same ticket, open again, with all three.
    ml.sim.buyer_message(order, "Obrigado");
    let t = ticket(p, "message", 3).await;
    assert_eq!(t["state"], "open");
    let by_order = p
        .get(&format!(
            "/api/v1/tickets?order_id={}",
            o["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_order["items"].as_array().unwrap().len(), 1);

    // A message ML refuses (the buyer blocked the conversation) fails without
    // retries and is listed as failed.
    ml.sim.block_pack(order);
    let (s, _) = p
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            &json!({"text": "Mais uma coisa"}),
        )
        .await;
    assert_eq!(s, 202);
    let failed = last_sent(p, &id, "failed").await;
    let out = &failed["messages"].as_array().unwrap().last().unwrap()["outbound"];
    assert_eq!(out["attempts"].as_array().unwrap().len(), 1, "{failed}");
    assert_eq!(out["last_error"]["code"], "platform_rejected", "{failed}");
    let errors = p.get("/api/v1/tickets?failed_answers=true").await;
    assert_eq!(errors["items"].as_array().unwrap().len(), 1, "{errors}");
    assert_eq!(errors["items"][0]["id"], failed["id"]);
}

async fn claim(p: &Ponte, ml: &Ml) {
    let order = ml.sim.create_order(NewMlOrder::default());
    let o = imported(p, &order.to_string(), WAIT).await;
    let c = ml.sim.open_claim(order, "PDD9939", "O produto não chegou");
    let t = ticket(p, "claim", 1).await;
    assert_eq!(t["order_id"], o["id"]);
    assert_eq!(t["external_id"], format!("claim:{c}"));
    let id = id_of(&t);
    let (s, _) = p
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            &json!({"text": "Vamos reenviar."}),
        )
        .await;
    assert_eq!(s, 202);
    last_sent(p, &id, "succeeded").await;
    let on_ml = ml.sim.claim_messages(c);
    assert_eq!(on_ml[1]["sender_role"], "respondent");
    assert_eq!(on_ml[1]["message"], "Vamos reenviar.");
    // The platform closes it (its resolution): closed in ponte, no more answers.
    ml.sim.close_claim(c);
    until(WAIT, "claim closed", || async {
        let t = p.get(&format!("/api/v1/tickets/{id}")).await;
        (t["state"] == "closed").then_some(())
    })
    .await;
    let (s, r) = p
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            &json!({"text": "?"}),
        )
        .await;
    assert_eq!((s, r["code"].as_str()), (409, Some("ticket_closed")), "{r}");
}

async fn not_from_a_channel(p: &Ponte) {
    let (s, t) = p
        .post(
            "/api/v1/tickets",
            &json!({"kind": "claim", "subject": "Ligação do cliente", "text": "Quero trocar"}),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    assert!(t["channel_id"].is_null());
    let id = id_of(&t);
    let (s, r) = p
        .post(
            &format!("/api/v1/tickets/{id}/messages"),
            &json!({"text": "Tudo bem"}),
        )
        .await;
    assert_eq!(
        (s, r["code"].as_str()),
        (409, Some("ticket_not_from_channel")),
        "{r}"
    );
    let (s, r) = p
        .post(&format!("/api/v1/tickets/{id}/close"), &json!({}))
        .await;
    assert_eq!(
        (s, r["code"].as_str()),
        (409, Some("ticket_not_from_channel")),
        "{r}"
    );
    let t = p.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(t["messages"].as_array().unwrap().len(), 1, "nothing queued");
}

async fn sac(backend: Backend) {
    let storage = Storage::new(backend).await;
    let (p, ml, channel) = start(&storage).await;
    question_answered(&p, &ml, &channel).await;
    pack_conversation(&p, &ml).await;
    claim(&p, &ml).await;
    not_from_a_channel(&p).await;
    ml.server.shutdown().await;
}

both_backends!(sac);
