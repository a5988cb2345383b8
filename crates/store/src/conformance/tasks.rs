//! Scheduled tasks, their runs, orders read by listings, sweeps and tenant settings.

use super::{delivery, mapped, page_of, setup, t0};
use crate::*;
use chrono::Duration as CDuration;
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use ponte_core::{ChannelId, OrderStatus, TenantId};
use std::time::Duration;

fn new_task(t: TenantId, kind: TaskKind, c: Option<ChannelId>) -> NewTask {
    NewTask {
        tenant_id: t,
        kind,
        channel_id: c,
        interval_secs: 600,
        next_run_at: t0(),
        cursor: c.map(|_| t0() - CDuration::days(1)),
    }
}

async fn import_task(s: &impl Store) -> (TenantId, ChannelId, ScheduledTask) {
    let (t, c) = setup(s).await;
    s.ensure_tasks(&[new_task(t, TaskKind::ImportOrders, Some(c))], t0())
        .await
        .unwrap();
    let task = s.tasks(t, Some(c)).await.unwrap().remove(0);
    (t, c, task)
}

fn request(task: &ScheduledTask, trigger: RunTrigger) -> RunRequest {
    RunRequest {
        tenant_id: task.tenant_id,
        task_id: task.id,
        trigger,
        since: None,
        until: None,
        fire: None,
    }
}

