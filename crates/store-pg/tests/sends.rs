//! PostgreSQL status sends: what the shared conformance suite does not reach (batches
//! mixing outcomes, a job added while another of the order runs, serialisation with
//! imports, the stored columns, notifications).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration as CDuration, TimeZone, Utc};
use ponte_core::action::*;
use ponte_core::import::ImportPolicy;
use ponte_core::order::*;
use ponte_core::{ChannelId, OrderId, OrderStatus, SendId, TenantId};
use ponte_store::conformance::sends::{
    apply as conformance_apply, claim, invoice, separation, shipment, started,
};
use ponte_store::*;
use ponte_store_pg::PgStore;
use sqlx::{Connection, PgConnection};
use std::time::Duration;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

fn secs(n: i64) -> DateTime<Utc> {
    t0() + CDuration::seconds(n)
}

/// A store on a fresh database, and a direct connection to look at its rows.
async fn fresh(dbs: &common::Databases) -> (PgStore, PgConnection) {
    let url = dbs.create().await;
    let s = PgStore::connect(&url, 4).await.unwrap();
    s.migrate().await.unwrap();
    (s, PgConnection::connect(&url).await.unwrap())
}

fn mapped(ext: &str, status: OrderStatus, updated: DateTime<Utc>) -> MappedOrder {
    MappedOrder {
        data: OrderData {
            external_id: ext.into(),
            number: Some(ext.into()),
            status,
            payment: Payment::default(),
            items: vec![],
            customer: Customer::default(),
            billing_address: None,
            shipping_address: None,
            shipping: Shipping::default(),
            totals: Totals::default(),
            currency: Some("BRL".into()),
            placed_at: Some(t0()),
            platform_updated_at: Some(updated),
            paid_at: None,
            cancelled_at: None,
            platform_status: PlatformStatus::default(),
        },
        closed_at_platform: false,
        raw: serde_json::json!({ "id": ext }),
    }
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
    ImportCommit {
        lease: Some(JobLease {
            job_id: jobs[0].id,
            owner: jobs[0].lease_owner.clone(),
        }),
        tenant_id: t,
        channel_id: c,
        external_id: ext,
        call: CallRecord {
            request: "GET /orders/1".into(),
            status: Some(200),
            duration_ms: 1,
            error: None,
        },
        result: ImportResult::Fetched {
            order: Box::new(order),
            policy: ImportPolicy::All,
        },
    }
}

async fn paid_order(s: &PgStore, t: TenantId, c: ChannelId, ext: &str) -> OrderId {
    let commit = import_commit(s, t, c, mapped(ext, OrderStatus::Approved, t0())).await;
    match s.apply_imports(vec![commit], t0()).await.unwrap()[0] {
        ImportApplied::Created(id) => id,
        ref other => panic!("{other:?}"),
    }
}

fn act(t: TenantId, o: OrderId, action: Action) -> ActionCommit {
    ActionCommit {
        tenant_id: t,
        order_id: o,
        action,
        xml: None,
        send_max_attempts: Some(3),
    }
}

async fn apply(s: &PgStore, c: &ActionCommit, now: DateTime<Utc>) -> SendId {
    match conformance_apply(s, c, now).await.unwrap() {
        ActionApplied::Applied { send: Some(id), .. } => id,
        other => panic!("{other:?}"),
    }
}

fn finish(lease: &JobLease, send: &StatusSend, outcome: SendOutcome) -> SendFinish {
    let ok = matches!(outcome, SendOutcome::Succeeded);
    SendFinish {
        lease: lease.clone(),
        tenant_id: send.tenant_id,
        send_id: send.id,
        n: send.attempts[0].n,
        request: Some("PUT /orders/1".into()),
        http_status: Some(if ok { 200 } else { 503 }),
        response: Some("{}".into()),
        duration_ms: 5,
        error: (!ok).then(|| SendError {
            code: "platform_unavailable".into(),
            message: "HTTP 503".into(),
        }),
        outcome,
    }
}

/// Claims, begins and finishes every due send job with `outcome`; what was begun.
async fn round(s: &PgStore, now: DateTime<Utc>, outcome: SendOutcome) -> Vec<StatusSend> {
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
    assert!(s
        .finish_sends(&fin, now)
        .await
        .unwrap()
        .iter()
        .all(|ok| *ok));
    sent
}

async fn send(s: &PgStore, t: TenantId, id: SendId) -> StatusSend {
    s.status_send(t, id).await.unwrap().unwrap()
}

