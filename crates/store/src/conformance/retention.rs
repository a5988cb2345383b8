//! Conformance: retention deletes old records in batches and keeps recent and still
//! needed ones (and orders, timelines, task totals).

use super::sends::{apply, claim, invoice, separation};
use super::{claim_one, commit, delivery, fetched, import, mapped, page_of, setup, t0};
use crate::*;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::import::ImportPolicy;
use ponte_core::{ChannelId, DeliveryId, OrderId, OrderStatus, TenantId};
use std::time::Duration;

/// "Now" in these scenarios: 100 days after `t0`; records of `t0` are past 90 days.
fn now() -> DateTime<Utc> {
    t0() + CDuration::days(100)
}

fn cutoff() -> DateTime<Utc> {
    retention_cutoff(now(), 90)
}

/// A finished (ignored) delivery, about `ext` when given.
fn ignored(t: TenantId, c: ChannelId, ext: Option<&str>, at: DateTime<Utc>) -> NewDelivery {
    NewDelivery {
        id: DeliveryId::new(),
        tenant_id: t,
        channel_id: c,
        received_at: at,
        event: "order/updated".into(),
        resource_id: ext.map(Into::into),
        body: br#"{"id":2}"#.to_vec(),
        state: DeliveryState::Ignored,
        note: Some("instant_events off".into()),
        job: None,
    }
}

async fn deliveries_of(s: &impl Store, t: TenantId) -> Vec<Delivery> {
    let page = page_of(500);
    s.deliveries(t, &DeliveryFilter::default(), &page)
        .await
        .unwrap()
        .items
}

pub async fn old_deliveries_go_in_batches_and_timelines_stay(s: &impl Store) {
    let (t, c) = setup(s).await;
    // Order 1: its webhook at t0, imported a second later (the delivery is processed).
    s.accept_deliveries(&[delivery(t, c, "1", t0())])
        .await
        .unwrap();
    let at = t0() + CDuration::seconds(1);
    let jobs = claim_one(s, "w1", at).await;
    let order = mapped("1", OrderStatus::Approved, t0());
    let applied = s
        .apply_imports(
            vec![commit(
                &jobs[0],
                t,
                c,
                "1",
                at,
                fetched(order, ImportPolicy::All),
            )],
            at,
        )
        .await
        .unwrap();
    assert!(matches!(applied[0], ImportApplied::Created(_)));
    let mut old: Vec<_> = (0..5).map(|_| ignored(t, c, Some("2"), t0())).collect();
    old.push(ignored(t, c, None, t0()));
    // Kept: a delivery still waiting for its import, however old, and a recent one.
    old.push(delivery(t, c, "3", t0()));
    old.push(ignored(t, c, Some("2"), now() - CDuration::days(1)));
    s.accept_deliveries(&old).await.unwrap();
    let timeline = s.timeline(t, c, "1").await.unwrap();
    assert_eq!(timeline[0].kind, "delivery_received");

    let mut batches = vec![];
    loop {
        let n = s.prune(Prunable::Deliveries, cutoff(), 3).await.unwrap();
        batches.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(
        batches,
        [3, 3, 1, 0],
        "7 old finished deliveries, 3 a batch"
    );
    let left = deliveries_of(s, t).await;
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left
        .iter()
        .any(|d| d.resource_id.as_deref() == Some("3") && d.state == DeliveryState::Received));
    assert!(left.iter().any(|d| d.received_at > cutoff()));
    assert_eq!(
        s.timeline(t, c, "1").await.unwrap(),
        timeline,
        "the order's timeline keeps its delivery"
    );
    assert_eq!(
        s.timeline(t, c, "2").await.unwrap().len(),
        6,
        "deleted deliveries about an order stay in its timeline"
    );
    assert!(s
        .orders_in_status(t, None, &[OrderStatus::Approved], None, 10)
        .await
        .unwrap()
        .iter()
        .any(|o| o.external_id == "1"));
}

