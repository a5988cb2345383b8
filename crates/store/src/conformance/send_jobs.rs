//! Conformance: what an action writes for its send, and how a send job's attempts
//! end — batches mixing outcomes, retries and waits, failures that block their order
//! until resent, lost leases and crashes.

use super::sends::{act, apply, claim, finish, invoice, round, separation, shipment, started};
use super::{import, mapped, page_of, setup, t0};
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::action::*;
use ponte_core::{ChannelId, OrderId, OrderStatus, SendId, TenantId};

fn secs(n: i64) -> DateTime<Utc> {
    t0() + CDuration::seconds(n)
}

/// An approved order `ext` of channel `c`.
async fn paid(s: &impl Store, t: TenantId, c: ChannelId, ext: &str) -> OrderId {
    match import(s, t, c, mapped(ext, OrderStatus::Approved, t0()), t0()).await {
        ImportApplied::Created(id) => id,
        other => panic!("{other:?}"),
    }
}

/// Applies an action that queues a send; the send.
async fn queued(s: &impl Store, t: TenantId, o: OrderId, a: Action, now: DateTime<Utc>) -> SendId {
    match apply(s, &act(t, o, a, true), now).await.unwrap() {
        ActionApplied::Applied { send: Some(id), .. } => id,
        other => panic!("{other:?}"),
    }
}

async fn send(s: &impl Store, t: TenantId, id: SendId) -> StatusSend {
    s.status_send(t, id).await.unwrap().unwrap()
}

/// The queue: (pending, running, earliest pending run_at). Imports finish their jobs,
/// so in these scenarios every job left is a send job.
async fn queue(s: &impl Store) -> (i64, i64, Option<DateTime<Utc>>) {
    let counts = s.job_counts().await.unwrap();
    (
        counts.pending,
        counts.running,
        s.next_run_at(&[]).await.unwrap(),
    )
}

