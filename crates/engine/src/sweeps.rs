//! Sweeps over stored orders: re-reading a channel's orders still waiting for payment,
//! and cancelling a tenant's orders that waited too long.

use crate::ingest::IMPORT_ORDER;
use crate::task_run::Ran;
use crate::Engine;
use chrono::Duration as CDuration;
use ponte_core::action::{Action, CancelReason, Cancellation};
use ponte_core::OrderStatus;
use ponte_store::{import_job_key, NewJob, RunCounts, TaskRun};

/// Orders read per sweep query.
const SWEEP_PAGE: u32 = 500;

impl Engine {
    /// `refresh_payment_status`: queues a re-read (the webhook import job, coalesced
    /// with any already pending) of every order of the channel still awaiting payment
    /// or in payment review.
    pub(crate) async fn run_refresh_payments(&self, run: &TaskRun) -> Ran {
        let mut counts = RunCounts::default();
        let Some(channel) = run.channel_id else {
            return Ran::failed(counts, "refresh_payment_status needs a channel".into());
        };
        let waiting = [OrderStatus::AwaitingPayment, OrderStatus::PaymentInReview];
        let mut after = None;
        loop {
            let orders = match self
                .store
                .orders_in_status(run.tenant_id, Some(channel), &waiting, after, SWEEP_PAGE)
                .await
            {
                Ok(o) => o,
                Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
            };
            let Some(last) = orders.last() else { break };
            after = Some(last.id);
            let now = self.clock.now();
            let jobs: Vec<_> = orders
                .iter()
                .map(|o| {
                    let job = NewJob {
                        kind: IMPORT_ORDER.into(),
                        payload: serde_json::json!({ "channel_id": channel, "external_id": o.external_id }),
                        unique_key: Some(import_job_key(channel, &o.external_id)),
                        run_at: now,
                    };
                    (run.tenant_id, job)
                })
                .collect();
            if let Err(e) = self.store.enqueue(&jobs).await {
                return Ran::failed(counts, format!("storage_error: {e}"));
            }
            counts.enqueued += jobs.len() as u64;
            self.wake_workers();
        }
        Ran::ok(counts)
    }

    /// `auto_cancel`: cancels every order still awaiting payment N days after it was
    /// placed (tenant setting `auto_cancel_awaiting_payment_after_days`; unset: nothing
    /// to do). Each goes through the ERP cancel action, so it is in the order's
    /// timeline with its reason and, with `send_cancellations` on, reaches the
    /// platform through the status sends.
    pub(crate) async fn run_auto_cancel(&self, run: &TaskRun) -> Ran {
        let mut counts = RunCounts::default();
        let days = match self.tenant_settings(run.tenant_id).await {
            Ok(s) => s.auto_cancel_awaiting_payment_after_days,
            Err(e) => return Ran::failed(counts, format!("{}: {e}", e.code())),
        };
        let Some(days) = days else {
            return Ran::ok(counts);
        };
        let cutoff = self.clock.now() - CDuration::days(i64::from(days));
        let mut after = None;
        let mut errors = 0u64;
        let mut last_error = None;
        loop {
            let orders = match self
                .store
                .orders_in_status(
                    run.tenant_id,
                    None,
                    &[OrderStatus::AwaitingPayment],
                    after,
                    SWEEP_PAGE,
                )
                .await
            {
                Ok(o) => o,
                Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
            };
            let Some(last) = orders.last() else { break };
            after = Some(last.id);
            for o in orders
                .iter()
                .filter(|o| o.placed_at.is_some_and(|p| p < cutoff))
            {
                counts.seen += 1;
                let action = Action::Cancel(Cancellation {
                    reason: CancelReason::PaymentExpired,
                    note: Some(format!(
                        "auto_cancel: awaiting payment for more than {days} days"
                    )),
                });
                match self.order_action(run.tenant_id, o.id, action, None).await {
                    Ok(r) if r.changed => counts.cancelled += 1,
                    Ok(_) => {}
                    Err(e) => {
                        // Changed meanwhile (paid, cancelled by the platform): left alone.
                        errors += 1;
                        last_error = Some(format!("order {}: {}: {e}", o.id, e.code()));
                    }
                }
            }
        }
        counts.skipped = errors;
        if let Some(e) = last_error {
            tracing::info!(refused = errors, last = %e, "auto-cancel left some orders alone");
        }
        Ran::ok(counts)
    }
}
