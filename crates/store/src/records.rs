//! Records exchanged with the store.

use chrono::{DateTime, Utc};
use ponte_core::import::{ImportPolicy, SkipReason};
use ponte_core::order::{MappedOrder, OrderData};
use ponte_core::{ChannelId, DeliveryId, JobId, OrderId, TenantId};
use serde::{Deserialize, Serialize};

/// A configured sales channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Id.
    pub id: ChannelId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Platform name (`nuvemshop`, ...).
    pub platform: String,
    /// Display name.
    pub name: String,
    /// Platform settings, a flat JSON object validated by the connector.
    pub settings: serde_json::Value,
    /// Credentials, sealed (encrypted) by the engine; opaque here.
    pub credentials: Vec<u8>,
    /// False once deleted (disabled; history is kept).
    pub enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where a channel's push subscription at its platform stands (ponte registers its
/// own webhook when it has a public URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// The platform pushes this channel's events to ponte.
    Active,
    /// Registering (or removing) failed; `error` says why. Polling still imports.
    Failed,
    /// No public URL: the platform cannot reach ponte, polling imports.
    PollingOnly,
    /// Removed at the platform (the channel is disabled).
    Removed,
}

impl SubscriptionState {
    /// Its name, as serialized (`active`, `failed`, `polling_only`, `removed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Failed => "failed",
            Self::PollingOnly => "polling_only",
            Self::Removed => "removed",
        }
    }
}

/// A channel's push subscription, as last reconciled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Where it stands.
    pub state: SubscriptionState,
    /// The URL registered (or to register).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What the platform has for ponte (events, hook statuses).
    #[serde(default)]
    pub registered: Vec<String>,
    /// What the last reconciliation changed (empty: it was already right).
    #[serde(default)]
    pub changes: Vec<String>,
    /// Why it failed, or why the channel is polling-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was last reconciled.
    pub checked_at: DateTime<Utc>,
}

/// The platform refused a channel's credentials: the seller must connect again (or
/// the operator replace them). Work that needs them waits meanwhile; nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsProblem {
    /// What the platform answered.
    pub message: String,
    /// The first refusal since the credentials last changed.
    pub since: DateTime<Utc>,
}

/// State of an inbound webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Stored, its job not done yet.
    Received,
    /// Its job ran and the order is up to date.
    Processed,
    /// Acknowledged and deliberately not acted on.
    Ignored,
    /// Its job failed for good; `error` says why.
    Failed,
}

impl DeliveryState {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processed => "processed",
            Self::Ignored => "ignored",
            Self::Failed => "failed",
        }
    }

    /// Parses a storage / API name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Received, Self::Processed, Self::Ignored, Self::Failed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Handler name.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Coalescing key: while a pending job has the same key, no second one is added.
    pub unique_key: Option<String>,
    /// Earliest time to run.
    pub run_at: DateTime<Utc>,
}

/// An inbound delivery to store (with its job, in the same transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// Id.
    pub id: DeliveryId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Receiving channel.
    pub channel_id: ChannelId,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Platform event name.
    pub event: String,
    /// The platform id the event is about (an order id).
    pub resource_id: Option<String>,
    /// Raw body, verbatim.
    pub body: Vec<u8>,
    /// `Received` (with a job) or `Ignored`.
    pub state: DeliveryState,
    /// Why it was ignored, when it was.
    pub note: Option<String>,
    /// The job that acts on it.
    pub job: Option<NewJob>,
}

/// A stored inbound delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Id.
    pub id: DeliveryId,
    /// Receiving channel.
    pub channel_id: ChannelId,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Platform event name.
    pub event: String,
    /// The platform id it is about.
    pub resource_id: Option<String>,
    /// Raw body as text (lossy for non-UTF-8).
    pub body: String,
    /// State.
    pub state: DeliveryState,
    /// Error or note.
    pub error: Option<String>,
    /// When its job finished.
    pub processed_at: Option<DateTime<Utc>>,
}

/// Filter for listing deliveries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this channel.
    pub channel_id: Option<ChannelId>,
    /// Only this state.
    pub state: Option<DeliveryState>,
    /// Only about this resource.
    pub resource_id: Option<String>,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Handler name.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Attempts that failed and counted so far.
    pub attempts: u32,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// The lease holder.
    pub lease_owner: String,
}

/// Proof of holding a job's lease; completion is refused without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    /// The job.
    pub job_id: JobId,
    /// The claiming worker.
    pub owner: String,
}

/// How a job run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Done: the job is removed.
    Done,
    /// Run again at `run_at`; `count_attempt` false for waits that are not failures (429).
    Retry {
        /// When.
        run_at: DateTime<Utc>,
        /// Whether this run used an attempt.
        count_attempt: bool,
        /// What went wrong.
        error: String,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: String,
    },
}

/// Jobs per state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Waiting to run.
    pub pending: i64,
    /// Leased by a worker.
    pub running: i64,
    /// Failed for good.
    pub failed: i64,
}

/// One outbound platform call, for timelines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// HTTP method and path (no secrets).
    pub request: String,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Milliseconds.
    pub duration_ms: u64,
    /// Error text when it failed.
    pub error: Option<String>,
}