/// (state, run_at) of every send job.
async fn send_jobs(db: &mut PgConnection) -> Vec<(String, DateTime<Utc>)> {
    sqlx::query_as("SELECT state, run_at FROM jobs WHERE kind = 'status_send' ORDER BY run_at")
        .fetch_all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_action_writes_the_order_document_send_and_job() {
    let dbs = common::Databases::default();
    let (s, mut db) = fresh(&dbs).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let o = paid_order(&s, t, c, "77").await;
    let mut inv = act(t, o, invoice());
    inv.xml = Some("<nfeProc/>".into());
    let ActionApplied::Applied { order, send: sid } =
        conformance_apply(&s, &inv, secs(1)).await.unwrap()
    else {
        panic!("not applied")
    };
    assert_eq!(order.data.status, OrderStatus::Invoiced);
    assert_eq!(order.updated_at, secs(1));
    let sid = sid.unwrap();
    // The status column and the order JSON agree (imports read the JSON).
    let (status, data_status, has_invoice): (String, String, bool) = sqlx::query_as(
        "SELECT status, data->>'status', fulfilment ? 'invoice' FROM orders WHERE id = $1",
    )
    .bind(o.0)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), data_status.as_str()),
        ("invoiced", "invoiced")
    );
    assert!(has_invoice);
    let xml: String = sqlx::query_scalar(
        "SELECT content FROM order_documents WHERE order_id = $1 AND kind = 'nfe_xml'",
    )
    .bind(o.0)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(xml, "<nfeProc/>");
    // The send, and its job: due now, keyed by order, claimable.
    let x = send(&s, t, sid).await;
    assert_eq!(
        (x.seq, x.state, x.attempts_used, x.max_attempts),
        (1, SendState::Pending, 0, 3)
    );
    assert_eq!(
        (x.channel_id, x.order_id, x.external_id.as_str()),
        (c, o, "77")
    );
    assert_eq!(x.action, invoice());
    let key: String = sqlx::query_scalar("SELECT unique_key FROM jobs WHERE kind = 'status_send'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(key, send_job_key(c, o));
    let jobs = claim(&s, "w", secs(1)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].1,
        SendJob {
            order_id: o,
            channel_id: c
        }
    );
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
    let before = send_jobs(&mut db).await;
    assert!(matches!(
        conformance_apply(&s, &inv, secs(2)).await.unwrap(),
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
        conformance_apply(&s, &other, secs(2)).await.unwrap(),
        ActionApplied::Refused(ActionError::Conflict(ActionKind::Invoice))
    );
    assert_eq!(send_jobs(&mut db).await, before);
    s.close().await;
}

#[tokio::test]
async fn a_batch_mixes_outcomes_and_lost_leases() {
    let dbs = common::Databases::default();
    let (s, mut db) = fresh(&dbs).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let mut ids = vec![];
    for ext in ["1", "2", "3", "4"] {
        let o = paid_order(&s, t, c, ext).await;
        ids.push(apply(&s, &act(t, o, separation()), t0()).await);
    }
    // Order 1 has a second send waiting behind the first.
    let o1 = send(&s, t, ids[0]).await.order_id;
    let next = apply(&s, &act(t, o1, invoice()), t0()).await;
    let jobs = claim(&s, "w", t0()).await;
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
    let x1 = send(&s, t, ids[0]).await;
    assert_eq!(
        (x1.state, x1.attempts_used, x1.last_error),
        (SendState::Succeeded, 1, None)
    );
    let a = &x1.attempts[0];
    assert_eq!(a.outcome, AttemptOutcome::Succeeded);
    assert_eq!((a.http_status, a.duration_ms), (Some(200), Some(5)));
    let x2 = send(&s, t, ids[1]).await;
    assert_eq!((x2.state, x2.attempts_used), (SendState::Pending, 1));
    assert_eq!(x2.last_error.unwrap().code, "platform_unavailable");
    assert_eq!(x2.attempts[0].outcome, AttemptOutcome::Retrying);
    let x3 = send(&s, t, ids[2]).await;
    assert_eq!((x3.state, x3.attempts_used), (SendState::Failed, 1));
    // The lost lease wrote nothing.
    let x4 = send(&s, t, ids[3]).await;
    assert_eq!((x4.state, x4.attempts_used), (SendState::Pending, 0));
    assert_eq!(x4.attempts[0].outcome, AttemptOutcome::Started);
    // Jobs: order 1 again now (its next send), order 2 at its retry, order 3 done,
    // order 4 still running.
    let mut jobs_now: Vec<(String, DateTime<Utc>)> = send_jobs(&mut db).await;
    jobs_now.retain(|j| j.0 == "pending");
    assert_eq!(
        jobs_now,
        [("pending".into(), secs(1)), ("pending".into(), secs(30))]
    );
    let again = round(&s, secs(1), SendOutcome::Succeeded).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, next);
    // Each attempt is on its order's timeline.
    let tl = s.timeline(t, c, "2").await.unwrap();
    let e = tl.iter().find(|e| e.kind == "status_send_attempt").unwrap();
    assert_eq!(e.detail["outcome"], "retrying");
    assert_eq!(e.detail["http_status"], 503);
    assert_eq!(e.detail["error_code"], "platform_unavailable");
    assert_eq!(e.detail["n"], 1);
    s.close().await;
}

