//! [`apply_imports`] over a fake transaction that records what it is asked.

use super::*;
use crate::CallRecord;
use ponte_core::import::ImportPolicy;
use ponte_core::order::{Customer, Payment, PlatformStatus, Shipping, Totals};
use ponte_core::{ChannelId, JobId, OrderStatus};
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Runs a future of the fake, which never waits.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the fake never waits"),
    }
}

/// A transaction that records what it is asked and answers as configured.
#[derive(Default)]
struct Fake {
    /// Whether the lease holds the job.
    held: bool,
    stored: ExistingOrder,
    calls: Vec<String>,
    notes: Vec<&'static str>,
    /// The external ids deliveries were settled for.
    settled: Vec<String>,
    /// The external id the order was looked up by.
    looked_up: Option<String>,
    events: Vec<&'static str>,
}

#[async_trait]
impl ImportTx for Fake {
    async fn job_held(&mut self, _: &JobLease) -> StoreResult<bool> {
        self.calls.push("job_held".into());
        Ok(self.held)
    }
    async fn take_job(&mut self, _: &JobLease) -> StoreResult<bool> {
        self.calls.push("take_job".into());
        Ok(self.held)
    }
    async fn finish_job(&mut self, _: &JobLease, _: &JobOutcome) -> StoreResult<()> {
        self.calls.push("finish_job".into());
        Ok(())
    }
    async fn existing(&mut self, c: &ImportCommit) -> StoreResult<ExistingOrder> {
        self.looked_up = Some(c.external_id.clone());
        Ok(self.stored.clone())
    }
    async fn insert_order(
        &mut self,
        _: &ImportCommit,
        _: OrderId,
        _: &MappedOrder,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.calls.push("insert_order".into());
        Ok(())
    }
    async fn update_order(
        &mut self,
        _: TenantId,
        _: OrderId,
        data: &OrderData,
        _: &serde_json::Value,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.calls
            .push(format!("update_order {}", data.status.as_str()));
        Ok(())
    }
    async fn clear_skip(&mut self, _: &ImportCommit) -> StoreResult<()> {
        self.calls.push("clear_skip".into());
        Ok(())
    }
    async fn record_skip(
        &mut self,
        _: &ImportCommit,
        reason: SkipReason,
        _: Option<DateTime<Utc>>,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.calls.push(format!("record_skip {}", reason.as_str()));
        Ok(())
    }
    async fn settle_deliveries(
        &mut self,
        c: &ImportCommit,
        read_at: DateTime<Utc>,
        state: &'static str,
        message: Option<String>,
        _: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.settled.push(c.external_id.clone());
        let message = message.unwrap_or_default();
        let call = format!("settle {state} {} {message}", read_at.timestamp());
        self.calls.push(call.trim_end().to_owned());
        Ok(1)
    }
    async fn write_notes(&mut self, notes: &[TimelineNote]) -> StoreResult<()> {
        self.notes.extend(notes.iter().map(|n| n.kind));
        Ok(())
    }
    async fn write_events(&mut self, events: &[crate::NewEvent]) -> StoreResult<()> {
        self.events.extend(events.iter().map(|e| e.kind.as_str()));
        Ok(())
    }
    async fn order_effects(
        &mut self,
        orders: &[(TenantId, OrderId)],
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.calls.push(format!("order_effects {}", orders.len()));
        Ok(())
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn data(status: OrderStatus, updated: i64) -> OrderData {
    OrderData {
        external_id: "1".into(),
        number: None,
        status,
        payment: Payment::default(),
        items: vec![],
        customer: Customer::default(),
        billing_address: None,
        shipping_address: None,
        shipping: Shipping::default(),
        totals: Totals::default(),
        currency: None,
        placed_at: None,
        platform_updated_at: Some(at(updated)),
        paid_at: None,
        cancelled_at: None,
        platform_status: PlatformStatus::default(),
        platform_flags: vec![],
    }
}

fn commit(result: ImportResult) -> ImportCommit {
    ImportCommit {
        lease: Some(JobLease {
            job_id: JobId::new(),
            owner: "w".into(),
        }),
        tenant_id: TenantId::new(),
        channel_id: ChannelId::new(),
        external_id: "1".into(),
        call: CallRecord {
            request: "GET /orders/1".into(),
            status: Some(200),
            duration_ms: 1,
            error: None,
        },
        read_at: at(90),
        result,
    }
}

fn fetched(status: OrderStatus, updated: i64) -> ImportCommit {
    commit(ImportResult::Fetched {
        order: Box::new(MappedOrder {
            data: data(status, updated),
            closed_at_platform: false,
            raw: json!({}),
        }),
        policy: ImportPolicy::PaidOnly,
    })
}

fn apply(tx: &mut Fake, batch: Vec<ImportCommit>) -> Vec<PolledApplied> {
    run(apply_imports(tx, batch, at(100))).unwrap()
}

#[test]
fn a_lost_lease_writes_nothing() {
    let mut tx = Fake::default();
    let out = apply(&mut tx, vec![fetched(OrderStatus::Approved, 50)]);
    assert_eq!(out[0].applied, ImportApplied::LeaseLost);
    assert!(!out[0].announced);
    assert_eq!(tx.calls, ["take_job", "order_effects 0"]);
    assert!(tx.notes.is_empty());
    assert!(tx.events.is_empty());
}

#[test]
fn a_new_order_replaces_its_skip_record_and_settles_the_run() {
    let mut tx = Fake {
        held: true,
        stored: ExistingOrder {
            order: None,
            recorded: None,
            skipped: Some(Some(at(40))),
        },
        ..Fake::default()
    };
    let out = apply(&mut tx, vec![fetched(OrderStatus::Approved, 50)]);
    assert!(matches!(out[0].applied, ImportApplied::Created(_)));
    assert!(out[0].announced);
    let calls = [
        "take_job",
        "insert_order",
        "clear_skip",
        "settle processed 90",
    ];
    assert_eq!(tx.calls[..4], calls);
    assert_eq!(tx.calls[4], "order_effects 1");
    assert_eq!(tx.notes, ["fetched", "imported"]);
    assert_eq!(tx.events, ["order.created"]);
}

#[test]
fn a_changed_status_updates_and_notes_the_change() {
    let mut tx = Fake {
        held: true,
        stored: ExistingOrder {
            order: Some((OrderId::new(), data(OrderStatus::Approved, 50))),
            recorded: None,
            skipped: None,
        },
        ..Fake::default()
    };
    let out = apply(&mut tx, vec![fetched(OrderStatus::Invoiced, 60)]);
    assert!(matches!(out[0].applied, ImportApplied::Updated(_)));
    let calls = ["take_job", "update_order invoiced", "settle processed 90"];
    assert_eq!(tx.calls[..3], calls);
    assert_eq!(tx.notes, ["fetched", "status_changed"]);
    assert_eq!(tx.events, ["order.updated"]);
}

#[test]
fn a_cancellation_is_its_own_event() {
    let mut tx = Fake {
        held: true,
        stored: ExistingOrder {
            order: Some((OrderId::new(), data(OrderStatus::Approved, 50))),
            recorded: None,
            skipped: None,
        },
        ..Fake::default()
    };
    let out = apply(&mut tx, vec![fetched(OrderStatus::Cancelled, 60)]);
    assert!(matches!(out[0].applied, ImportApplied::Updated(_)));
    assert_eq!(tx.events, ["order.cancelled"]);
}

#[test]
fn an_unpaid_new_order_is_skipped_and_its_deliveries_say_why() {
    let mut tx = Fake {
        held: true,
        ..Fake::default()
    };
    let out = apply(&mut tx, vec![fetched(OrderStatus::AwaitingPayment, 50)]);
    let reason = SkipReason::AwaitingPaymentPaidOnly;
    assert_eq!(out[0].applied, ImportApplied::Skipped(reason));
    let settle = "settle processed 90 skipped: awaiting_payment_paid_only";
    let calls = ["take_job", "record_skip awaiting_payment_paid_only", settle];
    assert_eq!(tx.calls[..3], calls);
    assert_eq!(tx.notes, ["fetched", "skipped"]);
    assert_eq!(tx.events, ["order.skipped"]);
}

#[test]
fn a_failed_fetch_fails_the_run_s_deliveries_then_the_job() {
    let mut tx = Fake {
        held: true,
        ..Fake::default()
    };
    let failed = JobOutcome::Failed {
        error: "gone".into(),
    };
    let c = commit(ImportResult::FetchFailed { outcome: failed });
    let out = apply(&mut tx, vec![c]);
    assert_eq!(out[0].applied, ImportApplied::Failed);
    assert!(!out[0].announced);
    let calls = ["job_held", "settle failed 90 gone", "finish_job"];
    assert_eq!(tx.calls[..3], calls);
    assert_eq!(tx.notes, ["fetched"]);
    assert!(tx.events.is_empty());
}

#[test]
fn a_retried_fetch_leaves_the_deliveries_waiting() {
    let mut tx = Fake {
        held: true,
        ..Fake::default()
    };
    let retry = JobOutcome::Retry {
        run_at: at(200),
        count_attempt: true,
        error: "timeout".into(),
    };
    let out = apply(
        &mut tx,
        vec![commit(ImportResult::FetchFailed { outcome: retry })],
    );
    assert_eq!(out[0].applied, ImportApplied::Retrying);
    assert_eq!(tx.calls, ["job_held", "finish_job", "order_effects 0"]);
}

#[test]
fn a_job_named_by_a_pointer_stores_the_order_under_its_own_id() {
    let mut tx = Fake {
        held: true,
        ..Fake::default()
    };
    let mut c = fetched(OrderStatus::Approved, 50);
    c.external_id = "shipment:7".into();
    let out = apply(&mut tx, vec![c]);
    assert!(matches!(out[0].applied, ImportApplied::Created(_)));
    assert_eq!(tx.looked_up.as_deref(), Some("1"));
    // The order's deliveries and the pointer's settle together.
    assert_eq!(tx.settled, ["1", "shipment:7"]);
}
