//! Conformance: the job queue — claims, leases and heartbeats, the reaper, retries,
//! and the rule that a unique key has at most one pending job.

use super::{claim_one, commit, delivery, fetched, mapped, page_of, setup, t0};
use crate::*;
use chrono::Duration as CDuration;
use ponte_core::import::ImportPolicy;
use ponte_core::{ChannelId, OrderStatus, TenantId};
use std::time::Duration;

fn lease(job: &Job) -> JobLease {
    JobLease {
        job_id: job.id,
        owner: job.lease_owner.clone(),
    }
}

async fn pending_running(s: &impl Store) -> (i64, i64) {
    let counts = s.job_counts().await.unwrap();
    (counts.pending, counts.running)
}

pub async fn claim_is_exclusive(s: &impl Store) {
    let (t, c) = setup(s).await;
    let batch: Vec<_> = (0..50)
        .map(|i| delivery(t, c, &i.to_string(), t0()))
        .collect();
    s.accept_deliveries(&batch).await.unwrap();
    // Real concurrency between claimers is exercised by the multi-instance tests.
    let a = s
        .claim_jobs("a", &["import_order"], 30, t0(), Duration::from_secs(30))
        .await
        .unwrap();
    let b = s
        .claim_jobs("b", &["import_order"], 30, t0(), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(a.len() + b.len(), 50);
    let mut ids: Vec<_> = a.iter().chain(b.iter()).map(|j| j.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "no job is claimed twice");
    // Not due yet: nothing claimed.
    let later = NewJob {
        kind: "import_order".into(),
        payload: serde_json::json!({}),
        unique_key: None,
        run_at: t0() + CDuration::hours(1),
    };
    s.enqueue(&[(t, later.clone())]).await.unwrap();
    assert!(claim_one(s, "c", t0()).await.is_empty());
    assert_eq!(
        s.next_run_at(&[]).await.unwrap(),
        Some(t0() + CDuration::hours(1))
    );
    // Per kinds: a loop that runs other kinds sleeps past it.
    let sooner = NewJob {
        kind: "task_run".into(),
        run_at: t0() + CDuration::minutes(5),
        ..later
    };
    s.enqueue(&[(t, sooner)]).await.unwrap();
    assert_eq!(
        s.next_run_at(&["import_order"]).await.unwrap(),
        Some(t0() + CDuration::hours(1))
    );
    assert_eq!(
        s.next_run_at(&["task_run", "import_order"]).await.unwrap(),
        Some(t0() + CDuration::minutes(5))
    );
    assert_eq!(s.next_run_at(&["stock_push"]).await.unwrap(), None);
}

pub async fn lease_expiry_and_guarded_completion(s: &impl Store) {
    let (t, c) = setup(s).await;
    s.accept_deliveries(&[delivery(t, c, "7", t0())])
        .await
        .unwrap();
    let jobs = claim_one(s, "dead", t0()).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        s.reap_expired(t0() + CDuration::seconds(10)).await.unwrap(),
        0,
        "lease still valid"
    );
    assert_eq!(
        s.reap_expired(t0() + CDuration::seconds(31)).await.unwrap(),
        1
    );
    let again = claim_one(s, "alive", t0() + CDuration::seconds(31)).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, jobs[0].id);
    // The old owner's completion is refused and writes nothing.
    let old = commit(
        &jobs[0],
        t,
        c,
        "7",
        t0() + CDuration::seconds(31),
        fetched(mapped("7", OrderStatus::Approved, t0()), ImportPolicy::All),
    );
    assert_eq!(
        s.apply_imports(vec![old], t0()).await.unwrap(),
        vec![ImportApplied::LeaseLost]
    );
    let lease = JobLease {
        job_id: jobs[0].id,
        owner: "dead".into(),
    };
    assert!(!s.finish_job(&lease, &JobOutcome::Done, t0()).await.unwrap());
    let new = commit(
        &again[0],
        t,
        c,
        "7",
        t0() + CDuration::seconds(31),
        fetched(mapped("7", OrderStatus::Approved, t0()), ImportPolicy::All),
    );
    assert!(matches!(
        s.apply_imports(vec![new], t0()).await.unwrap()[0],
        ImportApplied::Created(_)
    ));
    let page = s
        .orders(t, &OrderFilter::default(), &page_of(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let counts = s.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (0, 0));
    // Releasing a dead owner's leases returns them at once.
    s.accept_deliveries(&[delivery(t, c, "8", t0())])
        .await
        .unwrap();
    claim_one(s, "gone", t0()).await;
    assert_eq!(s.release_leases(Some("gone")).await.unwrap(), 1);
    assert_eq!(s.job_counts().await.unwrap().pending, 1);
}

