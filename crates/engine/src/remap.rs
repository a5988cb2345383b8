//! The `remap_orders` run: a channel's stored platform payloads mapped again with its
//! current tables, without calling the platform, through the same idempotent import
//! path as webhooks and polling (one transaction per page, statuses still only moving
//! forward, each change noted `remapped`), with progress like a manual sync.

use crate::task_run::Ran;
use crate::{Engine, EngineError};
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::{ChannelId, ErrorCode, TenantId};
use ponte_store::{
    CallRecord, ImportApplied, ImportCommit, ImportResult, JobLease, NewTask, OrderFilter,
    PageRequest, RunCounts, RunRequest, RunTrigger, ScheduledTask, TaskKind, TaskPatch, TaskRun,
};
use tokio::sync::watch;

/// Orders read and applied per transaction.
const PAGE: u32 = 500;

impl Engine {
    /// Starts remapping a channel's orders placed at or after `since` and before
    /// `until` (default: now) with its current tables. Progress is the run's.
    pub async fn remap_orders(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<TaskRun, EngineError> {
        self.channel(tenant, channel).await?;
        if until.is_some_and(|u| u <= since) {
            return Err(EngineError::Invalid("until must be after since".into()));
        }
        let task = self.remap_task(tenant, channel).await?;
        self.start(RunRequest {
            tenant_id: tenant,
            task_id: task.id,
            trigger: RunTrigger::Manual,
            since: Some(since),
            until,
            fire: None,
        })
        .await
    }

    /// The channel's remap task, created disabled (it runs only when asked) on the
    /// first remap.
    async fn remap_task(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<ScheduledTask, EngineError> {
        let find = || async {
            Ok::<_, EngineError>(
                self.store
                    .tasks(tenant, Some(channel))
                    .await?
                    .into_iter()
                    .find(|t| t.kind == TaskKind::RemapOrders),
            )
        };
        if let Some(t) = find().await? {
            return Ok(t);
        }
        let now = self.clock.now();
        let task = NewTask {
            tenant_id: tenant,
            kind: TaskKind::RemapOrders,
            channel_id: Some(channel),
            interval_secs: 86_400,
            // Never due: disabled right below, and a year away meanwhile.
            next_run_at: now + CDuration::days(365),
            cursor: None,
        };
        self.store.ensure_tasks(&[task], now).await?;
        let t = find()
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::TaskNotFound))?;
        let off = TaskPatch {
            interval_secs: None,
            enabled: Some(false),
        };
        Ok(self
            .store
            .update_task(tenant, t.id, &off, now)
            .await?
            .unwrap_or(t))
    }

    /// Runs a remap: pages of stored orders (newest first), each mapped from its
    /// payload by the channel's connector, the channel's tables applied, and the page
    /// applied in one transaction.
    pub(crate) async fn run_remap(
        &self,
        lease: &JobLease,
        run: &TaskRun,
        stop: &watch::Receiver<bool>,
    ) -> Ran {
        let mut counts = RunCounts::default();
        let Some(channel) = run.channel_id else {
            return Ran::failed(counts, "remap_orders needs a channel".into());
        };
        // The tables as they are now, not as this instance cached them.
        self.forget_channel(channel);
        let ready = match self.cached_channel(channel).await {
            Ok(r) => r,
            Err(e) => return Ran::failed(counts, format!("{}: {e}", e.code())),
        };
        let filter = OrderFilter {
            channel_id: Some(channel),
            placed_from: run.since,
            placed_to: run.until,
            ..OrderFilter::default()
        };
        let policy = ready.connector.import_policy();
        let mut cursor = None;
        loop {
            if *stop.borrow() {
                return Ran::Stopped;
            }
            let page = PageRequest {
                cursor: cursor.take(),
                limit: PAGE,
            };
            let page = match self.store.orders(run.tenant_id, &filter, &page).await {
                Ok(p) => p,
                Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
            };
            let mut commits = Vec::with_capacity(page.items.len());
            for o in page.items {
                counts.seen += 1;
                let raw = serde_json::from_str(o.raw.get()).map_err(|e| e.to_string());
                match raw.and_then(|raw| ready.connector.remap(raw)) {
                    Ok(mut order) => {
                        ready.apply_tables(&mut order);
                        commits.push(ImportCommit {
                            lease: None,
                            tenant_id: run.tenant_id,
                            channel_id: channel,
                            external_id: o.data.external_id,
                            call: CallRecord {
                                request: "remap".into(),
                                status: None,
                                duration_ms: 0,
                                error: None,
                            },
                            read_at: self.clock.now(),
                            result: ImportResult::Remapped {
                                order: Box::new(order),
                                policy,
                            },
                        });
                    }
                    Err(e) => {
                        counts.unreadable += 1;
                        tracing::warn!(order = %o.id, error = %e, "stored payload could not be remapped");
                    }
                }
            }
            if !commits.is_empty() {
                self.gate.background_turn().await;
                match self.store.apply_polled(commits, self.clock.now()).await {
                    Ok(applied) => {
                        for a in applied {
                            match a.applied {
                                ImportApplied::Updated(_) => counts.updated += 1,
                                ImportApplied::Unchanged(_) => counts.unchanged += 1,
                                _ => counts.skipped += 1,
                            }
                        }
                    }
                    Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
                }
            }
            if let Err(e) = self
                .store
                .progress_run(lease, run.tenant_id, run.id, &counts)
                .await
            {
                tracing::warn!(error = %e, "recording remap progress");
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ran::ok(counts),
            }
        }
    }
}