#[tokio::test]
async fn retries_count_and_waits_do_not() {
    let dbs = common::Databases::default();
    let (s, mut db) = fresh(&dbs).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let o = paid_order(&s, t, ChannelId::new(), "1").await;
    let id = apply(&s, &act(t, o, separation()), t0()).await;
    round(&s, t0(), SendOutcome::RateLimited { run_at: secs(5) }).await;
    assert!(
        claim(&s, "w", secs(4)).await.is_empty(),
        "waits for the platform"
    );
    round(&s, secs(5), SendOutcome::Held { run_at: secs(3600) }).await;
    assert_eq!(send_jobs(&mut db).await, [("pending".into(), secs(3600))]);
    round(&s, secs(3600), SendOutcome::Retry { run_at: secs(3610) }).await;
    round(&s, secs(3610), SendOutcome::Retry { run_at: secs(3620) }).await;
    let x = send(&s, t, id).await;
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
    round(&s, secs(3620), SendOutcome::Failed).await;
    let x = send(&s, t, id).await;
    assert_eq!((x.state, x.attempts_used), (SendState::Failed, 3));
    assert!(send_jobs(&mut db).await.is_empty(), "job done");
    s.close().await;
}

#[tokio::test]
async fn a_failure_blocks_the_order_until_resent() {
    let dbs = common::Databases::default();
    let (s, mut db) = fresh(&dbs).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let o = paid_order(&s, t, c, "1").await;
    let p = paid_order(&s, t, c, "2").await;
    let first = apply(&s, &act(t, o, separation()), t0()).await;
    let second = apply(&s, &act(t, o, invoice()), t0()).await;
    let other = apply(&s, &act(t, p, separation()), t0()).await;
    round(&s, t0(), SendOutcome::Failed).await;
    assert_eq!(send(&s, t, first).await.state, SendState::Failed);
    assert_eq!(send(&s, t, second).await.state, SendState::Blocked);
    assert_eq!(send(&s, t, other).await.state, SendState::Failed);
    // A third action waits behind them, without a job.
    let third = apply(&s, &act(t, o, shipment()), secs(1)).await;
    assert_eq!(send(&s, t, third).await.state, SendState::Blocked);
    assert!(send_jobs(&mut db).await.is_empty());
    // Resending one order's failed send releases that order only.
    assert_eq!(
        s.resend(t, &ResendSelector::Ids(vec![second, first]), secs(2))
            .await
            .unwrap(),
        [first]
    );
    for id in [first, second, third] {
        let x = send(&s, t, id).await;
        assert_eq!((x.state, x.attempts_used), (SendState::Pending, 0));
    }
    assert_eq!(
        send(&s, t, first).await.last_error.unwrap().code,
        "platform_unavailable"
    );
    assert_eq!(send(&s, t, other).await.state, SendState::Failed);
    assert_eq!(send_jobs(&mut db).await, [("pending".into(), secs(2))]);
    for (i, id) in [first, second, third].into_iter().enumerate() {
        let sent = round(&s, secs(2 + i as i64), SendOutcome::Succeeded).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].id, id);
    }
    assert_eq!(send(&s, t, first).await.attempts.len(), 2, "history kept");
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
    assert_eq!(send_jobs(&mut db).await, [("pending".into(), secs(9))]);
    s.close().await;
}

#[tokio::test]
async fn lost_leases_and_crashes() {
    let dbs = common::Databases::default();
    let (s, _db) = fresh(&dbs).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let o = paid_order(&s, t, c, "1").await;
    let id = apply(&s, &act(t, o, separation()), t0()).await;
    let jobs = claim(&s, "dead", t0()).await;
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
    let jobs = claim(&s, "alive", secs(1)).await;
    let b = s.begin_sends(&jobs, secs(1)).await.unwrap();
    let x = started(&b[0]);
    assert_eq!((x.attempts[0].n, x.attempts_used), (2, 1));
    assert_eq!(x.last_error.as_ref().unwrap().code, "interrupted");
    let stored = send(&s, t, id).await;
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
    s.close().await;
}

