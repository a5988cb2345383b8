//! Records of ERP actions and status sends (the outbound side).

use crate::records::{JobLease, StoredOrder};
use chrono::{DateTime, Utc};
use ponte_core::action::{Action, ActionError, ActionKind};
use ponte_core::{ChannelId, OrderId, SendId, TenantId};
use serde::{Deserialize, Serialize};

/// The job kind that runs an order's status sends, one at a time, in order.
pub const SEND_JOB_KIND: &str = "status_send";

/// The coalescing key of the job running one order's sends. Starts with the channel,
/// so that a channel's jobs can be found (after its credentials change).
pub fn send_job_key(channel: ChannelId, order: OrderId) -> String {
    format!("send:{channel}:{order}")
}

/// The payload of a send job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendJob {
    /// The order whose sends to run.
    pub order_id: OrderId,
    /// Its channel.
    pub channel_id: ChannelId,
}

/// An ERP action to apply to an order, in one transaction with its status send.
#[derive(Debug, Clone)]
pub struct ActionCommit {
    /// Owner.
    pub tenant_id: TenantId,
    /// The order.
    pub order_id: OrderId,
    /// What the ERP did.
    pub action: Action,
    /// The authorized NF-e XML of an invoice action, stored with it.
    pub xml: Option<String>,
    /// Enqueue a status send with this many attempts; `None` when the channel does not
    /// get this kind of event (the reason is the engine's to report).
    pub send_max_attempts: Option<u32>,
    /// Why no status send goes out (an automation off, fulfillment mode, ...): kept in
    /// the action's timeline entry, so the order's history says why nothing was sent.
    pub not_sent: Option<ponte_core::automation::NotSent>,
}

/// What applying a batch of actions did.
#[derive(Debug, Default)]
pub struct ActionsApplied {
    /// One result per action, in order.
    pub applied: Vec<ActionApplied>,
    /// The sends it started (see [`SendStore::apply_actions_and_start`]).
    ///
    /// [`SendStore::apply_actions_and_start`]: crate::SendStore::apply_actions_and_start
    pub started: crate::claim::Claimed,
}

/// What applying an action did. The orders it returns carry no platform payload
/// (`raw` is JSON `null`): an action never changes it, and reading it back for every
/// order of a batch was a good part of the batch's cost.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionApplied {
    /// No such order.
    NotFound,
    /// Refused; nothing changed.
    Refused(ActionError),
    /// The same action was already recorded; nothing changed.
    AlreadyDone(Box<StoredOrder>),
    /// Recorded (and its send enqueued, when asked).
    Applied {
        /// The order after the action.
        order: Box<StoredOrder>,
        /// The send enqueued.
        send: Option<SendId>,
    },
}

/// Where a status send is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendState {
    /// Waiting to go out (maybe behind an earlier send of its order, or a retry).
    Pending,
    /// The platform took it.
    Succeeded,
    /// Out of attempts or refused for good: listed under Errors until resent.
    Failed,
    /// An earlier send of the same order failed; waits until that one is resent.
    Blocked,
}

impl SendState {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
        }
    }

    /// Parses a storage / API name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed, Self::Blocked]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Begun; no result recorded (in flight, or the process died during it).
    Started,
    /// The platform took it.
    Succeeded,
    /// Failed; another attempt follows.
    Retrying,
    /// Failed; no attempt follows.
    Failed,
    /// 429: waited for the platform; did not use an attempt.
    RateLimited,
    /// 401/403: held until the channel's credentials change; did not use an attempt.
    Held,
    /// The process stopped during the call; its result is unknown. Counts as an attempt.
    Interrupted,
}

impl AttemptOutcome {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::RateLimited => "rate_limited",
            Self::Held => "held",
            Self::Interrupted => "interrupted",
        }
    }

    /// Parses a storage / API name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Started,
            Self::Succeeded,
            Self::Retrying,
            Self::Failed,
            Self::RateLimited,
            Self::Held,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    /// Whether it used one of the send's attempts.
    pub fn counts(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Retrying | Self::Failed | Self::Interrupted
        )
    }
}

