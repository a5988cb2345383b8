//! Conformance: SAC tickets.

use super::{import, mapped, setup, t0};
use crate::*;
use chrono::Duration as CDuration;
use ponte_core::ticket::{Author, FetchedMessage, FetchedTicket, TicketKind, TicketState};
use ponte_core::{ErrorCode, OrderStatus, TicketId, TicketMessageId};
use std::time::Duration;

fn msg(id: &str, author: Author, secs: i64) -> FetchedMessage {
    FetchedMessage {
        external_id: id.into(),
        author,
        text: format!("text {id}"),
        at: t0() + CDuration::seconds(secs),
        attachments: vec![],
    }
}

fn pack(messages: Vec<FetchedMessage>, state: TicketState, secs: i64) -> FetchedTicket {
    FetchedTicket {
        external_id: "pack:77".into(),
        kind: TicketKind::Message,
        state,
        order_ref: Some("91".into()),
        subject: "Pedido 91".into(),
        messages,
        updated_at: Some(t0() + CDuration::seconds(secs)),
    }
}

fn answer(text: &str) -> TicketChange {
    TicketChange::Queue {
        message: TicketMessage {
            id: TicketMessageId::new(),
            external_id: None,
            author: Author::Seller,
            text: text.into(),
            at: t0(),
            attachments: vec![],
            outbound: Some(Outbound {
                action: OutboundAction::Answer,
                state: SendState::Pending,
                attempts_used: 0,
                max_attempts: 2,
                last_error: None,
                attempts: vec![],
            }),
        },
        max_attempts: 2,
    }
}

/// A successful attempt of message `id`.
fn done_like(id: TicketMessageId) -> TicketSendResult {
    TicketSendResult {
        message_id: id,
        started_at: t0(),
        outcome: AttemptOutcome::Succeeded,
        request: Some("POST /answers".into()),
        http_status: Some(400),
        response: None,
        duration_ms: 3,
        error: None,
        external_id: None,
    }
}

