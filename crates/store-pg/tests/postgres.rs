//! PostgreSQL-only behaviour: concurrent claimers and importers, LISTEN/NOTIFY, schema guard,
//! connection errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ponte_core::import::ImportPolicy;
use ponte_core::{ChannelId, OrderStatus, TenantId};
use ponte_store::conformance::{self, t0};
use ponte_store::*;
use ponte_store_pg::{JobWakes, JobsAdded, PgStore};
use sqlx::{Connection, PgConnection};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// A delivery of order `ext` received at t0, with its import job.
fn delivery(t: TenantId, c: ChannelId, ext: &str) -> NewDelivery {
    conformance::delivery(t, c, ext, t0())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_claim_the_same_job() {
    let dbs = common::Databases::default();
    let (a, b, _) = dbs.instances(4).await;
    let t = a.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let batch: Vec<_> = (0..500).map(|i| delivery(t, c, &i.to_string())).collect();
    a.accept_deliveries(&batch).await.unwrap();
    assert_eq!(a.job_counts().await.unwrap().pending, 500);

    let start = Arc::new(tokio::sync::Barrier::new(2));
    let claimer = |s: PgStore, owner: &'static str| {
        let start = start.clone();
        tokio::spawn(async move {
            start.wait().await;
            let mut got = Vec::new();
            loop {
                let jobs = s
                    .claim_jobs(owner, &["import_order"], 7, t0(), Duration::from_secs(60))
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    return got;
                }
                assert!(jobs.iter().all(|j| j.lease_owner == owner));
                got.extend(jobs.into_iter().map(|j| j.id));
            }
        })
    };
    let (ga, gb) = tokio::join!(claimer(a.clone(), "a"), claimer(b.clone(), "b"));
    let (ga, gb) = (ga.unwrap(), gb.unwrap());
    let sa: HashSet<_> = ga.iter().copied().collect();
    let sb: HashSet<_> = gb.iter().copied().collect();
    assert_eq!(sa.len(), ga.len(), "a claimed a job twice");
    assert_eq!(sb.len(), gb.len(), "b claimed a job twice");
    assert!(sa.is_disjoint(&sb), "a job was claimed by both");
    assert_eq!(sa.len() + sb.len(), 500, "every job was claimed");
    assert!(!sa.is_empty() && !sb.is_empty(), "both claimers got work");
    let counts = a.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (0, 500));
    a.close().await;
    b.close().await;
}

fn kinds(k: &std::collections::BTreeSet<String>) -> Vec<&str> {
    k.iter().map(String::as_str).collect()
}

/// The next wake-up, or `None` once the listener stopped; panics after 10 s.
async fn recv(rx: &mut JobWakes) -> Option<JobsAdded> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no wake-up within 10 s")
}

