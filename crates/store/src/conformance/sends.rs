//! Conformance: ERP actions and status sends.

use super::{import, mapped, page_of, setup, t0};
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::action::*;
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use std::time::Duration;

const KEY: &str = "43180906929383000163550010000000261000010301";

/// A separation action.
pub fn separation() -> Action {
    Action::Separation(Separation {
        kind: SeparationKind::Separation,
    })
}

/// An invoice action (the fixture NF-e's key).
pub fn invoice() -> Action {
    Action::Invoice(Invoice {
        number: "26".into(),
        series: "1".into(),
        access_key: ponte_core::nfe::NfeKey::parse(KEY).unwrap(),
        issued_at: t0(),
        total_cents: 3980,
        xml_url: None,
        has_xml: true,
    })
}

/// A shipment action with a tracking code.
pub fn shipment() -> Action {
    Action::Shipment(Shipment {
        tracking_code: Some("BR1".into()),
        tracking_url: None,
        carrier: None,
        shipped_at: t0(),
    })
}

async fn paid_order(s: &impl Store) -> (TenantId, ChannelId, OrderId) {
    let (t, c) = setup(s).await;
    let ImportApplied::Created(o) =
        import(s, t, c, mapped("77", OrderStatus::Approved, t0()), t0()).await
    else {
        panic!("not created")
    };
    (t, c, o)
}

/// An action on order `o`; `send` asks for its status send (3 attempts).
pub fn act(t: TenantId, o: OrderId, action: Action, send: bool) -> ActionCommit {
    ActionCommit {
        tenant_id: t,
        order_id: o,
        action,
        xml: None,
        send_max_attempts: send.then_some(3),
        not_sent: (!send).then_some(ponte_core::automation::NotSent::AutomationOff(
            "order_updates",
        )),
    }
}

/// Applies one action (a batch of one).
pub async fn apply(
    s: &impl Store,
    c: &ActionCommit,
    now: DateTime<Utc>,
) -> StoreResult<ActionApplied> {
    Ok(s.apply_actions(std::slice::from_ref(c), now)
        .await?
        .remove(0))
}