async fn claim_run(
    s: &impl Store,
    owner: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> (JobLease, TaskJob) {
    let jobs = s
        .claim_jobs(owner, &[TASK_JOB_KIND], 10, at, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1, "one job per run");
    let lease = JobLease {
        job_id: jobs[0].id,
        owner: owner.into(),
    };
    (
        lease,
        serde_json::from_value(jobs[0].payload.clone()).unwrap(),
    )
}

pub async fn tasks_are_created_once_and_edited(s: &impl Store) {
    let (t, c) = setup(s).await;
    let all = [
        new_task(t, TaskKind::ImportOrders, Some(c)),
        new_task(t, TaskKind::RefreshPaymentStatus, Some(c)),
        new_task(t, TaskKind::AutoCancel, None),
    ];
    s.ensure_tasks(&all, t0()).await.unwrap();
    // Ensuring again (another instance, a restart) changes nothing.
    let later = all.clone().map(|mut n| {
        n.interval_secs = 60;
        n
    });
    s.ensure_tasks(&later, t0()).await.unwrap();
    let tasks = s.tasks(t, None).await.unwrap();
    assert_eq!(tasks.len(), 3);
    assert!(tasks
        .iter()
        .all(|k| k.interval_secs == 600 && k.enabled && k.last_run.is_none()));
    assert_eq!(s.tasks(t, Some(c)).await.unwrap().len(), 2);
    let import = tasks
        .iter()
        .find(|k| k.kind == TaskKind::ImportOrders)
        .unwrap();
    assert_eq!(import.cursor, Some(t0() - CDuration::days(1)));

    let now = t0() + CDuration::minutes(1);
    let patch = TaskPatch {
        interval_secs: Some(120),
        enabled: None,
    };
    let edited = s
        .update_task(t, import.id, &patch, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.interval_secs, 120);
    assert_eq!(edited.next_run_at, now + CDuration::seconds(120));
    let off = TaskPatch {
        interval_secs: None,
        enabled: Some(false),
    };
    let edited = s
        .update_task(t, import.id, &off, now)
        .await
        .unwrap()
        .unwrap();
    assert!(!edited.enabled);
    assert!(s
        .due_tasks(now + CDuration::days(1), 10)
        .await
        .unwrap()
        .iter()
        .all(|k| k.id != import.id));
    assert!(s
        .update_task(TenantId::new(), import.id, &patch, now)
        .await
        .unwrap()
        .is_none());
}

pub async fn due_runs_fire_once_and_never_overlap(s: &impl Store) {
    let (t, _c, task) = import_task(s).await;
    assert!(s
        .due_tasks(t0() - CDuration::seconds(1), 10)
        .await
        .unwrap()
        .is_empty());
    let due = s.due_tasks(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    // Three instances race for the same due time: exactly one starts a run.
    let next = t0() + CDuration::seconds(600);
    let mut started = vec![];
    for _ in 0..3 {
        let req = RunRequest {
            fire: Some((due[0].next_run_at, next)),
            ..request(&task, RunTrigger::Schedule)
        };
        match s.start_run(&req, t0()).await.unwrap() {
            RunStart::Started(r) => started.push(r),
            RunStart::NotFired => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(started.len(), 1);
    let run = &started[0];
    assert_eq!(
        run.due_at,
        Some(due[0].next_run_at),
        "the due time that fired it"
    );
    assert_eq!(
        (run.state, run.trigger, run.kind),
        (
            RunState::Queued,
            RunTrigger::Schedule,
            TaskKind::ImportOrders
        )
    );
    assert!(s
        .due_tasks(next - CDuration::seconds(1), 10)
        .await
        .unwrap()
        .is_empty());
    // Run now and a due time while the run is queued: refused, the due time moves on.
    let busy = s
        .start_run(&request(&task, RunTrigger::RunNow), t0())
        .await
        .unwrap();
    assert_eq!(busy, RunStart::Busy(run.clone()));
    let req = RunRequest {
        fire: Some((next, next + CDuration::seconds(600))),
        ..request(&task, RunTrigger::Schedule)
    };
    assert!(matches!(
        s.start_run(&req, next).await.unwrap(),
        RunStart::Busy(_)
    ));
    assert_eq!(
        s.task(t, task.id).await.unwrap().unwrap().next_run_at,
        next + CDuration::seconds(600)
    );
    // The running run is the task's latest; still busy while it runs.
    let (lease, job) = claim_run(s, "w1", t0()).await;
    assert_eq!(job.run_id, run.id);
    let running = s.begin_run(&lease, t, run.id, t0()).await.unwrap().unwrap();
    assert_eq!(running.state, RunState::Running);
    assert!(matches!(
        s.start_run(&request(&task, RunTrigger::Manual), t0())
            .await
            .unwrap(),
        RunStart::Busy(_)
    ));
    let listed = s.task(t, task.id).await.unwrap().unwrap();
    assert_eq!(listed.last_run.map(|r| r.id), Some(run.id));
}

pub async fn runs_finish_under_lease_and_move_the_cursor(s: &impl Store) {
    let (t, c, task) = import_task(s).await;
    let since = t0() - CDuration::days(30);
    let RunStart::Started(run) = s
        .start_run(
            &RunRequest {
                since: Some(since),
                until: None,
                ..request(&task, RunTrigger::Manual)
            },
            t0(),
        )
        .await
        .unwrap()
    else {
        panic!("not started")
    };
    assert_eq!(run.since, Some(since));
    // A crash: the lease expires and another worker begins the run again (counts reset).
    let (lease1, _) = claim_run(s, "w1", t0()).await;
    s.begin_run(&lease1, t, run.id, t0())
        .await
        .unwrap()
        .unwrap();
    let counts = RunCounts {
        calls: 3,
        seen: 400,
        created: 390,
        gaps: 2,
        expected: Some(1000),
        ..RunCounts::default()
    };
    s.progress_run(&lease1, t, run.id, &counts).await.unwrap();
    assert_eq!(s.task_run(t, run.id).await.unwrap().unwrap().counts, counts);
    assert_eq!(
        s.reap_expired(t0() + CDuration::minutes(5)).await.unwrap(),
        1
    );
    let jobs = s
        .claim_jobs(
            "w2",
            &[TASK_JOB_KIND],
            10,
            t0() + CDuration::minutes(5),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let lease2 = JobLease {
        job_id: jobs[0].id,
        owner: "w2".into(),
    };
    let again = s
        .begin_run(&lease2, t, run.id, t0() + CDuration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.counts, RunCounts::default());
    // The first worker's lease is gone: its finish writes nothing.
    let cursor = t0() - CDuration::hours(1);
    let end = RunEnd {
        counts: counts.clone(),
        error: None,
        cursor: Some(cursor),
    };
    assert!(!s.finish_run(&lease1, t, run.id, &end, t0()).await.unwrap());
    assert!(s
        .begin_run(&lease1, t, run.id, t0())
        .await
        .unwrap()
        .is_none());
    let stale = RunCounts {
        seen: 9999,
        ..RunCounts::default()
    };
    s.progress_run(&lease1, t, run.id, &stale).await.unwrap();
    assert_eq!(
        s.task_run(t, run.id).await.unwrap().unwrap().counts,
        RunCounts::default(),
        "a worker that lost the run writes no progress"
    );
    // A failed run keeps the cursor where it was.
    let failed = RunEnd {
        error: Some("platform_unavailable: HTTP 503".into()),
        ..end.clone()
    };
    let now = t0() + CDuration::minutes(6);
    assert!(s
        .finish_run(&lease2, t, run.id, &failed, now)
        .await
        .unwrap());
    let done = s.task_run(t, run.id).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.finished_at, done.error.as_deref()),
        (
            RunState::Failed,
            Some(now),
            Some("platform_unavailable: HTTP 503")
        )
    );
    let stored = s.task(t, task.id).await.unwrap().unwrap();
    assert_eq!(stored.cursor, task.cursor);
    assert_eq!(s.job_counts().await.unwrap(), JobCounts::default());
    assert_eq!(s.poll_gaps(t, c).await.unwrap(), 2);
    // The failure is an event, written with it (a lost lease wrote none).
    let q = EventQuery {
        after: 0,
        types: vec![ponte_core::event::EventType::TaskRunFailed],
        limit: 10,
    };
    let ev = s.events(t, &q).await.unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event.data["id"], serde_json::json!(run.id));
    assert_eq!(ev[0].event.data["error"], "platform_unavailable: HTTP 503");

    // A successful run moves it; runs list newest first.
    let RunStart::Started(run2) = s
        .start_run(&request(&task, RunTrigger::RunNow), now)
        .await
        .unwrap()
    else {
        panic!("not started")
    };
    let (lease, _) = claim_run(s, "w1", now).await;
    s.begin_run(&lease, t, run2.id, now).await.unwrap().unwrap();
    assert!(s.finish_run(&lease, t, run2.id, &end, now).await.unwrap());
    let stored = s.task(t, task.id).await.unwrap().unwrap();
    assert_eq!(stored.cursor, Some(cursor));
    assert_eq!(
        stored.last_run.map(|r| (r.id, r.state)),
        Some((run2.id, RunState::Succeeded))
    );
    let page = s.task_runs(t, task.id, &page_of(1)).await.unwrap();
    assert_eq!(page.items[0].id, run2.id);
    let rest = s
        .task_runs(
            t,
            task.id,
            &PageRequest {
                cursor: page.next_cursor,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [run.id]
    );
    assert_eq!(s.poll_gaps(t, c).await.unwrap(), 4);
    assert!(s.task_run(TenantId::new(), run.id).await.unwrap().is_none());
}

fn listed(t: TenantId, c: ChannelId, o: MappedOrder) -> ImportCommit {
    ImportCommit {
        lease: None,
        tenant_id: t,
        channel_id: c,
        external_id: o.data.external_id.clone(),
        call: CallRecord {
            request: "GET /orders?updated_at_min=x&page=1".into(),
            status: Some(200),
            duration_ms: 5,
            error: None,
        },
        read_at: t0(),
        result: ImportResult::Fetched {
            order: Box::new(o),
            policy: ImportPolicy::All,
        },
    }
}

pub async fn polled_orders_import_without_jobs(s: &impl Store) {
    let (t, c) = setup(s).await;
    let v1 = t0();
    let v2 = t0() + CDuration::minutes(1);
    // "1" was announced by a webhook still waiting; "2" was not.
    s.accept_deliveries(&[delivery(t, c, "1", v1)])
        .await
        .unwrap();
    let out = s
        .apply_polled(
            vec![
                listed(t, c, mapped("1", OrderStatus::AwaitingPayment, v1)),
                listed(t, c, mapped("2", OrderStatus::AwaitingPayment, v1)),
            ],
            v1,
        )
        .await
        .unwrap();
    assert!(matches!(out[0].applied, ImportApplied::Created(_)) && out[0].announced);
    assert!(matches!(out[1].applied, ImportApplied::Created(_)) && !out[1].announced);
    // The waiting delivery was settled by the listing; its job finds the order as is.
    let waiting = s
        .deliveries(
            t,
            &DeliveryFilter {
                state: Some(DeliveryState::Received),
                ..DeliveryFilter::default()
            },
            &page_of(10),
        )
        .await
        .unwrap();
    assert!(waiting.items.is_empty());
    // Read again (overlap window): unchanged; a newer version: updated; an older: stale.
    let out = s
        .apply_polled(
            vec![
                listed(t, c, mapped("1", OrderStatus::AwaitingPayment, v1)),
                listed(t, c, mapped("2", OrderStatus::Approved, v2)),
            ],
            v2,
        )
        .await
        .unwrap();
    assert!(matches!(out[0].applied, ImportApplied::Unchanged(_)));
    assert!(matches!(out[1].applied, ImportApplied::Updated(_)) && !out[1].announced);
    let out = s
        .apply_polled(
            vec![listed(t, c, mapped("2", OrderStatus::AwaitingPayment, v1))],
            v2,
        )
        .await
        .unwrap();
    assert_eq!(out[0].applied, ImportApplied::Stale);
    let orders = s
        .orders(t, &OrderFilter::default(), &page_of(10))
        .await
        .unwrap();
    assert_eq!(orders.items.len(), 2, "no duplicates");
    let timeline = s.timeline(t, c, "2").await.unwrap();
    assert!(timeline.iter().any(|e| e.kind == "status_changed"));
}

pub async fn sweeps_and_tenant_settings(s: &impl Store) {
    let (t, c) = setup(s).await;
    assert_eq!(s.tenants().await.unwrap(), vec![t]);
    assert_eq!(s.tenant_settings(t).await.unwrap(), serde_json::json!({}));
    let settings = serde_json::json!({"auto_cancel_awaiting_payment_after_days": 3});
    s.set_tenant_settings(t, &settings).await.unwrap();
    assert_eq!(s.tenant_settings(t).await.unwrap(), settings);

    let statuses = [
        OrderStatus::AwaitingPayment,
        OrderStatus::PaymentInReview,
        OrderStatus::Approved,
        OrderStatus::AwaitingPayment,
    ];
    let commits = statuses
        .iter()
        .enumerate()
        .map(|(i, st)| {
            listed(
                t,
                c,
                mapped(&i.to_string(), *st, t0() - CDuration::days(i as i64)),
            )
        })
        .collect();
    s.apply_polled(commits, t0()).await.unwrap();
    let waiting = [OrderStatus::AwaitingPayment, OrderStatus::PaymentInReview];
    let all = s
        .orders_in_status(t, Some(c), &waiting, None, 10)
        .await
        .unwrap();
    let mut ext: Vec<&str> = all.iter().map(|o| o.external_id.as_str()).collect();
    ext.sort_unstable();
    assert_eq!(ext, ["0", "1", "3"]);
    let three = all.iter().find(|o| o.external_id == "3").unwrap();
    assert_eq!(three.placed_at, Some(t0() - CDuration::days(3)));
    assert_eq!(three.channel_id, c);
    // Paging by id.
    let first = s
        .orders_in_status(t, None, &waiting, None, 2)
        .await
        .unwrap();
    let rest = s
        .orders_in_status(t, None, &waiting, Some(first[1].id), 2)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 3);
    assert!(s
        .orders_in_status(t, Some(ChannelId::new()), &waiting, None, 10)
        .await
        .unwrap()
        .is_empty());
}