/// One attempt of a send, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendAttempt {
    /// 1, 2, ... over the send's whole life (resends continue the count).
    pub n: u32,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// What was sent (method, path and a summary of the body; no secrets).
    pub request: Option<String>,
    /// HTTP status of the last answer.
    pub http_status: Option<u16>,
    /// Excerpt of the last answer.
    pub response: Option<String>,
    /// Milliseconds, all calls of the attempt.
    pub duration_ms: Option<u64>,
    /// Stable error code when it failed.
    pub error_code: Option<String>,
    /// Error text when it failed.
    pub error: Option<String>,
}

/// A send's last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendError {
    /// Stable code.
    pub code: String,
    /// Text.
    pub message: String,
}

/// One status send: an ERP event to tell one platform.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSend {
    /// Id.
    pub id: SendId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Channel told.
    pub channel_id: ChannelId,
    /// The order.
    pub order_id: OrderId,
    /// The order's platform id.
    pub external_id: String,
    /// Position among the order's sends (1, 2, ...): they go out in this order.
    pub seq: i64,
    /// What is told.
    pub action: Action,
    /// State.
    pub state: SendState,
    /// Attempts used since it was (re)sent.
    pub attempts_used: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The last error, until it succeeds.
    pub last_error: Option<SendError>,
    /// Created (the ERP action).
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Every attempt, oldest first (filled by listings and by `begin_sends`).
    pub attempts: Vec<SendAttempt>,
}

impl StatusSend {
    /// Its kind.
    pub fn kind(&self) -> ActionKind {
        self.action.kind()
    }
}

/// What beginning a send job found.
#[derive(Debug, Clone, PartialEq)]
pub enum SendBegin {
    /// The lease was lost; nothing written.
    LeaseLost,
    /// Nothing to send now (all sent, or the head failed): the job was finished.
    Idle,
    /// An attempt was recorded as started: make the call, then `finish_sends`.
    /// `send.attempts` holds only this attempt; its `n` is the attempt number.
    Started(Box<StatusSend>),
}

/// How a send attempt ended, decided by the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// Taken by the platform.
    Succeeded,
    /// Try again at `run_at`; the attempt counts (transient failure).
    Retry {
        /// When.
        run_at: DateTime<Utc>,
    },
    /// 429: try again at `run_at` without using an attempt.
    RateLimited {
        /// When.
        run_at: DateTime<Utc>,
    },
    /// Auth failure: held (not counted) until the credentials change; checked again
    /// at `run_at` anyway.
    Held {
        /// When.
        run_at: DateTime<Utc>,
    },
    /// Failed for good (permanent error, failed check, or last attempt).
    Failed,
}

/// The end of one attempt, applied under the job's lease.
#[derive(Debug, Clone, PartialEq)]
pub struct SendFinish {
    /// The send job's lease.
    pub lease: JobLease,
    /// Owner.
    pub tenant_id: TenantId,
    /// The send.
    pub send_id: SendId,
    /// The attempt (`n` of the started attempt).
    pub n: u32,
    /// What was sent and answered.
    pub request: Option<String>,
    /// HTTP status of the last answer.
    pub http_status: Option<u16>,
    /// Excerpt of the last answer.
    pub response: Option<String>,
    /// Milliseconds.
    pub duration_ms: u64,
    /// Error, when it failed.
    pub error: Option<SendError>,
    /// What happens next.
    pub outcome: SendOutcome,
    /// Calls the attempt made beyond its first, charged to its channel's budget with it.
    pub extra_calls: Option<ExtraCalls>,
}

/// Requests an attempt made beyond its first (a send that takes several calls): the
/// claim took one token for it, the rest are charged, even into debt, in the
/// transaction that records it (`send_plan::plan_finish`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtraCalls {
    /// The channel called.
    pub channel_id: ChannelId,
    /// Calls beyond the first.
    pub n: u32,
    /// The channel's request budget.
    pub budget: crate::claim::Budget,
}

/// Filter for listing sends.
#[derive(Debug, Clone, Default)]
pub struct SendFilter {
    /// Only this channel.
    pub channel_id: Option<ChannelId>,
    /// Only this order.
    pub order_id: Option<OrderId>,
    /// Only this state.
    pub state: Option<SendState>,
    /// Only this kind of action.
    pub kind: Option<ActionKind>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
}

/// Which sends to resend.
#[derive(Debug, Clone, PartialEq)]
pub enum ResendSelector {
    /// These (only the failed ones are resent).
    Ids(Vec<SendId>),
    /// Every failed send of a channel.
    AllFailed(ChannelId),
}