#[tokio::test]
async fn an_action_while_the_orders_job_runs_adds_no_second_sender() {
    let dbs = common::Databases::default();
    let (s, mut db) = fresh(&dbs).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let o = paid_order(&s, t, ChannelId::new(), "1").await;
    let first = apply(&s, &act(t, o, separation()), t0()).await;
    let a = claim(&s, "a", t0()).await;
    let begun = s.begin_sends(&a, t0()).await.unwrap();
    // The ERP invoices while the separation is being sent: a second job is queued...
    let second = apply(&s, &act(t, o, invoice()), t0()).await;
    let b = claim(&s, "b", t0()).await;
    assert_eq!(b.len(), 1);
    // ...which leaves the order to the job already on it (no attempt is taken over).
    assert_eq!(s.begin_sends(&b, t0()).await.unwrap(), [SendBegin::Idle]);
    assert_eq!(
        send(&s, t, first).await.attempts[0].outcome,
        AttemptOutcome::Started
    );
    // The running job sends the rest.
    let x = started(&begun[0]);
    s.finish_sends(&[finish(&a[0].0, x, SendOutcome::Succeeded)], t0())
        .await
        .unwrap();
    let sent = round(&s, t0(), SendOutcome::Succeeded).await;
    assert_eq!(sent[0].id, second);

    // A retry while a twin is pending keeps its backoff: the twin folds into it.
    let third = apply(&s, &act(t, o, shipment()), secs(1)).await;
    let a = claim(&s, "a", secs(1)).await;
    let begun = s.begin_sends(&a, secs(1)).await.unwrap();
    let delivered = Action::Delivery(ponte_core::action::Delivery {
        delivered_at: secs(1),
    });
    apply(&s, &act(t, o, delivered), secs(1)).await;
    s.finish_sends(
        &[finish(
            &a[0].0,
            started(&begun[0]),
            SendOutcome::Retry { run_at: secs(60) },
        )],
        secs(1),
    )
    .await
    .unwrap();
    assert_eq!(send_jobs(&mut db).await, [("pending".into(), secs(60))]);
    assert!(claim(&s, "w", secs(59)).await.is_empty());
    let sent = round(&s, secs(60), SendOutcome::Succeeded).await;
    assert_eq!(sent[0].id, third);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_and_imports_of_one_order_are_serialised() {
    let dbs = common::Databases::default();
    let url = dbs.create().await;
    let a = PgStore::connect(&url, 4).await.unwrap();
    a.migrate().await.unwrap();
    let b = PgStore::connect(&url, 4).await.unwrap();
    let t = a.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    for round in 0..20 {
        let ext = format!("o{round}");
        let o = paid_order(&a, t, c, &ext).await;
        // A newer platform snapshot, still "approved", imported while the ERP separates.
        let mut newer = mapped(&ext, OrderStatus::Approved, secs(10));
        newer.data.number = Some("changed".into());
        let commit = import_commit(&b, t, c, newer).await;
        let action = act(t, o, separation());
        let (ra, rb) = tokio::join!(
            conformance_apply(&a, &action, secs(5)),
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

/// The next wake-up; panics after 10 s.
async fn recv(rx: &mut tokio::sync::mpsc::Receiver<()>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no wake-up within 10 s")
        .expect("listener stopped");
}

#[tokio::test]
async fn workers_are_woken_by_actions_resends_and_wakes() {
    let dbs = common::Databases::default();
    let (s, _db) = fresh(&dbs).await;
    let t = s.default_tenant(t0()).await.unwrap();
    let c = ChannelId::new();
    let o = paid_order(&s, t, c, "1").await;
    let mut rx = s.job_listener().await.unwrap();
    while rx.try_recv().is_ok() {}
    let id = apply(&s, &act(t, o, separation()), t0()).await;
    recv(&mut rx).await;
    round(&s, t0(), SendOutcome::Failed).await;
    while rx.try_recv().is_ok() {}
    assert_eq!(
        s.resend(t, &ResendSelector::Ids(vec![id]), secs(1))
            .await
            .unwrap(),
        [id]
    );
    recv(&mut rx).await;
    round(&s, secs(1), SendOutcome::Held { run_at: secs(3600) }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    while rx.try_recv().is_ok() {}
    assert_eq!(s.wake_channel_sends(t, c, secs(2)).await.unwrap(), 1);
    recv(&mut rx).await;
    assert_eq!(s.next_run_at().await.unwrap(), Some(secs(2)));
    assert_eq!(claim(&s, "w", secs(2)).await.len(), 1);
    s.close().await;
}