/// An older run and its newer twin (same unique key) both running when the process
/// died: every way of releasing leases leaves exactly one pending job for the key.
pub async fn running_twins_release_to_one(s: &impl Store) {
    let (t, c) = setup(s).await;
    /// Makes two running jobs for order `ext`, the newer one claimed by `owner`.
    async fn twins(s: &impl Store, t: TenantId, c: ChannelId, ext: &str, owner: &str) {
        s.accept_deliveries(&[delivery(t, c, ext, t0())])
            .await
            .unwrap();
        assert_eq!(claim_one(s, owner, t0()).await.len(), 1);
        s.accept_deliveries(&[delivery(t, c, ext, t0() + CDuration::seconds(1))])
            .await
            .unwrap();
        assert_eq!(
            claim_one(s, owner, t0() + CDuration::seconds(1))
                .await
                .len(),
            1
        );
    }
    twins(s, t, c, "1", "crashed").await;
    assert_eq!(s.job_counts().await.unwrap().running, 2);
    // Start-up of the only process: every lease.
    assert_eq!(s.release_leases(None).await.unwrap(), 2);
    let counts = s.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 0));
    // Again with a pending third twin: both running ones fold into it.
    let again = claim_one(s, "crashed", t0() + CDuration::seconds(2)).await;
    assert_eq!(again.len(), 1);
    twins(s, t, c, "2", "crashed").await;
    s.accept_deliveries(&[delivery(t, c, "2", t0() + CDuration::seconds(3))])
        .await
        .unwrap();
    assert_eq!(s.release_leases(Some("crashed")).await.unwrap(), 3);
    let counts = s.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (2, 0));
    // Expired leases of twins are reaped to one pending job.
    let all = claim_one(s, "old", t0() + CDuration::seconds(4)).await;
    assert_eq!(all.len(), 2);
    s.accept_deliveries(&[delivery(t, c, "1", t0() + CDuration::seconds(5))])
        .await
        .unwrap();
    assert_eq!(
        claim_one(s, "old", t0() + CDuration::seconds(5))
            .await
            .len(),
        1
    );
    assert_eq!(
        s.reap_expired(t0() + CDuration::minutes(5)).await.unwrap(),
        3
    );
    let counts = s.job_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (2, 0));
    let jobs = claim_one(s, "new", t0() + CDuration::minutes(5)).await;
    assert_eq!(jobs.len(), 2, "one job per order survives");
}

pub async fn retry_backoff_run_at(s: &impl Store) {
    let (t, c) = setup(s).await;
    s.accept_deliveries(&[delivery(t, c, "9", t0())])
        .await
        .unwrap();
    let jobs = claim_one(s, "w", t0()).await;
    let retry = JobOutcome::Retry {
        run_at: t0() + CDuration::seconds(20),
        count_attempt: true,
        error: "503".into(),
    };
    let r = s
        .apply_imports(
            vec![commit(
                &jobs[0],
                t,
                c,
                "9",
                t0(),
                ImportResult::FetchFailed { outcome: retry },
            )],
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(r, vec![ImportApplied::Retrying]);
    assert!(
        claim_one(s, "w", t0() + CDuration::seconds(19))
            .await
            .is_empty(),
        "not before run_at"
    );
    let jobs = claim_one(s, "w", t0() + CDuration::seconds(20)).await;
    assert_eq!(jobs[0].attempts, 1);
    let wait = JobOutcome::Retry {
        run_at: t0() + CDuration::seconds(25),
        count_attempt: false,
        error: "429".into(),
    };
    assert!(s
        .finish_job(
            &JobLease {
                job_id: jobs[0].id,
                owner: "w".into()
            },
            &wait,
            t0()
        )
        .await
        .unwrap());
    let jobs = claim_one(s, "w", t0() + CDuration::seconds(25)).await;
    assert_eq!(
        jobs[0].attempts, 1,
        "a rate-limit wait does not use an attempt"
    );
    let fail = JobOutcome::Failed {
        error: "401 unauthorized".into(),
    };
    let r = s
        .apply_imports(
            vec![commit(
                &jobs[0],
                t,
                c,
                "9",
                t0(),
                ImportResult::FetchFailed { outcome: fail },
            )],
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(r, vec![ImportApplied::Failed]);
    assert_eq!(s.job_counts().await.unwrap().failed, 1);
    let failed = s
        .deliveries(
            t,
            &DeliveryFilter {
                state: Some(DeliveryState::Failed),
                ..Default::default()
            },
            &page_of(10),
        )
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].error.as_deref(), Some("401 unauthorized"));
}

