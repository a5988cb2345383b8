//! Atendimento (SAC) and the order's tracking, in process: the tickets page lists a
//! channel's ticket; its page takes an answer (an empty one is refused with the code's
//! message, 422), shows the answer's attempts and a resend once it failed (Nuvemshop
//! has no SAC API); a ticket recorded in ponte shows no answer form; the order page
//! shows the carriers' tracking events and links to the order's tickets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use chrono::Utc;
use common::{form, loopback, wait_for, App, Shop};
use ponte_core::ticket::{Author, FetchedMessage, FetchedTicket, TicketKind, TicketState};
use ponte_store::{PolledEvent, TrackingPoll};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_are_answered_and_the_order_shows_its_tracking() {
    let app = App::with(loopback(None), false).await;
    let (session, csrf) = app.sign_in().await;
    let shop = Shop::open(&app, serde_json::json!({})).await;
    let order = shop.order(&app, true, &[("CAMISETA-P", 1)]).await;
    let store = app.engine.store();
    let o = store.order(app.tenant(), order).await.unwrap().unwrap();

    let poll = TrackingPoll {
        order_id: order,
        channel_id: shop.channel,
        external_id: o.data.external_id.clone(),
        events: vec![PolledEvent {
            key: "BDE/01@1".into(),
            at: Utc::now(),
            detail: serde_json::json!({"carrier": "correios", "tracking_code": "AA123456789BR",
                "event": "BDE", "description": "Objeto entregue ao destinatário",
                "location": "Porto Alegre - RS", "outcome": "delivered"}),
        }],
    };
    store
        .record_tracking(app.tenant(), &[poll], Utc::now())
        .await
        .unwrap();
    let page = app
        .get(&format!("/console/orders/{order}"), &[&session])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Rastreamento",
        "Objeto entregue ao destinatário",
        "Porto Alegre - RS",
        "Entregue",
        &format!("/console/tickets?order_id={order}"),
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }

    let fetched = FetchedTicket {
        external_id: "question:1".into(),
        kind: TicketKind::Question,
        state: TicketState::Open,
        order_ref: Some(o.data.external_id.clone()),
        subject: "Dúvida sobre a camiseta".into(),
        messages: vec![FetchedMessage {
            external_id: "1:question".into(),
            author: Author::Customer,
            text: "Serve em P?".into(),
            at: Utc::now(),
            attachments: vec![],
        }],
        updated_at: None,
    };
    let t = store
        .upsert_ticket(app.tenant(), shop.channel, "", &fetched, Utc::now())
        .await
        .unwrap();
    let list = app
        .get(&format!("/console/tickets?order_id={order}"), &[&session])
        .await;
    assert!(
        list.body.contains("Dúvida sobre a camiseta"),
        "{}",
        list.body
    );
    let path = format!("/console/tickets/{}", t.id);
    let page = app.get(&path, &[&session]).await;
    assert!(page.body.contains("answer-form"), "{}", page.body);

    let answer = format!("/console/tickets/{}/answer", t.id);
    let r = app
        .post(
            &answer,
            &[&session],
            &form(&[("csrf", &csrf), ("text", " ")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    r.refused_at("answer", "");
    let r = app
        .post(
            &answer,
            &[&session],
            &form(&[("csrf", &csrf), ("text", "Serve sim")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("{path}?queued=1"));
    // Nuvemshop has no SAC API: the answer fails for good, shown with a resend.
    wait_for(|| async {
        app.get(&path, &[&session])
            .await
            .body
            .contains("id=\"resend-")
    })
    .await;
    let t = store.ticket(app.tenant(), t.id).await.unwrap().unwrap();
    let out = t.messages[1].outbound.as_ref().unwrap();
    assert_eq!(
        out.last_error.as_ref().map(|e| e.code.as_str()),
        Some("platform_rejected")
    );
    let errors = app.get("/console/errors", &[&session]).await;
    assert!(
        errors.body.contains("/console/tickets?failed_answers=1"),
        "{}",
        errors.body
    );
    let resend = format!(
        "/console/tickets/{}/messages/{}/resend",
        t.id, t.messages[1].id
    );
    let r = app
        .post(&resend, &[&session], &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(r.location(), format!("{path}?resent=1"));
    let r = app
        .post(&resend, &[&session], &form(&[("csrf", "forged")]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let local = app
        .engine
        .create_ticket(
            app.tenant(),
            TicketKind::Claim,
            "Ligação",
            "Quer trocar",
            None,
        )
        .await
        .unwrap();
    let page = app
        .get(&format!("/console/tickets/{}", local.id), &[&session])
        .await;
    assert!(page.body.contains("not-from-channel"), "{}", page.body);
    assert!(!page.body.contains("answer-form"));
}
