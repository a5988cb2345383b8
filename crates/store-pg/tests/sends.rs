//! PostgreSQL status sends: what the shared conformance suite cannot show on one
//! instance — actions and imports of one order racing from two instances, and workers
//! woken by notifications.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::import::ImportPolicy;
use ponte_core::order::MappedOrder;
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use ponte_store::conformance::sends::{act, apply, claim, round, separation};
use ponte_store::conformance::{commit, fetched, mapped, t0};
use ponte_store::*;
use ponte_store_pg::{JobWakes, JobsAdded, PgStore};
use std::time::Duration;

fn secs(n: i64) -> DateTime<Utc> {
    t0() + CDuration::seconds(n)
}

/// A claimed import job of the order, committed with `order`.
async fn import_commit(s: &PgStore, t: TenantId, c: ChannelId, order: MappedOrder) -> ImportCommit {
    let ext = order.data.external_id.clone();
    let job = NewJob {
        kind: "import_order".into(),
        payload: serde_json::json!({}),
        unique_key: Some(import_job_key(c, &ext)),
        run_at: t0(),
    };
    s.enqueue(&[(t, job)]).await.unwrap();
    let jobs = s
        .claim_jobs(
            "importer",
            &["import_order"],
            1,
            t0(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    commit(
        &jobs[0],
        t,
        c,
        &ext,
        t0(),
        fetched(order, ImportPolicy::All),
    )
}

async fn paid_order(s: &PgStore, t: TenantId, c: ChannelId, ext: &str) -> OrderId {
    let commit = import_commit(s, t, c, mapped(ext, OrderStatus::Approved, t0())).await;
    match s.apply_imports(vec![commit], t0()).await.unwrap()[0] {
        ImportApplied::Created(id) => id,
        ref other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_and_imports_of_one_order_are_serialised() {
    let dbs = common::Databases::default();
    let (a, b, _) = dbs.instances(4).await;
    let t = a.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    for round in 0..20 {
        let ext = format!("o{round}");
        let o = paid_order(&a, t, c, &ext).await;
        // A newer platform snapshot, still "approved", imported while the ERP separates.
        let mut newer = mapped(&ext, OrderStatus::Approved, secs(10));
        newer.data.number = Some("changed".into());
        let commit = import_commit(&b, t, c, newer).await;
        let action = act(t, o, separation(), true);
        let (ra, rb) = tokio::join!(
            apply(&a, &action, secs(5)),
            b.apply_imports(vec![commit], secs(5))
        );
        assert!(matches!(ra.unwrap(), ActionApplied::Applied { .. }));
        assert_eq!(rb.unwrap(), [ImportApplied::Updated(o)]);
        let stored = a.order(t, o).await.unwrap().unwrap();
        assert_eq!(
            stored.data.status,
            OrderStatus::InSeparation,
            "round {round}"
        );
        assert_eq!(stored.data.number.as_deref(), Some("changed"));
        assert!(stored.fulfilment.separation.is_some());
    }
    a.close().await;
    b.close().await;
}

/// What the next wake-up reports; panics after 10 s.
async fn recv(rx: &mut JobWakes) -> JobsAdded {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no wake-up within 10 s")
        .expect("listener stopped")
}

/// Drops the wake-ups already heard.
async fn drain(rx: &mut JobWakes) {
    while tokio::time::timeout(Duration::from_millis(200), rx.recv())
        .await
        .is_ok()
    {}
}

/// Each change that makes a send due notifies the other instances, naming the kind.
#[tokio::test]
async fn workers_are_woken_by_actions_resends_and_wakes() {
    let dbs = common::Databases::default();
    let (s, other, _) = dbs.instances(4).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let o = paid_order(&s, t, c, "1").await;
    let mut rx = other.job_listener().await.unwrap();
    drain(&mut rx).await;
    let ActionApplied::Applied { send: Some(id), .. } =
        apply(&s, &act(t, o, separation(), true), t0())
            .await
            .unwrap()
    else {
        panic!("no send")
    };
    let sends = std::collections::BTreeSet::from([SEND_JOB_KIND.to_owned()]);
    assert_eq!(recv(&mut rx).await.kinds, sends, "action");
    round(&s, t0(), SendOutcome::Failed).await;
    drain(&mut rx).await;
    assert_eq!(
        s.resend(t, &ResendSelector::Ids(vec![id]), secs(1))
            .await
            .unwrap(),
        [id]
    );
    assert_eq!(recv(&mut rx).await.kinds, sends, "resend");
    round(&s, secs(1), SendOutcome::Held { run_at: secs(3600) }).await;
    drain(&mut rx).await;
    assert_eq!(s.wake_channel_sends(t, c, secs(2)).await.unwrap(), 1);
    assert_eq!(recv(&mut rx).await.kinds, sends, "held sends released");
    assert_eq!(s.next_run_at(&[]).await.unwrap(), Some(secs(2)));
    assert_eq!(claim(&s, "w", secs(2)).await.len(), 1);
    s.close().await;
    other.close().await;
}
