//! Scheduled tasks as the API sees them: listing and editing them, running one now,
//! manual syncs, tenant settings; and the scheduler tick that starts due runs.

use crate::{Engine, EngineError};
use chrono::{DateTime, Duration as CDuration, Utc};
use ponte_core::ErrorCode;
use ponte_core::{ChannelId, RunId, TaskId, TenantId};
use ponte_store::{
    NewTask, RunRequest, RunStart, RunTrigger, ScheduledTask, TaskKind, TaskPatch, TaskRun,
};
use serde::{Deserialize, Serialize};

/// Seconds between runs of a new task (seed 001: ERPs poll every 10 to 15 minutes).
pub const DEFAULT_INTERVAL_SECS: i64 = 600;

/// Seconds between a channel's price checks.
pub const PRICE_CHECK_INTERVAL_SECS: i64 = 3600;

/// Due tasks fired per store read; a full batch is followed by another at once.
pub(crate) const FIRE_BATCH: u32 = 100;

/// Longest interval accepted (one day).
const MAX_INTERVAL_SECS: i64 = 86_400;

/// Tenant-wide settings (`GET/PATCH /api/v1/settings`). Unknown keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Orders still awaiting payment this many days after they were placed are
    /// cancelled by the `auto_cancel` task (1 to 365); null disables it.
    #[serde(default)]
    pub auto_cancel_awaiting_payment_after_days: Option<u32>,
}

/// A new task's first due time: between half an interval and one interval from now, at
/// a random offset, so that many channels created at once (a merchant's onboarding,
/// thousands of tenants) do not all poll in the same second from then on.
fn first_due(now: DateTime<Utc>) -> DateTime<Utc> {
    use rand::Rng;
    let ms = DEFAULT_INTERVAL_SECS * 1000;
    now + CDuration::milliseconds(rand::thread_rng().gen_range(ms / 2..=ms))
}

/// The task every tenant has (the sweep that cancels orders left awaiting payment).
fn tenant_task(tenant: TenantId, now: DateTime<Utc>) -> NewTask {
    NewTask {
        tenant_id: tenant,
        kind: TaskKind::AutoCancel,
        channel_id: None,
        interval_secs: DEFAULT_INTERVAL_SECS,
        next_run_at: first_due(now),
        cursor: None,
    }
}

/// The task of a tenant with carrier accounts: polling its shipments' carriers.
fn tracking_task(tenant: TenantId, now: DateTime<Utc>) -> NewTask {
    NewTask {
        tenant_id: tenant,
        kind: TaskKind::TrackShipments,
        channel_id: None,
        interval_secs: DEFAULT_INTERVAL_SECS,
        next_run_at: first_due(now),
        cursor: None,
    }
}

impl Engine {
    /// Creates the scheduled task of a new tenant.
    pub(crate) async fn ensure_tenant_task(&self, tenant: TenantId) -> Result<(), EngineError> {
        let now = self.clock.now();
        Ok(self
            .store
            .ensure_tasks(&[tenant_task(tenant, now)], now)
            .await?)
    }

    /// The tasks every channel has.
    fn channel_tasks(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> [NewTask; 2] {
        [TaskKind::ImportOrders, TaskKind::RefreshPaymentStatus].map(|kind| NewTask {
            tenant_id: tenant,
            kind,
            channel_id: Some(channel),
            interval_secs: DEFAULT_INTERVAL_SECS,
            next_run_at: first_due(now),
            // A new channel polls orders updated from now on; history comes by a
            // manual sync with `since`.
            cursor: (kind == TaskKind::ImportOrders).then_some(now),
        })
    }

    /// Creates the tenant's `track_shipments` task (with its first carrier account).
    pub(crate) async fn ensure_tracking_task(&self, tenant: TenantId) -> Result<(), EngineError> {
        let now = self.clock.now();
        Ok(self
            .store
            .ensure_tasks(&[tracking_task(tenant, now)], now)
            .await?)
    }

    /// Creates a channel's `price_check` task (when it starts sending prices): hourly.
    pub(crate) async fn ensure_price_check_task(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        let task = NewTask {
            tenant_id: tenant,
            kind: TaskKind::PriceCheck,
            channel_id: Some(channel),
            interval_secs: PRICE_CHECK_INTERVAL_SECS,
            next_run_at: now + CDuration::seconds(PRICE_CHECK_INTERVAL_SECS),
            cursor: None,
        };
        Ok(self.store.ensure_tasks(&[task], now).await?)
    }

    /// Creates the scheduled tasks of a new channel.
    pub(crate) async fn ensure_channel_tasks(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        let tasks = self.channel_tasks(tenant, channel, now);
        Ok(self.store.ensure_tasks(&tasks, now).await?)
    }

    /// Creates every missing task (at start: tenant tasks, and channels made before
    /// tasks existed).
    pub async fn ensure_all_tasks(&self) -> Result<(), EngineError> {
        let now = self.clock.now();
        let mut all = vec![];
        for tenant in self.store.tenants().await? {
            all.push(tenant_task(tenant, now));
            if !self.store.carrier_accounts(tenant).await?.is_empty() {
                all.push(tracking_task(tenant, now));
            }
            for ch in self.store.channels(tenant).await? {
                all.extend(self.channel_tasks(tenant, ch.id, now));
            }
        }
        Ok(self.store.ensure_tasks(&all, now).await?)
    }

    /// A tenant's scheduled tasks (of one channel, or all).
    pub async fn scheduled_tasks(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> Result<Vec<ScheduledTask>, EngineError> {
        Ok(self.store.tasks(tenant, channel).await?)
    }

    /// One scheduled task.
    pub async fn scheduled_task(
        &self,
        tenant: TenantId,
        id: TaskId,
    ) -> Result<ScheduledTask, EngineError> {
        self.store
            .task(tenant, id)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::TaskNotFound))
    }