/// One begin/finish round for every due send job, each ending with `outcome`.
async fn attempt_all(s: &impl Store, at: DateTime<Utc>, outcome: SendOutcome) -> usize {
    let jobs = claim(s, "w", at).await;
    let begun = s.begin_sends(&jobs, at).await.unwrap();
    let mut fin = vec![];
    for ((lease, _), b) in jobs.iter().zip(&begun) {
        if let SendBegin::Started(send) = b {
            fin.push(SendFinish {
                lease: lease.clone(),
                tenant_id: send.tenant_id,
                send_id: send.id,
                n: send.attempts[0].n,
                request: Some("POST /orders/1/pack".into()),
                http_status: Some(200),
                response: Some("{}".into()),
                duration_ms: 5,
                error: (outcome != SendOutcome::Succeeded).then(|| SendError {
                    code: "platform_unavailable".into(),
                    message: "HTTP 503".into(),
                }),
                outcome: outcome.clone(),
                extra_calls: None,
            });
        }
    }
    let ok = s.finish_sends(&fin, at).await.unwrap();
    assert!(ok.iter().all(|b| *b));
    fin.len()
}

async fn action(
    s: &impl Store,
    t: TenantId,
    o: OrderId,
    a: ponte_core::action::Action,
    at: DateTime<Utc>,
) {
    let commit = ActionCommit {
        tenant_id: t,
        order_id: o,
        action: a,
        xml: None,
        send_max_attempts: Some(3),
        not_sent: None,
    };
    assert!(matches!(
        apply(s, &commit, at).await.unwrap(),
        ActionApplied::Applied { send: Some(_), .. }
    ));
}

async fn order_of(
    s: &impl Store,
    t: TenantId,
    c: ChannelId,
    ext: &str,
    at: DateTime<Utc>,
) -> OrderId {
    match import(s, t, c, mapped(ext, OrderStatus::Approved, at), at).await {
        ImportApplied::Created(o) => o,
        other => panic!("{other:?}"),
    }
}

async fn attempts_of(s: &impl Store, t: TenantId, o: OrderId) -> Vec<(SendState, usize)> {
    let f = SendFilter {
        order_id: Some(o),
        ..SendFilter::default()
    };
    let page = page_of(100);
    let mut sends = s.status_sends(t, &f, &page).await.unwrap().items;
    sends.sort_by_key(|x| x.seq);
    sends.iter().map(|x| (x.state, x.attempts.len())).collect()
}

pub async fn only_old_succeeded_sends_lose_their_attempts(s: &impl Store) {
    let (t, c) = setup(s).await;
    // Order A: separation succeeded at t0; invoice failed at t0 (the Errors list).
    let a = order_of(s, t, c, "A", t0()).await;
    action(s, t, a, separation(), t0()).await;
    assert_eq!(attempt_all(s, t0(), SendOutcome::Succeeded).await, 1);
    action(s, t, a, invoice(), t0()).await;
    assert_eq!(attempt_all(s, t0(), SendOutcome::Failed).await, 1);
    // Order B: a send still retrying since t0.
    let b = order_of(s, t, c, "B", t0()).await;
    action(s, t, b, separation(), t0()).await;
    let retry = SendOutcome::Retry {
        run_at: now() + CDuration::hours(1),
    };
    assert_eq!(attempt_all(s, t0(), retry).await, 1);
    // Order C: succeeded yesterday.
    let recent = now() - CDuration::days(1);
    let c_order = order_of(s, t, c, "C", recent).await;
    action(s, t, c_order, separation(), recent).await;
    assert_eq!(attempt_all(s, recent, SendOutcome::Succeeded).await, 1);
    let timeline = s.timeline(t, c, "A").await.unwrap();

    assert_eq!(
        s.prune(Prunable::SendAttempts, cutoff(), 500)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.prune(Prunable::SendAttempts, cutoff(), 500)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        attempts_of(s, t, a).await,
        [(SendState::Succeeded, 0), (SendState::Failed, 1)],
        "the old succeeded send keeps its state, the failed one its attempt"
    );
    assert_eq!(attempts_of(s, t, b).await, [(SendState::Pending, 1)]);
    assert_eq!(
        attempts_of(s, t, c_order).await,
        [(SendState::Succeeded, 1)]
    );
    assert_eq!(
        s.timeline(t, c, "A").await.unwrap(),
        timeline,
        "each attempt stays in the order's timeline"
    );
    // A failed send resent later keeps counting from its last attempt.
    let resent = s
        .resend(t, &ResendSelector::AllFailed(c), now())
        .await
        .unwrap();
    assert_eq!(resent.len(), 1);
    let jobs = claim(s, "w", now()).await;
    let begun = s.begin_sends(&jobs, now()).await.unwrap();
    let started: Vec<_> = begun
        .iter()
        .filter_map(|b| match b {
            SendBegin::Started(x) => Some(x.attempts[0].n),
            _ => None,
        })
        .collect();
    assert!(started.contains(&2), "{started:?}");
}