/// Claims every due send job for `owner`, with its payload.
pub async fn claim(s: &impl Store, owner: &str, now: DateTime<Utc>) -> Vec<(JobLease, SendJob)> {
    s.claim_jobs(owner, &[SEND_JOB_KIND], 100, now, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .map(|j| {
            let lease = JobLease {
                job_id: j.id,
                owner: j.lease_owner.clone(),
            };
            (lease, serde_json::from_value(j.payload).unwrap())
        })
        .collect()
}

/// The send a begin started (panics otherwise).
pub fn started(b: &SendBegin) -> &StatusSend {
    match b {
        SendBegin::Started(s) => s,
        other => panic!("expected a started send, got {other:?}"),
    }
}

/// How an attempt ended (a failure carries HTTP 500 `platform_unavailable`).
pub fn finish(lease: &JobLease, send: &StatusSend, outcome: SendOutcome) -> SendFinish {
    let failed = !matches!(outcome, SendOutcome::Succeeded);
    SendFinish {
        lease: lease.clone(),
        tenant_id: send.tenant_id,
        send_id: send.id,
        n: send.attempts[0].n,
        request: Some("POST /orders/77/pack".into()),
        http_status: Some(if failed { 500 } else { 200 }),
        response: Some("{}".into()),
        duration_ms: 12,
        error: failed.then(|| SendError {
            code: "platform_unavailable".into(),
            message: "HTTP 500".into(),
        }),
        outcome,
        extra_calls: None,
    }
}

/// Runs one begin/finish round for every due send job; returns what each began.
pub async fn round(s: &impl Store, now: DateTime<Utc>, outcome: SendOutcome) -> Vec<StatusSend> {
    let jobs = claim(s, "w", now).await;
    let begun = s.begin_sends(&jobs, now).await.unwrap();
    let mut sent = vec![];
    let mut fin = vec![];
    for ((lease, _), b) in jobs.iter().zip(&begun) {
        if let SendBegin::Started(send) = b {
            fin.push(finish(lease, send, outcome.clone()));
            sent.push((**send).clone());
        }
    }
    let ok = s.finish_sends(&fin, now).await.unwrap();
    assert!(ok.iter().all(|b| *b));
    sent
}

pub(super) async fn sends_of(s: &impl Store, t: TenantId, o: OrderId) -> Vec<StatusSend> {
    let f = SendFilter {
        order_id: Some(o),
        ..SendFilter::default()
    };
    let mut v = s.status_sends(t, &f, &page_of(100)).await.unwrap().items;
    v.sort_by_key(|x| x.seq);
    v
}

pub async fn actions_are_decided_and_recorded(s: &impl Store) {
    let (t, c, o) = paid_order(s).await;
    let missing = act(t, OrderId::new(), separation(), true);
    assert_eq!(
        apply(s, &missing, t0()).await.unwrap(),
        ActionApplied::NotFound
    );
    let refused = act(
        t,
        o,
        Action::Delivery(ponte_core::action::Delivery { delivered_at: t0() }),
        true,
    );
    assert_eq!(
        apply(s, &refused, t0()).await.unwrap(),
        ActionApplied::Refused(ActionError::NotShipped)
    );
    let before = s.order(t, o).await.unwrap().unwrap();
    let mut inv = act(t, o, invoice(), true);
    inv.xml = Some("<nfeProc/>".into());
    let ActionApplied::Applied { order, send } = apply(s, &inv, t0()).await.unwrap() else {
        panic!("not applied")
    };
    // Stored as returned: the new status (column and data), the rest of the data as it was.
    let stored = s.order(t, o).await.unwrap().unwrap();
    let mut expected = before.data.clone();
    expected.status = OrderStatus::Invoiced;
    assert_eq!(stored.data, expected);
    assert_eq!(stored.data, order.data);
    assert_eq!(stored.fulfilment, order.fulfilment);
    let listed = s
        .orders(
            t,
            &OrderFilter {
                status: Some(OrderStatus::Invoiced),
                ..OrderFilter::default()
            },
            &page_of(10),
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "found by its new status");
    assert_eq!(order.data.status, OrderStatus::Invoiced);
    assert_eq!(
        order.fulfilment.invoice.as_ref().map(|i| i.number.as_str()),
        Some("26")
    );
    assert!(send.is_some());
    assert_eq!(
        s.invoice_xml(t, o).await.unwrap().as_deref(),
        Some("<nfeProc/>")
    );
    assert_eq!(s.invoice_xml(TenantId::new(), o).await.unwrap(), None);
    // The same call again is one event: no second send.
    assert!(matches!(
        apply(s, &inv, t0()).await.unwrap(),
        ActionApplied::AlreadyDone(_)
    ));
    assert_eq!(sends_of(s, t, o).await.len(), 1);
    // The stored order shows it; the timeline has the action.
    let stored = s.order(t, o).await.unwrap().unwrap();
    assert_eq!(stored.data.status, OrderStatus::Invoiced);
    assert!(stored.fulfilment.invoice.is_some());
    let tl = s.timeline(t, c, "77").await.unwrap();
    assert!(tl.iter().any(|e| e.kind == "erp_action"));
    // A late, older platform snapshot does not move the status back.
    let mut late = mapped("77", OrderStatus::Approved, t0() + CDuration::seconds(5));
    late.data.number = Some("late".into());
    import(s, t, c, late, t0() + CDuration::seconds(5)).await;
    let stored = s.order(t, o).await.unwrap().unwrap();
    assert_eq!(stored.data.status, OrderStatus::Invoiced);
    assert!(
        stored.fulfilment.invoice.is_some(),
        "imports keep the ERP's facts"
    );
    // No send when the automation is off.
    let ActionApplied::Applied { send, .. } =
        apply(s, &act(t, o, shipment(), false), t0()).await.unwrap()
    else {
        panic!("not applied")
    };
    assert_eq!(send, None);
    let tl = s.timeline(t, c, "77").await.unwrap();
    let last = tl.iter().rev().find(|e| e.kind == "erp_action").unwrap();
    assert_eq!(
        last.detail["not_sent"]["code"], "automation_off",
        "the history says why nothing was sent: {}",
        last.detail
    );
}

pub async fn sends_go_out_in_order_and_record_attempts(s: &impl Store) {
    let (t, _c, o) = paid_order(s).await;
    for a in [separation(), invoice(), shipment()] {
        apply(s, &act(t, o, a, true), t0()).await.unwrap();
    }
    let all = sends_of(s, t, o).await;
    assert_eq!(all.iter().map(|x| x.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(all.iter().all(|x| x.state == SendState::Pending));
    // One job for the order; each round sends the next one in order.
    let mut kinds = vec![];
    for i in 0..3 {
        let sent = round(s, t0() + CDuration::seconds(i), SendOutcome::Succeeded).await;
        assert_eq!(sent.len(), 1, "one send at a time per order");
        assert_eq!(sent[0].attempts[0].outcome, AttemptOutcome::Started);
        kinds.push(sent[0].kind());
    }
    assert_eq!(
        kinds,
        [
            ActionKind::Separation,
            ActionKind::Invoice,
            ActionKind::Shipment
        ]
    );
    assert!(
        claim(s, "w", t0() + CDuration::seconds(10))
            .await
            .is_empty(),
        "job done"
    );
    let all = sends_of(s, t, o).await;
    for x in &all {
        assert_eq!(x.state, SendState::Succeeded);
        assert_eq!(x.attempts_used, 1);
        assert_eq!(x.attempts.len(), 1);
        let a = &x.attempts[0];
        assert_eq!(a.outcome, AttemptOutcome::Succeeded);
        assert_eq!((a.http_status, a.duration_ms), (Some(200), Some(12)));
        assert_eq!(a.request.as_deref(), Some("POST /orders/77/pack"));
    }
    let one = s.status_send(t, all[0].id).await.unwrap().unwrap();
    assert_eq!(one, all[0]);
}

pub async fn attempts_failures_block_and_resend(s: &impl Store) {
    let (t, c, o) = paid_order(s).await;
    apply(s, &act(t, o, separation(), true), t0())
        .await
        .unwrap();
    apply(s, &act(t, o, invoice(), true), t0()).await.unwrap();
    let mut now = t0();
    // A 429 does not use an attempt; a transient error does.
    let jobs = claim(s, "w", now).await;
    let b = s.begin_sends(&jobs, now).await.unwrap();
    let later = now + CDuration::seconds(7);
    s.finish_sends(
        &[finish(
            &jobs[0].0,
            started(&b[0]),
            SendOutcome::RateLimited { run_at: later },
        )],
        now,
    )
    .await
    .unwrap();
    assert!(claim(s, "w", now).await.is_empty(), "waits for Retry-After");
    now = later;
    for _ in 0..2 {
        let sent = round(
            s,
            now,
            SendOutcome::Retry {
                run_at: now + CDuration::seconds(2),
            },
        )
        .await;
        assert_eq!(sent.len(), 1);
        now += CDuration::seconds(2);
    }
    let first = &sends_of(s, t, o).await[0];
    assert_eq!((first.state, first.attempts_used), (SendState::Pending, 2));
    assert_eq!(first.attempts.len(), 3);
    assert_eq!(first.attempts[0].outcome, AttemptOutcome::RateLimited);
    assert_eq!(
        first.last_error.as_ref().map(|e| e.code.as_str()),
        Some("platform_unavailable")
    );
    // The last attempt fails: the send is failed and the next one blocked.
    round(s, now, SendOutcome::Failed).await;
    let all = sends_of(s, t, o).await;
    assert_eq!((all[0].state, all[0].attempts_used), (SendState::Failed, 3));
    assert_eq!(all[1].state, SendState::Blocked);
    assert!(claim(s, "w", now + CDuration::seconds(60)).await.is_empty());
    // A new action while an earlier send failed is blocked too.
    apply(s, &act(t, o, shipment(), true), now).await.unwrap();
    assert_eq!(sends_of(s, t, o).await[2].state, SendState::Blocked);
    assert!(
        claim(s, "w", now).await.is_empty(),
        "blocked sends do not run"
    );
    let failed = SendFilter {
        state: Some(SendState::Failed),
        ..SendFilter::default()
    };
    let errors = s.status_sends(t, &failed, &page_of(10)).await.unwrap();
    assert_eq!(errors.items.len(), 1);
    // Resending a non-failed send does nothing; resending the failed one releases the rest.
    assert!(s
        .resend(t, &ResendSelector::Ids(vec![all[1].id]), now)
        .await
        .unwrap()
        .is_empty());
    let resent = s
        .resend(t, &ResendSelector::AllFailed(c), now)
        .await
        .unwrap();
    assert_eq!(resent, vec![all[0].id]);
    let all = sends_of(s, t, o).await;
    assert!(all.iter().all(|x| x.state == SendState::Pending));
    assert_eq!(all[0].attempts_used, 0, "a fresh attempt budget");
    assert_eq!(all[0].attempts.len(), 4, "history kept");
    for i in 0..3 {
        let sent = round(s, now + CDuration::seconds(i), SendOutcome::Succeeded).await;
        assert_eq!(sent[0].id, all[i as usize].id);
        if i == 0 {
            assert_eq!(sent[0].attempts[0].n, 5, "attempt numbers continue");
        }
    }
    let all = sends_of(s, t, o).await;
    assert!(all
        .iter()
        .all(|x| x.state == SendState::Succeeded && x.last_error.is_none()));
}

pub async fn crashes_and_leases(s: &impl Store) {
    let (t, c, o) = paid_order(s).await;
    apply(s, &act(t, o, separation(), true), t0())
        .await
        .unwrap();
    let jobs = claim(s, "dead", t0()).await;
    let b = s.begin_sends(&jobs, t0()).await.unwrap();
    let n1 = started(&b[0]).attempts[0].n;
    // The worker dies during the call; the lease expires and another worker takes it.
    let later = t0() + CDuration::seconds(60);
    assert_eq!(s.reap_expired(later).await.unwrap(), 1);
    let jobs2 = claim(s, "alive", later).await;
    let b2 = s.begin_sends(&jobs2, later).await.unwrap();
    let send = started(&b2[0]);
    assert_eq!(send.attempts[0].n, n1 + 1);
    // The dead worker's late result is refused.
    let late = s
        .finish_sends(
            &[finish(&jobs[0].0, started(&b[0]), SendOutcome::Succeeded)],
            later,
        )
        .await
        .unwrap();
    assert_eq!(late, vec![false]);
    assert_eq!(
        s.begin_sends(&jobs, later).await.unwrap(),
        vec![SendBegin::LeaseLost]
    );
    s.finish_sends(&[finish(&jobs2[0].0, send, SendOutcome::Succeeded)], later)
        .await
        .unwrap();
    let x = &sends_of(s, t, o).await[0];
    assert_eq!(x.state, SendState::Succeeded);
    let outcomes: Vec<_> = x.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::Interrupted, AttemptOutcome::Succeeded]
    );
    assert_eq!(x.attempts_used, 2, "the interrupted attempt counts");
    // Crashing through every attempt fails the send (and says why).
    apply(s, &act(t, o, invoice(), true), later).await.unwrap();
    let mut now = later;
    for _ in 0..3 {
        let jobs = claim(s, "dead", now).await;
        s.begin_sends(&jobs, now).await.unwrap();
        now += CDuration::seconds(60);
        s.reap_expired(now).await.unwrap();
    }
    let jobs = claim(s, "w", now).await;
    assert_eq!(
        s.begin_sends(&jobs, now).await.unwrap(),
        vec![SendBegin::Idle]
    );
    let x = &sends_of(s, t, o).await[1];
    assert_eq!((x.state, x.attempts_used), (SendState::Failed, 3));
    assert_eq!(
        x.last_error.as_ref().map(|e| e.code.as_str()),
        Some("interrupted")
    );
    // Held (auth) sends wait for the credentials; waking the channel makes them due.
    s.resend(t, &ResendSelector::Ids(vec![x.id]), now)
        .await
        .unwrap();
    let jobs = claim(s, "w", now).await;
    let b = s.begin_sends(&jobs, now).await.unwrap();
    let held_until = now + CDuration::hours(1);
    s.finish_sends(
        &[finish(
            &jobs[0].0,
            started(&b[0]),
            SendOutcome::Held { run_at: held_until },
        )],
        now,
    )
    .await
    .unwrap();
    assert!(claim(s, "w", now).await.is_empty());
    assert_eq!(s.wake_channel_sends(t, c, now).await.unwrap(), 1);
    assert_eq!(
        s.wake_channel_sends(t, ChannelId::new(), now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(claim(s, "w", now).await.len(), 1);
}

pub async fn listing_filters_and_pages(s: &impl Store) {
    let (t, c, o) = paid_order(s).await;
    for a in [separation(), invoice(), shipment()] {
        apply(s, &act(t, o, a, true), t0()).await.unwrap();
    }
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let p = s
            .status_sends(t, &SendFilter::default(), &PageRequest { cursor, limit: 2 })
            .await
            .unwrap();
        seen.extend(p.items.iter().map(|x| x.seq));
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, [3, 2, 1], "newest first");
    let all = s
        .status_sends(t, &SendFilter::default(), &page_of(10))
        .await
        .unwrap()
        .items;
    let kind = all[0].kind();
    let of_kind = SendFilter {
        kind: Some(kind),
        ..SendFilter::default()
    };
    let found = s
        .status_sends(t, &of_kind, &page_of(10))
        .await
        .unwrap()
        .items;
    assert_eq!(
        found.len(),
        all.iter().filter(|x| x.kind() == kind).count(),
        "by kind"
    );
    assert!(found.iter().all(|x| x.kind() == kind));
    let by_channel = SendFilter {
        channel_id: Some(ChannelId::new()),
        ..SendFilter::default()
    };
    let page = page_of(10);
    assert!(s
        .status_sends(t, &by_channel, &page)
        .await
        .unwrap()
        .items
        .is_empty());
    let mine = SendFilter {
        channel_id: Some(c),
        from: Some(t0()),
        to: Some(t0() + CDuration::seconds(1)),
        ..SendFilter::default()
    };
    assert_eq!(
        s.status_sends(t, &mine, &page).await.unwrap().items.len(),
        3
    );
    let before = SendFilter {
        to: Some(t0()),
        ..SendFilter::default()
    };
    assert!(s
        .status_sends(t, &before, &page)
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn one_worker_per_order(s: &impl Store) {
    let (t, _c, o) = paid_order(s).await;
    apply(s, &act(t, o, separation(), true), t0())
        .await
        .unwrap();
    let first = claim(s, "a", t0()).await;
    let b = s.begin_sends(&first, t0()).await.unwrap();
    // An action while the order's job runs enqueues a twin job; it must not run the
    // order's sends concurrently (nor mark the running attempt interrupted).
    apply(s, &act(t, o, invoice(), true), t0()).await.unwrap();
    let twin = claim(s, "b", t0()).await;
    assert_eq!(twin.len(), 1);
    assert_eq!(
        s.begin_sends(&twin, t0()).await.unwrap(),
        vec![SendBegin::Idle]
    );
    assert_eq!(
        sends_of(s, t, o).await[0].attempts[0].outcome,
        AttemptOutcome::Started,
        "no attempt is taken over"
    );
    s.finish_sends(
        &[finish(&first[0].0, started(&b[0]), SendOutcome::Succeeded)],
        t0(),
    )
    .await
    .unwrap();
    let sent = round(s, t0(), SendOutcome::Succeeded).await;
    assert_eq!(
        sent.len(),
        1,
        "the running job carried on with the new send"
    );
    assert_eq!(sent[0].kind(), ActionKind::Invoice);
    let all = sends_of(s, t, o).await;
    assert!(all
        .iter()
        .all(|x| x.state == SendState::Succeeded && x.attempts.len() == 1));

    // A retry while a twin is pending keeps its backoff: the twin folds into it.
    let at = t0() + CDuration::seconds(1);
    apply(s, &act(t, o, shipment(), true), at).await.unwrap();
    let running = claim(s, "a", at).await;
    let b = s.begin_sends(&running, at).await.unwrap();
    let delivered = Action::Delivery(ponte_core::action::Delivery { delivered_at: at });
    apply(s, &act(t, o, delivered, true), at).await.unwrap();
    let backoff = t0() + CDuration::seconds(60);
    s.finish_sends(
        &[finish(
            &running[0].0,
            started(&b[0]),
            SendOutcome::Retry { run_at: backoff },
        )],
        at,
    )
    .await
    .unwrap();
    let counts = s.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 0));
    assert_eq!(s.next_run_at(&[]).await.unwrap(), Some(backoff));
    assert!(claim(s, "w", backoff - CDuration::seconds(1))
        .await
        .is_empty());
    let sent = round(s, backoff, SendOutcome::Succeeded).await;
    assert_eq!(sent[0].kind(), ActionKind::Shipment);
}

pub async fn actions_commit_in_batches(s: &impl Store) {
    let (t, _c, o) = paid_order(s).await;
    let batch = [
        act(t, o, separation(), true),
        act(t, OrderId::new(), separation(), true),
        act(t, o, invoice(), true),
        act(t, o, invoice(), true),
        act(
            t,
            o,
            Action::Delivery(ponte_core::action::Delivery { delivered_at: t0() }),
            true,
        ),
    ];
    let out = s.apply_actions(&batch, t0()).await.unwrap();
    assert!(matches!(
        out[0],
        ActionApplied::Applied { send: Some(_), .. }
    ));
    assert_eq!(out[1], ActionApplied::NotFound);
    assert!(
        matches!(&out[2], ActionApplied::Applied { order, .. } if order.data.status == OrderStatus::Invoiced)
    );
    assert!(
        matches!(out[3], ActionApplied::AlreadyDone(_)),
        "the batch sees its own earlier actions"
    );
    assert_eq!(out[4], ActionApplied::Refused(ActionError::NotShipped));
    let all = sends_of(s, t, o).await;
    assert_eq!(
        all.iter().map(|x| (x.seq, x.kind())).collect::<Vec<_>>(),
        [(1, ActionKind::Separation), (2, ActionKind::Invoice)]
    );
    assert_eq!(claim(s, "w", t0()).await.len(), 1, "one job for the order");
    assert!(s.apply_actions(&[], t0()).await.unwrap().is_empty());
}