    /// Changes a task's interval or enabled flag.
    pub async fn update_scheduled_task(
        &self,
        tenant: TenantId,
        id: TaskId,
        patch: TaskPatch,
    ) -> Result<ScheduledTask, EngineError> {
        if let Some(secs) = patch.interval_secs {
            let min = i64::try_from(self.config.min_task_interval.as_secs()).unwrap_or(60);
            if !(min..=MAX_INTERVAL_SECS).contains(&secs) {
                return Err(EngineError::Invalid(format!(
                    "interval_seconds must be between {min} and {MAX_INTERVAL_SECS}"
                )));
            }
        }
        self.store
            .update_task(tenant, id, &patch, self.clock.now())
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::TaskNotFound))
    }

    /// Starts a run of a task now (refused while one is queued or running).
    pub async fn run_task_now(&self, tenant: TenantId, id: TaskId) -> Result<TaskRun, EngineError> {
        self.scheduled_task(tenant, id).await?;
        self.start(RunRequest {
            tenant_id: tenant,
            task_id: id,
            trigger: RunTrigger::RunNow,
            since: None,
            until: None,
            fire: None,
        })
        .await
    }

    /// Starts a manual sync of a channel's orders updated since `since` (default: the
    /// polling cursor). Runs as the channel's `import_orders` task, so it never
    /// overlaps with its polling; the polling cursor is left alone.
    pub async fn sync_orders(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        since: Option<DateTime<Utc>>,
    ) -> Result<TaskRun, EngineError> {
        self.channel(tenant, channel).await?;
        let task = self
            .store
            .tasks(tenant, Some(channel))
            .await?
            .into_iter()
            .find(|t| t.kind == TaskKind::ImportOrders)
            .ok_or(EngineError::NotFound(ErrorCode::TaskNotFound))?;
        self.start(RunRequest {
            tenant_id: tenant,
            task_id: task.id,
            trigger: RunTrigger::Manual,
            since: Some(since.or(task.cursor).unwrap_or_else(|| self.clock.now())),
            until: None,
            fire: None,
        })
        .await
    }

    pub(crate) async fn start(&self, req: RunRequest) -> Result<TaskRun, EngineError> {
        match self.store.start_run(&req, self.clock.now()).await? {
            RunStart::Started(run) => {
                self.wake_workers();
                Ok(run)
            }
            RunStart::Busy(run) => Err(EngineError::Busy(run.id)),
            RunStart::NotFired => Err(EngineError::NotFound(ErrorCode::TaskNotFound)),
        }
    }

    /// One run (progress while it runs).
    pub async fn task_run(&self, tenant: TenantId, id: RunId) -> Result<TaskRun, EngineError> {
        self.store
            .task_run(tenant, id)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::TaskRunNotFound))
    }

    /// Orders polling found on a channel that no webhook had announced.
    pub async fn poll_gaps(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<u64, EngineError> {
        Ok(self.store.poll_gaps(tenant, channel).await?)
    }

    /// The tenant's settings.
    pub async fn tenant_settings(&self, tenant: TenantId) -> Result<TenantSettings, EngineError> {
        let v = self.store.tenant_settings(tenant).await?;
        serde_json::from_value(v).map_err(|e| EngineError::Invalid(e.to_string()))
    }

    /// Merges changes into the tenant's settings (a key set to null clears it).
    pub async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        changes: serde_json::Value,
    ) -> Result<TenantSettings, EngineError> {
        let serde_json::Value::Object(changes) = changes else {
            return Err(EngineError::Invalid("settings must be an object".into()));
        };
        let mut merged = match self.store.tenant_settings(tenant).await? {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        merged.extend(changes);
        let settings: TenantSettings = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if let Some(days) = settings.auto_cancel_awaiting_payment_after_days {
            if !(1..=365).contains(&days) {
                return Err(EngineError::Invalid(
                    "auto_cancel_awaiting_payment_after_days must be between 1 and 365, or null"
                        .into(),
                ));
            }
        }
        let value =
            serde_json::to_value(&settings).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.store.set_tenant_settings(tenant, &value).await?;
        Ok(settings)
    }

    /// Starts the runs of every due task (each due time fires once across instances;
    /// a task whose previous run is still going skips this one). The next due time is
    /// counted from now, so a long outage does not cause a burst of runs.
    /// Returns how many due tasks it saw (at most [`FIRE_BATCH`]: more may be due).
    pub(crate) async fn fire_due_tasks(&self) -> Result<usize, EngineError> {
        let now = self.clock.now();
        let mut started = 0;
        let due = self.store.due_tasks(now, FIRE_BATCH).await?;
        let seen = due.len();
        for task in due {
            let req = RunRequest {
                tenant_id: task.tenant_id,
                task_id: task.id,
                trigger: RunTrigger::Schedule,
                since: None,
                until: None,
                fire: Some((
                    task.next_run_at,
                    now + CDuration::seconds(task.interval_secs),
                )),
            };
            match self.store.start_run(&req, now).await? {
                RunStart::Started(_) => started += 1,
                RunStart::Busy(run) => {
                    tracing::info!(task = %task.id, run = %run.id, "previous run still going; skipped")
                }
                RunStart::NotFired => {}
            }
        }
        if started > 0 {
            self.wake_workers();
        }
        Ok(seen)
    }
}