pub async fn an_action_writes_the_order_document_send_and_job(s: &impl Store) {
    let (t, c) = setup(s).await;
    let o = paid(s, t, c, "77").await;
    let mut inv = act(t, o, invoice(), true);
    inv.xml = Some("<nfeProc/>".into());
    let ActionApplied::Applied { order, send: sid } = apply(s, &inv, secs(1)).await.unwrap() else {
        panic!("not applied")
    };
    assert_eq!(order.data.status, OrderStatus::Invoiced);
    assert_eq!(order.updated_at, secs(1));
    let sid = sid.unwrap();
    // The stored order agrees with itself: its data, fulfilment and the status it is
    // listed and swept by.
    let stored = s.order(t, o).await.unwrap().unwrap();
    assert_eq!(stored.data.status, OrderStatus::Invoiced);
    assert_eq!(
        order.raw.get(),
        "null",
        "an action does not read the payload back"
    );
    assert_ne!(stored.raw.get(), "null", "nor does it change it");
    assert!(stored.fulfilment.invoice.is_some());
    let by_status = OrderFilter {
        status: Some(OrderStatus::Invoiced),
        ..OrderFilter::default()
    };
    let listed = s.orders(t, &by_status, &page_of(10)).await.unwrap().items;
    assert_eq!(listed.iter().map(|x| x.id).collect::<Vec<_>>(), [o]);
    let swept = s
        .orders_in_status(t, Some(c), &[OrderStatus::Invoiced], None, 10)
        .await
        .unwrap();
    assert_eq!(swept.iter().map(|x| x.id).collect::<Vec<_>>(), [o]);
    assert!(s
        .orders_in_status(t, Some(c), &[OrderStatus::Approved], None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.invoice_xml(t, o).await.unwrap().as_deref(),
        Some("<nfeProc/>")
    );
    // The send, and its job: due now, keyed by order (a job enqueued with the order's
    // key coalesces into it), claimable.
    let x = send(s, t, sid).await;
    assert_eq!(
        (x.seq, x.state, x.attempts_used, x.max_attempts),
        (1, SendState::Pending, 0, 3)
    );
    assert_eq!(
        (x.channel_id, x.order_id, x.external_id.as_str()),
        (c, o, "77")
    );
    assert_eq!(x.action, invoice());
    assert_eq!(queue(s).await, (1, 0, Some(secs(1))));
    let job = SendJob {
        order_id: o,
        channel_id: c,
    };
    let twin = NewJob {
        kind: SEND_JOB_KIND.into(),
        payload: serde_json::to_value(job).unwrap(),
        unique_key: Some(send_job_key(c, o)),
        run_at: secs(1),
    };
    s.enqueue(&[(t, twin)]).await.unwrap();
    assert_eq!(queue(s).await, (1, 0, Some(secs(1))), "keyed by order");
    let jobs = claim(s, "w", secs(1)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1, job);
    // The timeline says what happened.
    let tl = s.timeline(t, c, "77").await.unwrap();
    let action = tl.iter().find(|e| e.kind == "erp_action").unwrap();
    assert_eq!(action.detail["from"], "approved");
    assert_eq!(action.detail["to"], "invoiced");
    assert_eq!(action.detail["action"]["action"], "invoice");
    let queued = tl.iter().find(|e| e.kind == "status_send_queued").unwrap();
    assert_eq!(queued.detail["send_id"], sid.to_string());
    assert_eq!(queued.detail["kind"], "invoice");
    // Refused and repeated actions change nothing.
    assert!(matches!(
        apply(s, &inv, secs(2)).await.unwrap(),
        ActionApplied::AlreadyDone(_)
    ));
    let mut other = inv.clone();
    other.action = Action::Invoice(Invoice {
        number: "27".into(),
        ..match invoice() {
            Action::Invoice(i) => i,
            _ => unreachable!(),
        }
    });
    assert_eq!(
        apply(s, &other, secs(2)).await.unwrap(),
        ActionApplied::Refused(ActionError::Conflict(ActionKind::Invoice))
    );
    assert_eq!(queue(s).await, (0, 1, None));
    let sends = s
        .status_sends(t, &SendFilter::default(), &page_of(10))
        .await
        .unwrap();
    assert_eq!(sends.items.len(), 1);
}

pub async fn a_batch_mixes_outcomes_and_lost_leases(s: &impl Store) {
    let (t, c) = setup(s).await;
    let mut ids = vec![];
    for ext in ["1", "2", "3", "4"] {
        let o = paid(s, t, c, ext).await;
        ids.push(queued(s, t, o, separation(), t0()).await);
    }
    // Order 1 has a second send waiting behind the first.
    let o1 = send(s, t, ids[0]).await.order_id;
    let next = queued(s, t, o1, invoice(), t0()).await;
    let jobs = claim(s, "w", t0()).await;
    assert_eq!(jobs.len(), 4, "one job per order");
    let begun = s.begin_sends(&jobs, t0()).await.unwrap();
    let by_send = |id: SendId| {
        let i = begun
            .iter()
            .position(|b| matches!(b, SendBegin::Started(x) if x.id == id))
            .unwrap();
        (&jobs[i].0, started(&begun[i]))
    };
    let (l1, s1) = by_send(ids[0]);
    let (l2, s2) = by_send(ids[1]);
    let (l3, s3) = by_send(ids[2]);
    let (l4, s4) = by_send(ids[3]);
    let stolen = JobLease {
        job_id: l4.job_id,
        owner: "someone else".into(),
    };
    let out = s
        .finish_sends(
            &[
                finish(l1, s1, SendOutcome::Succeeded),
                finish(l2, s2, SendOutcome::Retry { run_at: secs(30) }),
                finish(l3, s3, SendOutcome::Failed),
                finish(&stolen, s4, SendOutcome::Succeeded),
            ],
            secs(1),
        )
        .await
        .unwrap();
    assert_eq!(out, [true, true, true, false]);
    let x1 = send(s, t, ids[0]).await;
    assert_eq!(
        (x1.state, x1.attempts_used, x1.last_error),
        (SendState::Succeeded, 1, None)
    );
    let a = &x1.attempts[0];
    assert_eq!(a.outcome, AttemptOutcome::Succeeded);
    assert_eq!((a.http_status, a.duration_ms), (Some(200), Some(12)));
    let x2 = send(s, t, ids[1]).await;
    assert_eq!((x2.state, x2.attempts_used), (SendState::Pending, 1));
    assert_eq!(x2.last_error.unwrap().code, "platform_unavailable");
    assert_eq!(x2.attempts[0].outcome, AttemptOutcome::Retrying);
    let x3 = send(s, t, ids[2]).await;
    assert_eq!((x3.state, x3.attempts_used), (SendState::Failed, 1));
    // The lost lease wrote nothing.
    let x4 = send(s, t, ids[3]).await;
    assert_eq!((x4.state, x4.attempts_used), (SendState::Pending, 0));
    assert_eq!(x4.attempts[0].outcome, AttemptOutcome::Started);
    // Jobs: order 1 again now (its next send), order 2 at its retry, order 3 done,
    // order 4 still running.
    assert_eq!(queue(s).await, (2, 1, Some(secs(1))));
    let again = round(s, secs(1), SendOutcome::Succeeded).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, next);
    assert_eq!(queue(s).await, (1, 1, Some(secs(30))));
    // Each attempt is on its order's timeline.
    let tl = s.timeline(t, c, "2").await.unwrap();
    let e = tl.iter().find(|e| e.kind == "status_send_attempt").unwrap();
    assert_eq!(e.detail["outcome"], "retrying");
    assert_eq!(e.detail["http_status"], 500);
    assert_eq!(e.detail["error_code"], "platform_unavailable");
    assert_eq!(e.detail["n"], 1);
}