async fn run_once(s: &impl Store, task: &ScheduledTask, at: DateTime<Utc>, gaps: u64) -> TaskRun {
    let req = RunRequest {
        tenant_id: task.tenant_id,
        task_id: task.id,
        trigger: RunTrigger::RunNow,
        since: None,
        until: None,
        fire: None,
    };
    let RunStart::Started(run) = s.start_run(&req, at).await.unwrap() else {
        panic!("not started")
    };
    let jobs = s
        .claim_jobs("w", &[TASK_JOB_KIND], 1, at, Duration::from_secs(30))
        .await
        .unwrap();
    let lease = JobLease {
        job_id: jobs[0].id,
        owner: "w".into(),
    };
    s.begin_run(&lease, task.tenant_id, run.id, at)
        .await
        .unwrap()
        .unwrap();
    let end = RunEnd {
        counts: RunCounts {
            gaps,
            ..RunCounts::default()
        },
        error: None,
        cursor: None,
    };
    assert!(s
        .finish_run(&lease, task.tenant_id, run.id, &end, at)
        .await
        .unwrap());
    run
}

pub async fn finished_runs_go_but_each_tasks_latest_and_gap_totals_stay(s: &impl Store) {
    let (t, c) = setup(s).await;
    let new = |kind| NewTask {
        tenant_id: t,
        kind,
        channel_id: Some(c),
        interval_secs: 600,
        next_run_at: now(),
        cursor: None,
    };
    s.ensure_tasks(
        &[
            new(TaskKind::ImportOrders),
            new(TaskKind::RefreshPaymentStatus),
        ],
        t0(),
    )
    .await
    .unwrap();
    let tasks = s.tasks(t, Some(c)).await.unwrap();
    let import_task = tasks
        .iter()
        .find(|k| k.kind == TaskKind::ImportOrders)
        .unwrap();
    let refresh = tasks
        .iter()
        .find(|k| k.kind == TaskKind::RefreshPaymentStatus)
        .unwrap();
    for (i, gaps) in [2, 3, 0].into_iter().enumerate() {
        run_once(s, import_task, t0() + CDuration::minutes(i as i64), gaps).await;
    }
    let refreshed = run_once(s, refresh, t0(), 0).await;
    assert_eq!(s.poll_gaps(t, c).await.unwrap(), 5);

    let mut batches = vec![];
    loop {
        let n = s.prune(Prunable::TaskRuns, cutoff(), 1).await.unwrap();
        batches.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(batches, [1, 1, 0], "two old runs, not either task's latest");
    let page = page_of(10);
    assert_eq!(
        s.task_runs(t, import_task.id, &page)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        s.task(t, refresh.id)
            .await
            .unwrap()
            .unwrap()
            .last_run
            .map(|r| r.id),
        Some(refreshed.id),
        "a task's only run stays, however old"
    );
    assert_eq!(s.poll_gaps(t, c).await.unwrap(), 5, "gap totals stay");

    // A recent run and a queued one: the old latest goes, they stay.
    let recent = run_once(s, import_task, now() - CDuration::days(1), 1).await;
    let req = RunRequest {
        tenant_id: t,
        task_id: import_task.id,
        trigger: RunTrigger::RunNow,
        since: None,
        until: None,
        fire: None,
    };
    let RunStart::Started(queued) = s.start_run(&req, now()).await.unwrap() else {
        panic!("not started")
    };
    assert_eq!(s.prune(Prunable::TaskRuns, cutoff(), 500).await.unwrap(), 1);
    let ids: Vec<_> = s
        .task_runs(t, import_task.id, &page)
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [queued.id, recent.id]);
    assert_eq!(
        s.task(t, import_task.id)
            .await
            .unwrap()
            .unwrap()
            .last_run
            .map(|r| r.id),
        Some(queued.id)
    );
    assert_eq!(s.poll_gaps(t, c).await.unwrap(), 6);
}