/// A heartbeat extends only its owner's running leases: the reaper leaves them, and
/// returns the other owners' jobs once their leases run out.
pub async fn heartbeat_keeps_only_its_owners_leases(s: &impl Store) {
    let (t, c) = setup(s).await;
    let batch: Vec<_> = ["1", "2", "3"]
        .iter()
        .map(|ext| delivery(t, c, ext, t0()))
        .collect();
    s.accept_deliveries(&batch).await.unwrap();
    let mine = s
        .claim_jobs("alive", &["import_order"], 2, t0(), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    let theirs = claim_one(s, "dead", t0()).await;
    assert_eq!(theirs.len(), 1);
    s.accept_deliveries(&[delivery(t, c, "4", t0())])
        .await
        .unwrap();
    let until = t0() + CDuration::seconds(50);
    assert_eq!(
        s.heartbeat("alive", until).await.unwrap(),
        2,
        "the owner's running leases only"
    );
    assert_eq!(s.heartbeat("nobody", until).await.unwrap(), 0);
    // The first leases ran out: only the dead owner's job goes back to the queue.
    let later = t0() + CDuration::seconds(40);
    assert_eq!(s.reap_expired(later).await.unwrap(), 1);
    assert_eq!(pending_running(s).await, (2, 2));
    assert!(
        s.finish_job(&lease(&mine[0]), &JobOutcome::Done, later)
            .await
            .unwrap(),
        "a kept lease still completes"
    );
    assert!(!s
        .finish_job(&lease(&theirs[0]), &JobOutcome::Done, later)
        .await
        .unwrap());
    let again = claim_one(s, "new", later).await;
    assert!(
        again.iter().any(|j| j.id == theirs[0].id),
        "reaped job runs again"
    );
    s.release_leases(Some("new")).await.unwrap();
    // Without another heartbeat, the extended lease runs out in turn.
    assert_eq!(
        s.reap_expired(until - CDuration::seconds(1)).await.unwrap(),
        0
    );
    assert_eq!(
        s.reap_expired(until + CDuration::seconds(1)).await.unwrap(),
        1
    );
    assert_eq!(pending_running(s).await, (3, 0));
}

/// A job that ends while a twin (same unique key) is pending folds into the twin:
/// retries by `finish_job` and by `apply_imports` (whose batch carries on), and every
/// way of releasing leases.
pub async fn retries_and_releases_fold_into_a_pending_twin(s: &impl Store) {
    let (t, c) = setup(s).await;
    let retry = JobOutcome::Retry {
        run_at: t0() + CDuration::seconds(10),
        count_attempt: true,
        error: "503".into(),
    };
    // One batch, one key: one job, at the earliest run_at.
    let late = delivery(t, c, "1", t0() + CDuration::seconds(5));
    let early = delivery(t, c, "1", t0() - CDuration::seconds(5));
    s.accept_deliveries(&[late, early]).await.unwrap();
    assert_eq!(s.job_counts().await.unwrap().pending, 1);
    assert_eq!(
        s.next_run_at(&[]).await.unwrap(),
        Some(t0() - CDuration::seconds(5))
    );

    // finish_job: a retry while a twin is pending folds into the twin.
    let first = claim_one(s, "w", t0()).await;
    assert_eq!(first.len(), 1);
    s.accept_deliveries(&[delivery(t, c, "1", t0())])
        .await
        .unwrap();
    assert!(s.finish_job(&lease(&first[0]), &retry, t0()).await.unwrap());
    assert_eq!(pending_running(s).await, (1, 0));

    // apply_imports: the same, inside the batch transaction (which must survive it).
    let second = claim_one(s, "w", t0()).await;
    assert_eq!(second.len(), 1);
    s.accept_deliveries(&[delivery(t, c, "1", t0())])
        .await
        .unwrap();
    let failed = commit(
        &second[0],
        t,
        c,
        "1",
        t0(),
        ImportResult::FetchFailed { outcome: retry },
    );
    assert_eq!(
        s.apply_imports(vec![failed], t0()).await.unwrap(),
        vec![ImportApplied::Retrying]
    );
    assert_eq!(pending_running(s).await, (1, 0));
    let tl = s.timeline(t, c, "1").await.unwrap();
    assert_eq!(tl.iter().filter(|e| e.kind == "fetched").count(), 1);

    // Release: a leased job with a pending twin is dropped; of two leased jobs with
    // one key, one goes back to the queue.
    let third = claim_one(s, "x", t0()).await;
    s.accept_deliveries(&[delivery(t, c, "1", t0())])
        .await
        .unwrap();
    let fourth = claim_one(s, "y", t0()).await;
    assert_eq!((third.len(), fourth.len()), (1, 1));
    assert_ne!(third[0].id, fourth[0].id);
    assert_eq!(s.release_leases(None).await.unwrap(), 2);
    assert_eq!(pending_running(s).await, (1, 0));
    s.accept_deliveries(&[delivery(t, c, "1", t0())])
        .await
        .unwrap();
    let fifth = claim_one(s, "z", t0()).await;
    assert_eq!(fifth.len(), 1);
    s.accept_deliveries(&[delivery(t, c, "1", t0())])
        .await
        .unwrap();
    assert_eq!(s.release_leases(Some("z")).await.unwrap(), 1);
    assert_eq!(pending_running(s).await, (1, 0));
}