pub async fn retries_count_and_waits_do_not(s: &impl Store) {
    let (t, c) = setup(s).await;
    let o = paid(s, t, c, "1").await;
    let id = queued(s, t, o, separation(), t0()).await;
    round(s, t0(), SendOutcome::RateLimited { run_at: secs(5) }).await;
    assert!(
        claim(s, "w", secs(4)).await.is_empty(),
        "waits for the platform"
    );
    round(s, secs(5), SendOutcome::Held { run_at: secs(3600) }).await;
    assert_eq!(queue(s).await, (1, 0, Some(secs(3600))));
    round(s, secs(3600), SendOutcome::Retry { run_at: secs(3610) }).await;
    round(s, secs(3610), SendOutcome::Retry { run_at: secs(3620) }).await;
    let x = send(s, t, id).await;
    assert_eq!((x.state, x.attempts_used), (SendState::Pending, 2));
    let outcomes: Vec<_> = x.attempts.iter().map(|a| (a.n, a.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (1, AttemptOutcome::RateLimited),
            (2, AttemptOutcome::Held),
            (3, AttemptOutcome::Retrying),
            (4, AttemptOutcome::Retrying)
        ]
    );
    round(s, secs(3620), SendOutcome::Failed).await;
    let x = send(s, t, id).await;
    assert_eq!((x.state, x.attempts_used), (SendState::Failed, 3));
    assert_eq!(queue(s).await, (0, 0, None), "job done");
}