/// The result of an import job, applied in one transaction.
#[derive(Debug, Clone)]
pub struct ImportCommit {
    /// The job's lease (nothing is written if it was lost); `None` for an order read
    /// by a listing (polling, manual sync), which has no job.
    pub lease: Option<JobLease>,
    /// Owner.
    pub tenant_id: TenantId,
    /// Channel.
    pub channel_id: ChannelId,
    /// Platform order id.
    pub external_id: String,
    /// The fetch call.
    pub call: CallRecord,
    /// When the platform read began (for a job, after its lease was taken): the
    /// order's deliveries received by then are settled by this commit. One received
    /// later, but committed before the lease, could otherwise stay `received` (its
    /// own job merged into the one already leased); one committed after the lease
    /// queued a job of its own.
    pub read_at: DateTime<Utc>,
    /// What happened.
    pub result: ImportResult,
}

/// What an import job produced.
#[derive(Debug, Clone)]
pub enum ImportResult {
    /// The order was fetched and mapped: apply it.
    Fetched {
        /// The order.
        order: Box<MappedOrder>,
        /// The channel's import policy.
        policy: ImportPolicy,
    },
    /// A stored payload mapped again with the channel's current tables (remap): applied
    /// like a fetched order, noted `remapped` on the timeline, settling no delivery (the
    /// platform was not asked).
    Remapped {
        /// The order.
        order: Box<MappedOrder>,
        /// The channel's import policy.
        policy: ImportPolicy,
    },
    /// The fetch failed; the job is retried or failed per `outcome`.
    FetchFailed {
        /// Retry or fail (never `Done`).
        outcome: JobOutcome,
    },
}

/// What applying an import commit did.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportApplied {
    /// The lease was lost; nothing written.
    LeaseLost,
    /// Order created.
    Created(OrderId),
    /// Order changed.
    Updated(OrderId),
    /// Nothing new.
    Unchanged(OrderId),
    /// An older snapshot than stored; ignored.
    Stale,
    /// Not imported.
    Skipped(SkipReason),
    /// Fetch failed; retry scheduled.
    Retrying,
    /// Fetch failed for good.
    Failed,
}

impl ImportApplied {
    /// What the settled deliveries say about it, when more than "processed".
    pub fn delivery_note(&self) -> Option<String> {
        match self {
            Self::Skipped(r) => Some(format!("skipped: {}", r.as_str())),
            Self::Stale => Some("stale: a newer version is stored".to_owned()),
            _ => None,
        }
    }
}

/// An order as stored.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    /// Id.
    pub id: OrderId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Channel it came from.
    pub channel_id: ChannelId,
    /// The order.
    pub data: OrderData,
    /// The platform payload last fetched, as stored: parsed only where it is read (most
    /// reads of an order never look at it).
    pub raw: Box<serde_json::value::RawValue>,
    /// What the ERP recorded (separation, invoice, shipment, ...).
    pub fulfilment: ponte_core::action::Fulfilment,
    /// First imported.
    pub created_at: DateTime<Utc>,
    /// Last changed in ponte.
    pub updated_at: DateTime<Utc>,
}

/// Payloads compare as stored text (what a store returns for one row is always the same).
impl PartialEq for StoredOrder {
    fn eq(&self, o: &Self) -> bool {
        (self.id, self.tenant_id, self.channel_id) == (o.id, o.tenant_id, o.channel_id)
            && self.data == o.data
            && self.raw.get() == o.raw.get()
            && self.fulfilment == o.fulfilment
            && (self.created_at, self.updated_at) == (o.created_at, o.updated_at)
    }
}

/// Filter for listing orders.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this channel.
    pub channel_id: Option<ChannelId>,
    /// Only this status.
    pub status: Option<ponte_core::OrderStatus>,
    /// Only this platform id.
    pub external_id: Option<String>,
    /// Changed in ponte at or after.
    pub updated_since: Option<DateTime<Utc>>,
    /// The search box: number, customer name prefix, CPF/CNPJ or e-mail.
    pub search: Option<crate::OrderSearch>,
    /// Placed at or after (orders without a placing date count from their import).
    pub placed_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub placed_to: Option<DateTime<Utc>>,
}

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// What (`delivery_received`, `fetched`, `imported`, `status_changed`, ...).
    pub kind: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// Cursor pagination request.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Cursor of the next page, if any.
    pub next_cursor: Option<String>,
}

/// The coalescing key of the job that imports one platform order.
pub fn import_job_key(channel: ChannelId, external_id: &str) -> String {
    format!("import:{channel}:{external_id}")
}

/// What applying an order read by a listing did.
#[derive(Debug, Clone, PartialEq)]
pub struct PolledApplied {
    /// As for a webhook's import.
    pub applied: ImportApplied,
    /// A webhook delivery about this order was waiting (received, not yet processed):
    /// the platform did announce it.
    pub announced: bool,
}

/// What a rate-limit bucket granted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateGrant {
    /// Tokens granted (at most what was asked).
    pub granted: u32,
    /// How long until the next token is available (after those granted).
    pub retry_after: std::time::Duration,
}