#[tokio::test]
async fn job_listener_hears_jobs_added_by_any_instance() {
    let dbs = common::Databases::default();
    let (a, b, _) = dbs.instances(2).await;
    let mut rx = a.job_listener().await.unwrap();
    let t = b.default_tenant(t0()).await.unwrap();

    b.accept_deliveries(&[delivery(t, ChannelId::new(), "1")])
        .await
        .unwrap();
    let added = recv(&mut rx).await.unwrap();
    assert_eq!(
        kinds(&added.kinds),
        ["import_order"],
        "woken by accept_deliveries"
    );
    assert!(!added.any);

    let job = NewJob {
        kind: "sync_stock".into(),
        payload: serde_json::json!({}),
        unique_key: None,
        run_at: t0(),
    };
    b.enqueue(&[(t, job.clone())]).await.unwrap();
    let added = recv(&mut rx).await.unwrap();
    assert_eq!(kinds(&added.kinds), ["sync_stock"], "woken by enqueue");

    // Its own jobs are reported apart (its engine woke its loops for some of them).
    a.enqueue(&[(
        t,
        NewJob {
            kind: "task_run".into(),
            ..job
        },
    )])
    .await
    .unwrap();
    let added = recv(&mut rx).await.unwrap();
    assert_eq!(kinds(&added.own_kinds), ["task_run"]);
    assert!(added.kinds.is_empty() && !added.any);

    // Jobs returned to the queue by another instance: any kind.
    b.claim_jobs("w", &[], 10, t0(), Duration::from_secs(30))
        .await
        .unwrap();
    b.release_leases(Some("w")).await.unwrap();
    assert!(recv(&mut rx).await.unwrap().any, "woken by a release");

    // Closing the store ends the listener.
    a.close().await;
    assert_eq!(recv(&mut rx).await, None);
    b.close().await;
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused() {
    let dbs = common::Databases::default();
    let url = dbs.create().await;
    let store = PgStore::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', true, '\\x00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    match store.migrate().await {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 9999);
            assert!((2..9999).contains(&supported), "{supported}");
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    store.close().await;
}

#[tokio::test]
async fn connection_errors_are_clear() {
    let Err(StoreError::Database(msg)) =
        PgStore::connect("postgres://postgres:secret@127.0.0.1:1/postgres", 2).await
    else {
        panic!("connected to port 1")
    };
    assert!(msg.contains("database unreachable"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");

    let admin: sqlx::postgres::PgConnectOptions = common::admin_url().parse().unwrap();
    let bad_user = format!(
        "postgres://no_such_role_ponte:secret@{}:{}/postgres",
        admin.get_host(),
        admin.get_port()
    );
    let Err(StoreError::Database(msg)) = PgStore::connect(&bad_user, 2).await else {
        panic!("connected as a role that does not exist")
    };
    assert!(msg.contains("authentication failed"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");
    // No wait is too long to compute (an error waiting cannot fix returns at once).
    let r = PgStore::connect_with_retry(&bad_user, 2, Duration::MAX).await;
    assert!(matches!(r, Err(StoreError::Database(_))));

    let started = std::time::Instant::now();
    let r = PgStore::connect_with_retry(
        "postgres://postgres@127.0.0.1:1/postgres",
        2,
        Duration::from_secs(2),
    )
    .await;
    assert!(matches!(r, Err(StoreError::Database(_))));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "{took:?}"
    );

    // A reachable server connects at the first attempt.
    let store = PgStore::connect_with_retry(&common::admin_url(), 1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(store.backend(), "postgres");
    store.close().await;
}

async fn claim(s: &PgStore, owner: &str) -> Vec<Job> {
    s.claim_jobs(owner, &[], 100, t0(), Duration::from_secs(30))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_imports_of_one_order_are_serialised() {
    let dbs = common::Databases::default();
    let (a, b, _) = dbs.instances(4).await;
    let t = a.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    for round in 0..20 {
        let ext = format!("o{round}");
        // Two jobs of one order running at once: one claimed, then a new delivery's.
        a.accept_deliveries(&[delivery(t, c, &ext)]).await.unwrap();
        let ja = claim(&a, "a").await;
        a.accept_deliveries(&[delivery(t, c, &ext)]).await.unwrap();
        let jb = claim(&b, "b").await;
        let commit = |j: &Job| {
            let order = conformance::mapped(&ext, OrderStatus::Approved, t0());
            conformance::commit(
                j,
                t,
                c,
                &ext,
                t0(),
                conformance::fetched(order, ImportPolicy::All),
            )
        };
        let (ra, rb) = tokio::join!(
            a.apply_imports(vec![commit(&ja[0])], t0()),
            b.apply_imports(vec![commit(&jb[0])], t0())
        );
        let mut results = [ra.unwrap().remove(0), rb.unwrap().remove(0)];
        results.sort_by_key(|r| !matches!(r, ImportApplied::Created(_)));
        let ImportApplied::Created(id) = results[0] else {
            panic!("{results:?}")
        };
        assert_eq!(results[1], ImportApplied::Unchanged(id), "{results:?}");
    }
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn statistics_follow_a_burst_on_a_fresh_table() {
    let dbs = common::Databases::default();
    let s = dbs.store().await;
    let t = s.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let batch: Vec<_> = (0..3000).map(|i| delivery(t, c, &i.to_string())).collect();
    s.accept_deliveries(&batch).await.unwrap();
    // The server publishes its change counts within about a second.
    let mut refreshed = Vec::new();
    for _ in 0..50 {
        refreshed = s.refresh_statistics().await.unwrap();
        if refreshed.iter().any(|t| t == "jobs") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(refreshed.iter().any(|t| t == "jobs"), "{refreshed:?}");
    assert!(refreshed.iter().any(|t| t == "deliveries"), "{refreshed:?}");
    // Gathered once: not again before the spacing has passed.
    let again = s.refresh_statistics().await.unwrap();
    assert!(!again.iter().any(|t| t == "jobs"), "{again:?}");
}