pub async fn a_failure_blocks_the_order_until_resent(s: &impl Store) {
    let (t, c) = setup(s).await;
    let o = paid(s, t, c, "1").await;
    let p = paid(s, t, c, "2").await;
    let first = queued(s, t, o, separation(), t0()).await;
    let second = queued(s, t, o, invoice(), t0()).await;
    let other = queued(s, t, p, separation(), t0()).await;
    round(s, t0(), SendOutcome::Failed).await;
    assert_eq!(send(s, t, first).await.state, SendState::Failed);
    assert_eq!(send(s, t, second).await.state, SendState::Blocked);
    assert_eq!(send(s, t, other).await.state, SendState::Failed);
    // A third action waits behind them, without a job.
    let third = queued(s, t, o, shipment(), secs(1)).await;
    assert_eq!(send(s, t, third).await.state, SendState::Blocked);
    assert_eq!(queue(s).await, (0, 0, None));
    // Resending one order's failed send releases that order only.
    assert_eq!(
        s.resend(t, &ResendSelector::Ids(vec![second, first]), secs(2))
            .await
            .unwrap(),
        [first]
    );
    for id in [first, second, third] {
        let x = send(s, t, id).await;
        assert_eq!((x.state, x.attempts_used), (SendState::Pending, 0));
    }
    assert_eq!(
        send(s, t, first).await.last_error.unwrap().code,
        "platform_unavailable"
    );
    assert_eq!(send(s, t, other).await.state, SendState::Failed);
    assert_eq!(queue(s).await, (1, 0, Some(secs(2))));
    for (i, id) in [first, second, third].into_iter().enumerate() {
        let sent = round(s, secs(2 + i as i64), SendOutcome::Succeeded).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].id, id);
    }
    assert_eq!(send(s, t, first).await.attempts.len(), 2, "history kept");
    // The channel's remaining failure, resent twice: the second time there is none.
    assert_eq!(
        s.resend(t, &ResendSelector::AllFailed(c), secs(9))
            .await
            .unwrap(),
        [other]
    );
    assert!(s
        .resend(t, &ResendSelector::AllFailed(c), secs(9))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(queue(s).await, (1, 0, Some(secs(9))));
}

pub async fn lost_leases_and_crashes(s: &impl Store) {
    let (t, c) = setup(s).await;
    let o = paid(s, t, c, "1").await;
    let id = queued(s, t, o, separation(), t0()).await;
    let jobs = claim(s, "dead", t0()).await;
    let wrong = JobLease {
        job_id: jobs[0].0.job_id,
        owner: "impostor".into(),
    };
    assert_eq!(
        s.begin_sends(&[(wrong.clone(), jobs[0].1)], t0())
            .await
            .unwrap(),
        [SendBegin::LeaseLost]
    );
    let b = s.begin_sends(&jobs, t0()).await.unwrap();
    let first = started(&b[0]).clone();
    assert_eq!(first.attempts[0].n, 1);
    assert_eq!(
        s.finish_sends(&[finish(&wrong, &first, SendOutcome::Succeeded)], t0())
            .await
            .unwrap(),
        [false]
    );
    // The worker dies; its job goes back to the queue.
    assert_eq!(s.release_leases(Some("dead")).await.unwrap(), 1);
    let jobs = claim(s, "alive", secs(1)).await;
    let b = s.begin_sends(&jobs, secs(1)).await.unwrap();
    let x = started(&b[0]);
    assert_eq!((x.attempts[0].n, x.attempts_used), (2, 1));
    assert_eq!(x.last_error.as_ref().unwrap().code, "interrupted");
    let stored = send(s, t, id).await;
    assert_eq!(stored.attempts[0].outcome, AttemptOutcome::Interrupted);
    assert_eq!(
        stored.attempts[0].error_code.as_deref(),
        Some("interrupted")
    );
    assert_eq!(stored.attempts[1].outcome, AttemptOutcome::Started);
    let tl = s.timeline(t, c, "1").await.unwrap();
    assert!(tl
        .iter()
        .any(|e| e.kind == "status_send_attempt" && e.detail["outcome"] == "interrupted"));
}

