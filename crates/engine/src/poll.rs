//! The `import_orders` run (polling safety net and manual sync): walks the platform's
//! listing of orders updated since the cursor minus an overlap window, page by page,
//! through the same idempotent import as webhooks (one transaction per page), while
//! the next page is already being fetched. The cursor moves only when the whole walk
//! succeeded, to the newest `updated_at` seen: a failure skips nothing.

use crate::channels::Ready;
use crate::task_run::Ran;
use crate::Engine;
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_channels::{CallInfo, PlatformErrorKind, PollCursor, PollMode, PollPage};
use ponte_core::TenantId;
use ponte_store::{
    CallRecord, ImportApplied, ImportCommit, ImportResult, JobLease, RunCounts, RunEnd, RunTrigger,
    TaskRun,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Transient listing failures (5xx, timeouts) tried per page before the run fails.
const PAGE_ATTEMPTS: u32 = 5;

/// The widest overlap window honoured (`PONTE_POLL_OVERLAP_SECONDS` beyond it is
/// capped, so that no setting can push a date out of range).
const MAX_OVERLAP: Duration = Duration::from_secs(366 * 24 * 3600);

impl Engine {
    pub(crate) async fn run_import_orders(
        &self,
        lease: &JobLease,
        run: &TaskRun,
        stop: &watch::Receiver<bool>,
    ) -> Ran {
        let mut counts = RunCounts::default();
        let Some(channel) = run.channel_id else {
            return Ran::failed(counts, "import_orders needs a channel".into());
        };
        let ready = match self.cached_channel(channel).await {
            Ok(r) if r.enabled => r,
            Ok(_) => {
                self.retry_failed_removal(run.tenant_id, channel).await;
                return Ran::failed(counts, "channel_disabled: the channel is disabled".into());
            }
            Err(e) => return Ran::failed(counts, format!("{}: {e}", e.code())),
        };
        // Each scheduled run re-verifies the webhook registration (VTEX drops a hook
        // after 3 days without notifications; a merchant may delete one by hand).
        if run.trigger != RunTrigger::Manual {
            self.reconcile_quietly(run.tenant_id, channel).await;
        }
        let cursor = match self.store.task(run.tenant_id, run.task_id).await {
            Ok(t) => t.and_then(|t| t.cursor),
            Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
        };
        let overlap =
            CDuration::from_std(self.config.poll_overlap.min(MAX_OVERLAP)).unwrap_or_default();
        let since = match run.trigger {
            RunTrigger::Manual => run.since,
            _ => cursor.map(|c| c - overlap),
        }
        .unwrap_or_else(|| self.clock.now() - overlap);
        let mut newest: Option<DateTime<Utc>> = None;
        let mode = match run.trigger {
            RunTrigger::Manual => PollMode::Backfill,
            _ => PollMode::Changes,
        };
        let mut fetched = self
            .fetch_page(&ready, run, PollCursor::start_as(mode, since), stop)
            .await;
        loop {
            let (mut page, info, calls) = match fetched {
                Fetched::Page(p, info, calls, first) => {
                    // The platform's total for each query of the walk, summed.
                    if first {
                        if let Some(t) = p.total {
                            counts.expected = Some(counts.expected.unwrap_or(0) + t);
                        }
                    }
                    (p, info, calls)
                }
                Fetched::Failed(e, calls) => {
                    counts.calls += calls;
                    return Ran::failed(counts, e);
                }
                Fetched::Stopped => return Ran::Stopped,
                Fetched::Done => break,
            };
            counts.calls += calls;
            let next = page.next.clone();
            let receipt = std::mem::take(&mut page.receipt);
            let commits = self.page_commits(&ready, run, page, &info, &mut counts, &mut newest);
            // Store this page while the next one is on its way.
            let stored;
            (stored, fetched) = match next {
                Some(n) => tokio::join!(
                    self.store_page(commits),
                    self.fetch_page(&ready, run, n, stop)
                ),
                None => (self.store_page(commits).await, Fetched::Done),
            };
            match stored {
                Ok(applied) => self.tally(&ready, run, &applied, &mut counts),
                Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
            }
            self.ack_page(&ready, run.tenant_id, &receipt, &mut counts)
                .await;
            if let Err(e) = self
                .store
                .progress_run(lease, run.tenant_id, run.id, &counts)
                .await
            {
                tracing::warn!(error = %e, "recording run progress");
            }
        }
        let cursor = match run.trigger {
            RunTrigger::Manual => None,
            _ => newest.max(cursor).or(Some(since + overlap)),
        };
        Ran::Ended(RunEnd {
            counts,
            error: None,
            cursor,
        })
    }

    /// Turns a page into import commits (no job: `lease: None`), counting what it read.
    fn page_commits(
        &self,
        ready: &Ready,
        run: &TaskRun,
        page: PollPage,
        info: &CallInfo,
        counts: &mut RunCounts,
        newest: &mut Option<DateTime<Utc>>,
    ) -> Vec<ImportCommit> {
        let call = CallRecord {
            request: info.request.clone(),
            status: info.status,
            duration_ms: u64::try_from(info.duration.as_millis()).unwrap_or(u64::MAX),
            error: None,
        };
        // No job: the deliveries received until now settle with the listing (one
        // received after it read the order has a pending job of its own).
        let read_at = self.clock.now();
        let mut commits = Vec::with_capacity(page.orders.len());
        for o in page.orders {
            counts.seen += 1;
            match o {
                Ok(mut order) => {
                    ready.apply_tables(&mut order);
                    *newest = (*newest).max(order.data.platform_updated_at);
                    commits.push(ImportCommit {
                        lease: None,
                        tenant_id: run.tenant_id,
                        channel_id: ready.id,
                        external_id: order.data.external_id.clone(),
                        call: call.clone(),
                        read_at,
                        result: ImportResult::Fetched {
                            order: Box::new(order),
                            policy: ready.connector.import_policy(),
                        },
                    });
                }
                Err(u) => {
                    counts.unreadable += 1;
                    tracing::warn!(order = ?u.external_id, error = %u.message, "unreadable order in a listing");
                }
            }
        }
        commits
    }

    async fn store_page(
        &self,
        commits: Vec<ImportCommit>,
    ) -> Result<Vec<ponte_store::PolledApplied>, ponte_store::StoreError> {
        if commits.is_empty() {
            return Ok(vec![]);
        }
        self.gate.background_turn().await;
        self.store.apply_polled(commits, self.clock.now()).await
    }

    /// Acknowledges a stored page to the platform (VTEX feed handles) at once, charging
    /// the call to the budget after it. A failed acknowledgement loses nothing: the
    /// platform hands the events out again.
    async fn ack_page(
        &self,
        ready: &Ready,
        tenant: TenantId,
        receipt: &[String],
        counts: &mut RunCounts,
    ) {
        let Some((info, result)) = ready.connector.ack_listed(receipt).await else {
            return;
        };
        counts.calls += 1;
        self.metrics.call(&ready.platform, info.status);
        self.spend(ready, tenant, 1).await;
        if let Err(e) = result {
            tracing::warn!(channel = %ready.id, error = %e, request = %info.request,
                "acknowledging a listed page failed; its events will come again");
        }
    }

    /// Counts a stored page. With instant events on, an order the listing created or
    /// changed that no waiting webhook announced is a gap: the platform dropped (or
    /// never sent) a notification.
    fn tally(
        &self,
        ready: &Ready,
        run: &TaskRun,
        applied: &[ponte_store::PolledApplied],
        counts: &mut RunCounts,
    ) {
        let imported = applied
            .iter()
            .map(|a| (run.tenant_id, ready.id, &a.applied));
        self.order_channels.remember_imported(imported);
        let mut gaps = 0;
        for a in applied {
            let result = match a.applied {
                ImportApplied::Created(_) => {
                    counts.created += 1;
                    "created"
                }
                ImportApplied::Updated(_) => {
                    counts.updated += 1;
                    "updated"
                }
                ImportApplied::Unchanged(_) => {
                    counts.unchanged += 1;
                    "unchanged"
                }
                _ => {
                    counts.skipped += 1;
                    "skipped"
                }
            };
            self.metrics.polled(result, 1);
            let changed = matches!(
                a.applied,
                ImportApplied::Created(_) | ImportApplied::Updated(_)
            );
            if changed
                && !a.announced
                && ready.automations.instant_events
                && ready.connector.pushes_events()
            {
                gaps += 1;
            }
        }
        if gaps > 0 {
            counts.gaps += gaps;
            self.metrics.poll_gaps(&ready.id.to_string(), gaps);
            tracing::warn!(channel = %ready.id, run = %run.id, gaps, "polling found orders no webhook announced");
        }
    }

    /// Fetches one page under the channel's request budget; waits out 429s and retries
    /// transient failures a few times.
    async fn fetch_page(
        &self,
        ready: &Arc<Ready>,
        run: &TaskRun,
        cursor: PollCursor,
        stop: &watch::Receiver<bool>,
    ) -> Fetched {
        let mut calls = 0;
        let mut failures = 0;
        loop {
            if *stop.borrow() {
                return Fetched::Stopped;
            }
            if !self.wait_for_token(ready, run.tenant_id, stop).await {
                return Fetched::Stopped;
            }
            let (info, result) = ready.connector.list_orders(&cursor).await;
            calls += 1;
            self.metrics.call(&ready.platform, info.status);
            let e = match result {
                Ok(page) => {
                    self.spend(ready, run.tenant_id, page.extra_requests).await;
                    calls += u64::from(page.extra_requests);
                    let first = cursor.page == 1 && cursor.since == cursor.origin;
                    return Fetched::Page(page, info, calls, first);
                }
                Err(e) => e,
            };
            let wait = match e.kind {
                PlatformErrorKind::RateLimited(wait) => wait,
                PlatformErrorKind::Transient if failures + 1 < PAGE_ATTEMPTS => {
                    failures += 1;
                    self.config
                        .import_retry
                        .backoff(failures, rand::random::<f64>())
                }
                _ => {
                    self.note_refusal(run.tenant_id, ready.id, &e).await;
                    return Fetched::Failed(
                        format!("{}: {} ({})", e.code(), e.message, info.request),
                        calls,
                    );
                }
            };
            if sleep_or_stop(stop, wait).await {
                return Fetched::Stopped;
            }
        }
    }
}

/// A page fetch's outcome.
pub(crate) enum Fetched {
    /// A page, its call, the calls it took (retries included), and whether it is the
    /// first page of one of the walk's queries.
    Page(PollPage, CallInfo, u64, bool),
    /// The walk cannot go on.
    Failed(String, u64),
    /// Shutdown.
    Stopped,
    /// No page left.
    Done,
}

/// Sleeps; true when stopped meanwhile.
pub(crate) async fn sleep_or_stop(stop: &watch::Receiver<bool>, d: Duration) -> bool {
    let mut stop = stop.clone();
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}