/// A ticket read again, duplicated or out of order, is one ticket with every message
/// once and the newest state; its order is linked.
pub async fn tickets_converge_and_link_their_order(s: &impl Store) {
    let (t, c) = setup(s).await;
    let ImportApplied::Created(o) =
        import(s, t, c, mapped("91", OrderStatus::Approved, t0()), t0()).await
    else {
        panic!("not created")
    };
    let first = pack(vec![msg("m1", Author::Customer, 1)], TicketState::Open, 1);
    let a = s.upsert_ticket(t, c, "", &first, t0()).await.unwrap();
    assert_eq!(a.order_id, Some(o));
    let newer = pack(
        vec![msg("m2", Author::Seller, 2), msg("m1", Author::Customer, 1)],
        TicketState::Answered,
        2,
    );
    s.upsert_ticket(t, c, "", &newer, t0()).await.unwrap();
    s.upsert_ticket(t, c, "", &newer, t0()).await.unwrap();
    // An older read arrives late: no field goes back.
    let b = s.upsert_ticket(t, c, "", &first, t0()).await.unwrap();
    assert_eq!(b.id, a.id);
    assert_eq!(b.state, TicketState::Answered);
    let ids: Vec<_> = b.messages.iter().map(|m| m.external_id.clone()).collect();
    assert_eq!(ids, [Some("m1".into()), Some("m2".into())]);
    let listed = s
        .tickets(
            t,
            &TicketFilter {
                order_id: Some(o),
                kind: Some(TicketKind::Message),
                ..TicketFilter::default()
            },
            50,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let none = TicketFilter {
        state: Some(TicketState::Closed),
        ..TicketFilter::default()
    };
    assert!(s.tickets(t, &none, 50).await.unwrap().is_empty());
    assert_eq!(s.ticket(t, a.id).await.unwrap().unwrap(), b);
}

/// An answer is queued with its send job; attempts are recorded; a ticket recorded in
/// ponte refuses one (`ticket_not_from_channel`), a closed one too.
pub async fn answers_are_sends_and_local_tickets_refuse_them(s: &impl Store) {
    let (t, c) = setup(s).await;
    let tk = s
        .upsert_ticket(
            t,
            c,
            "",
            &pack(vec![msg("m1", Author::Customer, 1)], TicketState::Open, 1),
            t0(),
        )
        .await
        .unwrap();
    let q = answer("Olá");
    let TicketChange::Queue { message, .. } = &q else {
        unreachable!()
    };
    let after = s.change_ticket(t, tk.id, &q, t0()).await.unwrap().unwrap();
    let after = after.unwrap();
    assert_eq!(after.next_outbound().map(|m| m.id), Some(message.id));
    let jobs = s
        .claim_jobs(
            "w",
            &[TICKET_SEND_JOB_KIND],
            10,
            t0(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "its send job");
    // An attempt begun by a process that died during the call becomes interrupted (and
    // counts) when the next one begins; a result takes its attempt's `started` place.
    let start = TicketChange::Started {
        message_id: message.id,
        started_at: t0(),
    };
    s.change_ticket(t, tk.id, &start, t0()).await.unwrap();
    let twice = s
        .change_ticket(t, tk.id, &start, t0())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let o = twice.messages.last().unwrap().outbound.as_ref().unwrap();
    let outcomes: Vec<AttemptOutcome> = o.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::Interrupted, AttemptOutcome::Started]
    );
    assert_eq!(o.attempts_used, 1);
    let done = TicketSendResult {
        message_id: message.id,
        started_at: t0(),
        outcome: AttemptOutcome::Succeeded,
        request: Some("POST /answers".into()),
        http_status: Some(200),
        response: None,
        duration_ms: 3,
        error: None,
        external_id: Some("m9".into()),
    };
    let sent = s
        .change_ticket(t, tk.id, &TicketChange::Attempted(done), t0())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(sent.state, TicketState::Answered);
    assert!(sent.next_outbound().is_none());
    let out = sent.messages.last().unwrap();
    assert_eq!(out.external_id.as_deref(), Some("m9"));
    let outcomes: Vec<AttemptOutcome> = out
        .outbound
        .as_ref()
        .unwrap()
        .attempts
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::Interrupted, AttemptOutcome::Succeeded]
    );

    // An answer refused for good is listed with the failed ones until resent.
    let second = answer("De novo");
    let TicketChange::Queue { message: m2, .. } = &second else {
        unreachable!()
    };
    s.change_ticket(t, tk.id, &second, t0()).await.unwrap();
    let refused = TicketSendResult {
        message_id: m2.id,
        outcome: AttemptOutcome::Failed,
        error: Some(SendError {
            code: "platform_rejected".into(),
            message: "blocked".into(),
        }),
        external_id: None,
        ..match TicketChange::Attempted(done_like(m2.id)) {
            TicketChange::Attempted(r) => r,
            _ => unreachable!(),
        }
    };
    s.change_ticket(t, tk.id, &TicketChange::Attempted(refused), t0())
        .await
        .unwrap();
    let failed = TicketFilter {
        failed_answers: true,
        ..TicketFilter::default()
    };
    assert_eq!(s.tickets(t, &failed, 50).await.unwrap().len(), 1);
    let again = s
        .change_ticket(t, tk.id, &TicketChange::Resend(m2.id), t0())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(again.next_outbound().map(|m| m.id), Some(m2.id));
    assert!(s.tickets(t, &failed, 50).await.unwrap().is_empty());

    let local = Ticket {
        tenant_id: t,
        id: TicketId::new(),
        channel_id: None,
        external_id: None,
        kind: TicketKind::Claim,
        state: TicketState::Open,
        order_id: None,
        order_ref: None,
        subject: "Telefone".into(),
        messages: vec![],
        platform_updated_at: None,
        created_at: t0(),
        updated_at: t0(),
    };
    s.insert_ticket(&local).await.unwrap();
    let refused = s
        .change_ticket(t, local.id, &answer("x"), t0())
        .await
        .unwrap();
    assert_eq!(refused, Some(Err(ErrorCode::TicketNotFromChannel)));
    let missing = s
        .change_ticket(t, TicketId::new(), &answer("x"), t0())
        .await
        .unwrap();
    assert_eq!(missing, None);
    let closed = pack(vec![], TicketState::Closed, 5);
    s.upsert_ticket(t, c, "", &closed, t0()).await.unwrap();
    let refused = s.change_ticket(t, tk.id, &answer("y"), t0()).await.unwrap();
    assert_eq!(refused, Some(Err(ErrorCode::TicketClosed)));
}