/// One claim leases due jobs, takes one token each from their channel's budget (the
/// rest wait, not counted, one token's time apart) and begins the sends within it;
/// jobs of a channel without a known budget come back as they are.
pub async fn a_claim_budgets_and_begins(s: &impl Store) {
    use crate::claim::{Budget, ClaimRequest};
    let (t, c) = setup(s).await;
    let mut sends = Vec::new();
    for ext in ["1", "2", "3"] {
        let o = paid(s, t, c, ext).await;
        sends.push(queued(s, t, o, separation(), secs(1)).await);
    }
    let other = NewJob {
        kind: "other".into(),
        payload: serde_json::json!({ "channel_id": c }),
        unique_key: None,
        run_at: secs(2),
    };
    s.enqueue(&[(t, other.clone()), (t, other)]).await.unwrap();
    let budgets = [(
        c,
        Budget {
            burst: 2.0,
            per_sec: 1.0,
        },
    )]
    .into();
    let kinds = [SEND_JOB_KIND, "other"];
    let req = |now| ClaimRequest {
        owner: "w",
        kinds: &kinds,
        limit: 10,
        now,
        lease: std::time::Duration::from_secs(60),
    };
    let got = s.claim_work(&req(secs(3)), &budgets).await.unwrap();
    // The bucket starts full (2 tokens): the two oldest jobs, two of the sends.
    assert_eq!(got.deferred, 3);
    assert!(got.jobs.is_empty() && got.unbudgeted.is_empty(), "{got:?}");
    let begun: Vec<SendId> = got.sends.iter().map(|(_, s)| s.id).collect();
    assert_eq!(begun.len(), 2);
    assert!(begun.iter().all(|b| sends.contains(b)));
    let waiting = sends.iter().find(|x| !begun.contains(x)).copied().unwrap();
    for (_, b) in &got.sends {
        assert_eq!(b.attempts.len(), 1);
        assert_eq!(b.attempts[0].outcome, AttemptOutcome::Started);
    }
    let stored = send(s, t, begun[0]).await;
    assert_eq!(
        stored.attempts.last().map(|a| a.outcome),
        Some(AttemptOutcome::Started)
    );
    // The rest wait for tokens, one a second; not counted.
    assert_eq!(queue(s).await, (3, 2, Some(secs(4))));
    assert!(s
        .claim_work(&req(secs(3)), &budgets)
        .await
        .unwrap()
        .sends
        .is_empty());
    // Without a known budget, due jobs come back as they are (not begun).
    let later = s
        .claim_work(&req(secs(10)), &Default::default())
        .await
        .unwrap();
    assert_eq!(later.unbudgeted.len(), 3);
    assert_eq!(
        (later.jobs.len(), later.sends.len(), later.deferred),
        (0, 0, 0)
    );
    assert!(send(s, t, waiting).await.attempts.is_empty());
}