fn push(c: ChannelId, skus: &[&str]) -> PushRecord {
    PushRecord {
        channel_id: c,
        items: skus.iter().map(|s| ((*s).into(), "9".into(), 1)).collect(),
        request: "PATCH /products/1/variants".into(),
        http_status: Some(200),
        duration_ms: 3,
        outcome: PushOutcome::Succeeded,
    }
}

pub async fn old_stock_pushes_go_with_their_skus(s: &impl Store) {
    let (t, c) = setup(s).await;
    for _ in 0..3 {
        s.record_pushes(t, &[push(c, &["A", "B"])], t0())
            .await
            .unwrap();
    }
    let recent = now() - CDuration::days(1);
    s.record_pushes(t, &[push(c, &["A"])], recent)
        .await
        .unwrap();
    let mut batches = vec![];
    loop {
        let n = s.prune(Prunable::StockPushes, cutoff(), 2).await.unwrap();
        batches.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(batches, [2, 1, 0]);
    let page = page_of(10);
    let all = s.stock_pushes(t, None, None, &page).await.unwrap().items;
    assert_eq!(all.iter().map(|p| p.at).collect::<Vec<_>>(), [recent]);
    assert_eq!(
        s.stock_pushes(t, Some(c), Some("A"), &page)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(s
        .stock_pushes(t, None, Some("B"), &page)
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn a_sweep_deletes_in_batches_and_can_stop(s: &impl Store) {
    let (t, c) = setup(s).await;
    let mut old: Vec<_> = (0..1201).map(|_| ignored(t, c, Some("9"), t0())).collect();
    old.push(delivery(t, c, "8", t0()));
    old.push(ignored(t, c, Some("9"), now()));
    s.accept_deliveries(&old).await.unwrap();
    assert!(s.database_size().await.unwrap() > 0);

    // A sweep asked to stop after its first batch.
    let mut seen = vec![];
    let totals = sweep(s, cutoff(), |b| {
        seen.push(b);
        std::future::ready(false)
    })
    .await
    .unwrap();
    assert_eq!(totals, [(Prunable::Deliveries, u64::from(RETENTION_BATCH))]);
    assert_eq!(seen.len(), 1);

    let mut seen = vec![];
    let totals = sweep(s, cutoff(), |b| {
        seen.push((b.what, b.deleted, b.more));
        std::future::ready(true)
    })
    .await
    .unwrap();
    assert_eq!(
        seen,
        [
            (Prunable::Deliveries, 500, true),
            (Prunable::Deliveries, 201, false),
            (Prunable::SendAttempts, 0, false),
            (Prunable::TaskRuns, 0, false),
            (Prunable::StockPushes, 0, false),
            (Prunable::WebhookMessages, 0, false),
            (Prunable::Events, 0, false),
        ]
    );
    assert_eq!(totals[0], (Prunable::Deliveries, 701));
    assert_eq!(
        deliveries_of(s, t).await.len(),
        2,
        "waiting and recent stay"
    );
    assert_eq!(s.timeline(t, c, "9").await.unwrap().len(), 1202);
}
