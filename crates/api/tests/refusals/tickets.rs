//! SAC tickets: a missing ticket has the same code on every route that names it; a
//! ticket recorded in ponte is never answered or closed on a channel; a closed one
//! takes nothing more; a close the platform does not allow is refused; a refusal
//! queues nothing.

use crate::fixtures::World;
use crate::harness::{covered, unknown_id, Covered};
use chrono::Utc;
use ponte_core::ticket::{Author, FetchedMessage, FetchedTicket, TicketKind, TicketState};
use ponte_core::ChannelId;
use ponte_core::ErrorCode as E;
use serde_json::json;

pub fn covers() -> Vec<Covered> {
    covered(&[
        ("post", "/api/v1/tickets", E::ValidationFailed),
        ("post", "/api/v1/tickets", E::OrderNotFound),
        ("get", "/api/v1/tickets/{id}", E::TicketNotFound),
        ("post", "/api/v1/tickets/{id}/messages", E::TicketNotFound),
        ("post", "/api/v1/tickets/{id}/messages", E::ValidationFailed),
        (
            "post",
            "/api/v1/tickets/{id}/messages",
            E::TicketNotFromChannel,
        ),
        ("post", "/api/v1/tickets/{id}/messages", E::TicketClosed),
        ("post", "/api/v1/tickets/{id}/close", E::TicketNotFound),
        (
            "post",
            "/api/v1/tickets/{id}/close",
            E::TicketNotFromChannel,
        ),
        ("post", "/api/v1/tickets/{id}/close", E::TicketClosed),
        (
            "post",
            "/api/v1/tickets/{id}/close",
            E::TicketCloseUnsupported,
        ),
        (
            "post",
            "/api/v1/tickets/{id}/messages/{message_id}/resend",
            E::TicketNotFound,
        ),
    ])
}

/// A channel's ticket, stored as an import would.
async fn channel_ticket(w: &World, external_id: &str, state: TicketState) -> String {
    let channel: ChannelId = w.channel.parse().unwrap();
    let tenant = w.api.engine.default_tenant();
    let fetched = FetchedTicket {
        external_id: external_id.into(),
        kind: TicketKind::Question,
        state,
        order_ref: None,
        subject: "Anúncio".into(),
        messages: vec![FetchedMessage {
            external_id: "m1".into(),
            author: Author::Customer,
            text: "Tem azul?".into(),
            at: Utc::now(),
            attachments: vec![],
        }],
        updated_at: None,
    };
    let t = w
        .api
        .engine
        .store()
        .upsert_ticket(tenant, channel, "", &fetched, Utc::now())
        .await
        .unwrap();
    t.id.to_string()
}

#[tokio::test]
async fn a_missing_ticket_is_ticket_not_found_everywhere() {
    let w = World::new().await;
    for id in [unknown_id(), "nope".to_owned()] {
        let api = &w.api;
        api.refuses(
            "GET",
            &format!("/api/v1/tickets/{id}"),
            None,
            E::TicketNotFound,
        )
        .await;
        let path = format!("/api/v1/tickets/{id}/messages");
        api.refuses("POST", &path, Some(json!({"text": "x"})), E::TicketNotFound)
            .await;
        let path = format!("/api/v1/tickets/{id}/close");
        api.refuses("POST", &path, None, E::TicketNotFound).await;
        let path = format!("/api/v1/tickets/{id}/messages/{}/resend", unknown_id());
        api.refuses("POST", &path, None, E::TicketNotFound).await;
    }
}

#[tokio::test]
async fn a_new_ticket_needs_its_fields_and_a_known_order() {
    let w = World::new().await;
    let ok = json!({"kind": "claim", "subject": "Ligação", "text": "Quero trocar"});
    for (field, value) in [("subject", json!(" ")), ("text", json!(""))] {
        let mut body = ok.clone();
        body[field] = value;
        w.api
            .refuses("POST", "/api/v1/tickets", Some(body), E::ValidationFailed)
            .await;
    }
    let mut body = ok.clone();
    body["order_id"] = json!(unknown_id());
    w.api
        .refuses("POST", "/api/v1/tickets", Some(body), E::OrderNotFound)
        .await;
}

#[tokio::test]
async fn only_open_channel_tickets_take_answers_and_closes() {
    let w = World::new().await;
    let api = &w.api;
    let (s, local) = {
        let r = api
            .call(
                "POST",
                "/api/v1/tickets",
                Some(&json!({"kind": "message", "subject": "E-mail", "text": "Oi"})),
            )
            .await;
        (r.status, r.body)
    };
    assert_eq!(s, 201, "{local}");
    let local = local["id"].as_str().unwrap().to_owned();
    let answer = Some(json!({"text": "Olá"}));
    let path = format!("/api/v1/tickets/{local}/messages");
    api.refuses("POST", &path, answer.clone(), E::TicketNotFromChannel)
        .await;
    let path = format!("/api/v1/tickets/{local}/close");
    api.refuses("POST", &path, None, E::TicketNotFromChannel)
        .await;

    let open = channel_ticket(&w, "question:1", TicketState::Open).await;
    let path = format!("/api/v1/tickets/{open}/messages");
    for text in ["", &"a".repeat(2001)] {
        api.refuses(
            "POST",
            &path,
            Some(json!({ "text": text })),
            E::ValidationFailed,
        )
        .await;
    }
    let path = format!("/api/v1/tickets/{open}/close");
    api.refuses("POST", &path, None, E::TicketCloseUnsupported)
        .await;

    let closed = channel_ticket(&w, "question:2", TicketState::Closed).await;
    let path = format!("/api/v1/tickets/{closed}/messages");
    api.refuses("POST", &path, answer, E::TicketClosed).await;
    let path = format!("/api/v1/tickets/{closed}/close");
    api.refuses("POST", &path, None, E::TicketClosed).await;
}
