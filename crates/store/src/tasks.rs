//! Records of scheduled tasks and their runs: a channel's polling and payment
//! refresh, a tenant's automatic cancellation, and manual syncs.

use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, OrderId, RunId, TaskId, TenantId};
use serde::{Deserialize, Serialize};

/// The job kind that executes one task run.
pub const TASK_JOB_KIND: &str = "task_run";

/// The payload of a task-run job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskJob {
    /// The run to execute.
    pub run_id: RunId,
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Imports a channel's orders updated since its cursor (the polling safety net).
    ImportOrders,
    /// Re-reads a channel's orders still awaiting payment or in payment review.
    RefreshPaymentStatus,
    /// Cancels a tenant's orders awaiting payment past the tenant's deadline.
    AutoCancel,
    /// Maps a channel's stored platform payloads again with its current tables (created
    /// disabled, on the first remap: it only runs when asked).
    RemapOrders,
    /// Polls the carriers of a tenant's shipped orders (created with its first carrier
    /// account).
    TrackShipments,
    /// Reads back a sample of a channel's prices and reports (and, when the channel
    /// says so, fixes) the ones that drifted (created when the channel sends prices).
    PriceCheck,
}

impl TaskKind {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImportOrders => "import_orders",
            Self::RefreshPaymentStatus => "refresh_payment_status",
            Self::AutoCancel => "auto_cancel",
            Self::RemapOrders => "remap_orders",
            Self::TrackShipments => "track_shipments",
            Self::PriceCheck => "price_check",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ImportOrders,
            Self::RefreshPaymentStatus,
            Self::AutoCancel,
            Self::RemapOrders,
            Self::TrackShipments,
            Self::PriceCheck,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the task belongs to a channel (else to the tenant).
    pub fn per_channel(self) -> bool {
        !matches!(self, Self::AutoCancel | Self::TrackShipments)
    }

    /// The task's unique name within its tenant.
    pub fn key(self, channel: Option<ChannelId>) -> String {
        match channel {
            Some(c) => format!("{}:{c}", self.as_str()),
            None => self.as_str().to_owned(),
        }
    }
}

/// A task to create if it does not exist yet.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Owner.
    pub tenant_id: TenantId,
    /// What it does.
    pub kind: TaskKind,
    /// Its channel (channel tasks only).
    pub channel_id: Option<ChannelId>,
    /// Seconds between runs.
    pub interval_secs: i64,
    /// First due time.
    pub next_run_at: DateTime<Utc>,
    /// Initial cursor (import tasks: orders updated since).
    pub cursor: Option<DateTime<Utc>>,
}

/// A scheduled task as stored, with its latest run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledTask {
    /// Owner.
    pub tenant_id: TenantId,
    /// Id.
    pub id: TaskId,
    /// What it does.
    pub kind: TaskKind,
    /// Its channel (channel tasks only).
    pub channel_id: Option<ChannelId>,
    /// Seconds between runs.
    pub interval_secs: i64,
    /// Off: never due (run now still works).
    pub enabled: bool,
    /// When it is next due.
    pub next_run_at: DateTime<Utc>,
    /// Import tasks: orders updated at or after this were not all seen yet.
    pub cursor: Option<DateTime<Utc>>,
    /// The latest run, if any.
    pub last_run: Option<TaskRun>,
}

/// A change to a task.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TaskPatch {
    /// New interval (the next due time moves to now + interval).
    pub interval_secs: Option<i64>,
    /// Enable (due now + interval) or disable.
    pub enabled: Option<bool>,
}

/// Why a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// Its schedule came due.
    Schedule,
    /// `run now`.
    RunNow,
    /// A manual sync (with its own `since`; the cursor is left alone).
    Manual,
}

impl RunTrigger {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::RunNow => "run_now",
            Self::Manual => "manual",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Schedule, Self::RunNow, Self::Manual]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for a worker.
    Queued,
    /// A worker is executing it.
    Running,
    /// Finished without error.
    Succeeded,
    /// Stopped by an error (an import task's cursor did not move).
    Failed,
}

impl RunState {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What a run has done so far (every field counts up while it runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunCounts {
    /// Platform calls made.
    pub calls: u64,
    /// Orders read from the platform.
    pub seen: u64,
    /// Orders new to ponte.
    pub created: u64,
    /// Orders that changed.
    pub updated: u64,
    /// Orders already up to date.
    pub unchanged: u64,
    /// Orders not imported by the channel's policy, or older than stored.
    pub skipped: u64,
    /// Orders the platform answered but that could not be read.
    pub unreadable: u64,
    /// Orders created or changed by polling that no webhook had announced.
    pub gaps: u64,
    /// Orders queued for a re-read (payment refresh).
    pub enqueued: u64,
    /// Orders cancelled (auto-cancel).
    pub cancelled: u64,
    /// Orders whose carrier reported the delivery (shipment tracking).
    pub delivered: u64,
    /// Orders flagged undeliverable or returned by their carrier (shipment tracking).
    pub flagged: u64,
    /// How many orders the platform said the run would read, when it said.
    pub expected: Option<u64>,
}

/// One run of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRun {
    /// Owner.
    pub tenant_id: TenantId,
    /// Id.
    pub id: RunId,
    /// The task.
    pub task_id: TaskId,
    /// What it does.
    pub kind: TaskKind,
    /// Its channel (channel tasks only).
    pub channel_id: Option<ChannelId>,
    /// Why it started.
    pub trigger: RunTrigger,
    /// Manual syncs: orders updated since this instant (remaps: placed since).
    pub since: Option<DateTime<Utc>>,
    /// Remaps: orders placed before this instant (`None`: up to now).
    pub until: Option<DateTime<Utc>>,
    /// Where it is.
    pub state: RunState,
    /// Scheduled runs: the due time that fired it (its start minus this is how late it
    /// started).
    pub due_at: Option<DateTime<Utc>>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When a worker last started it (a run resumed after a crash starts again).
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Progress.
    pub counts: RunCounts,
    /// Why it failed.
    pub error: Option<String>,
}

/// A run to start.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// Owner.
    pub tenant_id: TenantId,
    /// The task.
    pub task_id: TaskId,
    /// Why.
    pub trigger: RunTrigger,
    /// Manual syncs: orders updated since this instant (remaps: placed since).
    pub since: Option<DateTime<Utc>>,
    /// Remaps: orders placed before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Scheduled runs: move the due time from the first to the second value, and start
    /// only if this caller is the one that moved it.
    pub fire: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// What starting a run did.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStart {
    /// Queued (its job enqueued, due now).
    Started(TaskRun),
    /// The task already has a queued or running run: nothing started.
    Busy(TaskRun),
    /// Another instance fired this due time first, or the task is gone or disabled.
    NotFired,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// Final counts.
    pub counts: RunCounts,
    /// `None`: succeeded; otherwise why it failed.
    pub error: Option<String>,
    /// Import tasks that succeeded: the task's new cursor.
    pub cursor: Option<DateTime<Utc>>,
}

/// An order found by a sweep (payment refresh, auto-cancel).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRef {
    /// The order.
    pub id: OrderId,
    /// Its channel.
    pub channel_id: ChannelId,
    /// The platform id.
    pub external_id: String,
    /// When the customer placed it, per the platform.
    pub placed_at: Option<DateTime<Utc>>,
}