/// An action batch given a lease owner starts the sends it queues in its own
/// transaction: leased, one token each (the rest wait, as a claim's would) and begun;
/// sends of channels without a known budget stay pending for the claims.
pub async fn an_action_batch_starts_its_sends(s: &impl Store) {
    use crate::claim::{Budget, StartSends};
    let (t, c) = setup(s).await;
    let (_, unknown) = setup(s).await;
    let mut batch = Vec::new();
    for ext in ["1", "2", "3"] {
        let o = paid(s, t, c, ext).await;
        batch.push(act(t, o, separation(), true));
    }
    let elsewhere = paid(s, t, unknown, "4").await;
    batch.push(act(t, elsewhere, separation(), true));
    let budget = Budget {
        burst: 2.0,
        per_sec: 1.0,
    };
    let budgets = [(c, budget)].into();
    let start = StartSends {
        owner: "direct",
        lease: std::time::Duration::from_secs(60),
        budgets: &budgets,
    };
    let out = s
        .apply_actions_and_start(&batch, secs(1), Some(&start))
        .await
        .unwrap();
    let queued: Vec<SendId> = (out.applied.iter())
        .map(|a| match a {
            ActionApplied::Applied { send: Some(id), .. } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    let got = out.started;
    assert_eq!(got.deferred, 1, "two tokens for three sends");
    assert!(got.jobs.is_empty() && got.unbudgeted.is_empty(), "{got:?}");
    assert_eq!(got.sends.len(), 2);
    for (lease, b) in &got.sends {
        assert_eq!(lease.owner, "direct");
        assert!(queued[..3].contains(&b.id));
        assert_eq!(b.attempts.len(), 1);
        assert_eq!(b.attempts[0].outcome, AttemptOutcome::Started);
        let stored = send(s, t, b.id).await;
        assert_eq!(stored.attempts.len(), 1, "the started attempt is stored");
    }
    // The deferred one waits a token's time; the other channel's is due for a claim.
    assert_eq!(queue(s).await, (2, 2, Some(secs(1))));
    // A finished send is recorded with the next batch, in one call; without an owner,
    // the batch starts nothing.
    let (lease, b) = &got.sends[0];
    let o = paid(s, t, c, "5").await;
    let succeeded = [finish(lease, b, SendOutcome::Succeeded)];
    let (done, plain) = s
        .finish_and_apply(&succeeded, &[act(t, o, separation(), true)], secs(2), None)
        .await
        .unwrap();
    assert_eq!(done, [true], "the lease holds");
    assert_eq!(send(s, t, b.id).await.state, SendState::Succeeded);
    assert!(matches!(
        plain.applied[..],
        [ActionApplied::Applied { send: Some(_), .. }]
    ));
    assert!(plain.started.sends.is_empty() && plain.started.deferred == 0);
    // Finished sends alone, and a lease lost meanwhile.
    let (lease, b) = &got.sends[1];
    let stale = JobLease {
        owner: "gone".into(),
        ..lease.clone()
    };
    let finishes = [
        finish(lease, b, SendOutcome::Succeeded),
        finish(&stale, b, SendOutcome::Succeeded),
    ];
    let (done, none) = s
        .finish_and_apply(&finishes, &[], secs(3), None)
        .await
        .unwrap();
    assert_eq!(done, [true, false]);
    assert!(none.applied.is_empty());
    assert_eq!(send(s, t, b.id).await.state, SendState::Succeeded);
}

/// The calls an attempt made beyond its first are charged to its channel's bucket as
/// the attempt is recorded, even into debt and even when its lease was lost (the calls
/// were made); later claims wait the debt out.
pub async fn a_finish_charges_its_extra_calls(s: &impl Store) {
    use crate::claim::{channel_bucket, Budget, ClaimRequest};
    let (t, c) = setup(s).await;
    for ext in ["1", "2"] {
        let o = paid(s, t, c, ext).await;
        queued(s, t, o, separation(), secs(1)).await;
    }
    let budget = Budget {
        burst: 4.0,
        per_sec: 1.0,
    };
    let req = ClaimRequest {
        owner: "w",
        kinds: &[SEND_JOB_KIND],
        limit: 10,
        now: secs(3),
        lease: std::time::Duration::from_secs(60),
    };
    let got = s.claim_work(&req, &[(c, budget)].into()).await.unwrap();
    assert_eq!(got.sends.len(), 2, "two of the four tokens");
    let extra = |n| {
        Some(ExtraCalls {
            channel_id: c,
            n,
            budget,
        })
    };
    let (l1, s1) = &got.sends[0];
    let (l2, s2) = &got.sends[1];
    let kept = SendFinish {
        extra_calls: extra(3),
        ..finish(l1, s1, SendOutcome::Succeeded)
    };
    let lost = JobLease {
        owner: "someone else".into(),
        ..l2.clone()
    };
    let lost = SendFinish {
        extra_calls: extra(2),
        ..finish(&lost, s2, SendOutcome::Succeeded)
    };
    assert_eq!(
        s.finish_sends(&[kept, lost], secs(3)).await.unwrap(),
        [true, false]
    );
    // 2 tokens left, 5 charged: 3 in debt, so the next token is 4 seconds away.
    let key = channel_bucket(c);
    let g = s.take_tokens(t, &key, 1, 4.0, 1.0, secs(3)).await.unwrap();
    assert_eq!(g.granted, 0);
    let wait = g.retry_after.as_secs_f64();
    assert!((3.9..=4.1).contains(&wait), "{wait}");
    // The debt refills at one token a second.
    let g = s.take_tokens(t, &key, 1, 4.0, 1.0, secs(7)).await.unwrap();
    assert_eq!(g.granted, 1);
}
