//! PostgreSQL-only behaviour of task runs: instances racing to start one task's run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration as CDuration;
use ponte_core::{ChannelId, RunId, TenantId};
use ponte_store::conformance::t0;
use ponte_store::*;
use ponte_store_pg::PgStore;
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::time::Duration;

/// `n` import tasks of one tenant (one channel each), due at t0.
async fn tasks(s: &PgStore, n: usize) -> (TenantId, Vec<ScheduledTask>) {
    let t = s.default_tenant(t0()).await.unwrap();
    let new: Vec<NewTask> = (0..n)
        .map(|_| NewTask {
            tenant_id: t,
            kind: TaskKind::ImportOrders,
            channel_id: Some(ChannelId::new()),
            interval_secs: 600,
            next_run_at: t0(),
            cursor: None,
        })
        .collect();
    s.ensure_tasks(&new, t0()).await.unwrap();
    (t, s.tasks(t, None).await.unwrap())
}

fn run_now(task: &ScheduledTask) -> RunRequest {
    RunRequest {
        tenant_id: task.tenant_id,
        task_id: task.id,
        trigger: RunTrigger::RunNow,
        since: None,
        until: None,
        fire: None,
    }
}

async fn task_jobs(s: &PgStore) -> u64 {
    let jobs = s
        .claim_jobs("probe", &[TASK_JOB_KIND], 500, t0(), Duration::from_secs(1))
        .await
        .unwrap();
    s.release_leases(Some("probe")).await.unwrap();
    jobs.len() as u64
}

/// Inserts an active run of `task` in a transaction left open on `conn`; its id.
async fn open_active_run(conn: &mut PgConnection, task: &ScheduledTask) -> RunId {
    let id = RunId::new();
    sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
    sqlx::query(
        "INSERT INTO task_runs (tenant_id, id, task_id, kind, channel_id, trigger, state, created_at) \
         VALUES ($1, $2, $3, 'import_orders', $4, 'run_now', 'queued', $5)",
    )
    .bind(task.tenant_id.0)
    .bind(id.0)
    .bind(task.id.0)
    .bind(task.channel_id.map(|c| c.0))
    .bind(t0())
    .execute(&mut *conn)
    .await
    .unwrap();
    id
}

/// Two run-nows see no active run and both insert: the one that loses the unique index
/// answers `Busy` with the winner's run (not an error); if the winner rolls back, it
/// starts its own run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_now_racing_an_uncommitted_run_waits_for_its_outcome() {
    let dbs = common::Databases::default();
    let url = dbs.create().await;
    let s = PgStore::connect(&url, 4).await.unwrap();
    s.migrate().await.unwrap();
    let (_, all) = tasks(&s, 2).await;
    let mut other = PgConnection::connect(&url).await.unwrap();

    // The other transaction commits: Busy with its run.
    let winner = open_active_run(&mut other, &all[0]).await;
    let racing = tokio::spawn({
        let (s, req) = (s.clone(), run_now(&all[0]));
        async move { s.start_run(&req, t0()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !racing.is_finished(),
        "start_run waits for the other insert"
    );
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    match racing.await.unwrap().unwrap() {
        RunStart::Busy(run) => assert_eq!(run.id, winner),
        other => panic!("{other:?}"),
    }

    // The other transaction rolls back: this one starts.
    open_active_run(&mut other, &all[1]).await;
    let racing = tokio::spawn({
        let (s, req) = (s.clone(), run_now(&all[1]));
        async move { s.start_run(&req, t0()).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    assert!(matches!(
        racing.await.unwrap().unwrap(),
        RunStart::Started(_)
    ));
    // Only the started run has a job (the committed foreign run was inserted by hand).
    assert_eq!(task_jobs(&s).await, 1);
    other.close().await.unwrap();
    s.close().await;
}

/// Two instances start every task at once, by run now and by firing the same due time:
/// each task gets exactly one run and one job; the losers are told why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_racing_start_one_run_per_task() {
    let dbs = common::Databases::default();
    let (a, b, _) = dbs.instances(4).await;
    let (t, all) = tasks(&a, 40).await;
    let all = Arc::new(all);
    let next = t0() + CDuration::seconds(600);

    let start = Arc::new(tokio::sync::Barrier::new(4));
    // Each racer: run now or fire, every task in turn.
    let racer = |s: PgStore, fire: bool| {
        let (start, all) = (start.clone(), all.clone());
        tokio::spawn(async move {
            start.wait().await;
            let mut out = Vec::new();
            for task in all.iter() {
                let req = RunRequest {
                    trigger: if fire {
                        RunTrigger::Schedule
                    } else {
                        RunTrigger::RunNow
                    },
                    fire: fire.then_some((t0(), next)),
                    ..run_now(task)
                };
                out.push(s.start_run(&req, t0()).await.unwrap());
            }
            out
        })
    };
    let (ra, rb, fa, fb) = tokio::join!(
        racer(a.clone(), false),
        racer(b.clone(), false),
        racer(a.clone(), true),
        racer(b.clone(), true),
    );
    let results = [ra.unwrap(), rb.unwrap(), fa.unwrap(), fb.unwrap()];
    for (i, task) in all.iter().enumerate() {
        let got: Vec<&RunStart> = results.iter().map(|r| &r[i]).collect();
        let started: Vec<&TaskRun> = got
            .iter()
            .filter_map(|r| match r {
                RunStart::Started(run) => Some(run),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 1, "task {i}: {got:?}");
        let run = started[0];
        for r in &got {
            match r {
                RunStart::Started(_) => {}
                RunStart::Busy(busy) => assert_eq!(busy.id, run.id, "task {i}"),
                RunStart::NotFired => {}
            }
        }
        // Run nows are never NotFired; of the two firings exactly one fired.
        assert!(!matches!(got[0], RunStart::NotFired) && !matches!(got[1], RunStart::NotFired));
        let fired = got[2..]
            .iter()
            .filter(|r| !matches!(r, RunStart::NotFired))
            .count();
        assert_eq!(fired, 1, "task {i}: {got:?}");
        let stored = a.task(t, task.id).await.unwrap().unwrap();
        assert_eq!(stored.next_run_at, next);
        assert_eq!(stored.last_run.map(|r| r.id), Some(run.id));
    }
    assert_eq!(task_jobs(&a).await, all.len() as u64);
    a.close().await;
    b.close().await;
}
