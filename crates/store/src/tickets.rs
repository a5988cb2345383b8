//! SAC tickets: the records backends exchange and the rules both apply. A ticket
//! downloaded from a channel is stored once per (channel, platform resource) and
//! converges whatever order its reads come in; ponte's answers (and closes) are
//! outbound messages that go out like status sends: attempts recorded, failed ones
//! listed until resent.

use crate::{AttemptOutcome, NewJob, SendAttempt, SendError, SendState};
use chrono::{DateTime, Utc};
pub use ponte_core::ticket::OutboundAction;
use ponte_core::ticket::{Author, FetchedTicket, TicketKind, TicketState};
use ponte_core::{ChannelId, ErrorCode, OrderId, TenantId, TicketId, TicketMessageId};
use serde::{Deserialize, Serialize};

/// The job kind that imports one ticket (`{channel_id, external_id}`).
pub const TICKET_IMPORT_JOB_KIND: &str = "import_ticket";

/// The job kind that sends a ticket's pending answers and closes, in order.
pub const TICKET_SEND_JOB_KIND: &str = "ticket_send";

/// The coalescing key of a ticket's import.
pub fn ticket_import_key(channel: ChannelId, external_id: &str) -> String {
    format!("ticket-import:{channel}:{external_id}")
}

/// The job that sends a ticket's pending outbound messages, due at `at`.
pub fn ticket_send_job(tenant: TenantId, ticket: TicketId, at: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: TICKET_SEND_JOB_KIND.to_owned(),
        payload: serde_json::json!({ "tenant_id": tenant, "ticket_id": ticket }),
        unique_key: Some(format!("ticket-send:{ticket}")),
        run_at: at,
    }
}

/// ponte's side of a message it sends: a send with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbound {
    /// Answer or close.
    pub action: OutboundAction,
    /// `pending`, `succeeded` or `failed` (never `blocked`: a ticket's later messages
    /// wait behind a failed one by order alone).
    pub state: SendState,
    /// Attempts used since it was (re)sent.
    pub attempts_used: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// The last error, until it succeeds.
    pub last_error: Option<SendError>,
    /// Every attempt, oldest first.
    pub attempts: Vec<SendAttempt>,
}

/// One message of a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketMessage {
    /// Id.
    pub id: TicketMessageId,
    /// The platform's id (an outbound message gets it once the platform took it).
    pub external_id: Option<String>,
    /// Who wrote it.
    pub author: Author,
    /// Text (empty for a close).
    pub text: String,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Links to attachments.
    pub attachments: Vec<String>,
    /// Set on the messages ponte sends.
    pub outbound: Option<Outbound>,
}

/// A SAC ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// Owner.
    pub tenant_id: TenantId,
    /// Id.
    pub id: TicketId,
    /// The channel it came from; `None`: recorded in ponte (never sent to a channel).
    pub channel_id: Option<ChannelId>,
    /// The platform resource (`question:123`), with the channel.
    pub external_id: Option<String>,
    /// What it is about.
    pub kind: TicketKind,
    /// State.
    pub state: TicketState,
    /// The order, when ponte has it.
    pub order_id: Option<OrderId>,
    /// The order's platform id, when the ticket names one.
    pub order_ref: Option<String>,
    /// Subject.
    pub subject: String,
    /// Messages, oldest first.
    pub messages: Vec<TicketMessage>,
    /// When the platform last changed it (the newest read kept).
    pub platform_updated_at: Option<DateTime<Utc>>,
    /// Stored.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    /// Whether it came from a channel (and so may be answered there).
    pub fn from_channel(&self) -> bool {
        self.channel_id.is_some() && self.external_id.is_some()
    }

    /// How many of ponte's answers (and closes) failed for good and wait for a resend.
    pub fn failed_answers(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| {
                m.outbound
                    .as_ref()
                    .is_some_and(|o| o.state == SendState::Failed)
            })
            .count()
    }

    /// The first outbound message not sent yet, when it is pending (a failed one
    /// holds the later ones until resent).
    pub fn next_outbound(&self) -> Option<&TicketMessage> {
        self.messages
            .iter()
            .find(|m| {
                m.outbound
                    .as_ref()
                    .is_some_and(|o| o.state != SendState::Succeeded)
            })
            .filter(|m| {
                m.outbound
                    .as_ref()
                    .is_some_and(|o| o.state == SendState::Pending)
            })
    }
}

/// Filter for listing tickets.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Only this channel.
    pub channel_id: Option<ChannelId>,
    /// Only this state.
    pub state: Option<TicketState>,
    /// Only this kind.
    pub kind: Option<TicketKind>,
    /// Only this order.
    pub order_id: Option<OrderId>,
    /// Only tickets with an answer that failed for good (not resent yet).
    pub failed_answers: bool,
}

/// How one attempt of an outbound message ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketSendResult {
    /// The message.
    pub message_id: TicketMessageId,
    /// When the attempt began.
    pub started_at: DateTime<Utc>,
    /// How it ended (`succeeded`, `retrying`, `failed`, `rate_limited`, `held`).
    pub outcome: AttemptOutcome,
    /// What was sent.
    pub request: Option<String>,
    /// HTTP status of the last answer.
    pub http_status: Option<u16>,
    /// Excerpt of the last answer.
    pub response: Option<String>,
    /// Milliseconds.
    pub duration_ms: u64,
    /// Error, when it failed.
    pub error: Option<SendError>,
    /// The platform's id of the message it took.
    pub external_id: Option<String>,
}

/// A change to a stored ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketChange {
    /// Queue an outbound message (answer or close) with this many attempts.
    Queue {
        /// The message (its `outbound` is filled in).
        message: TicketMessage,
        /// Attempts allowed.
        max_attempts: u32,
    },
    /// Record that an attempt begins (before the platform is called): an attempt left
    /// `started` by a process that died during its call becomes `interrupted` (and
    /// counts).
    Started {
        /// The outbound message.
        message_id: TicketMessageId,
        /// When the attempt begins.
        started_at: DateTime<Utc>,
    },
    /// Record an attempt's result (in place of its `started` record).
    Attempted(TicketSendResult),
    /// Send a failed message again (a fresh set of attempts).
    Resend(TicketMessageId),
}

/// Applies `change` to `t` at `now`: the job to enqueue, or the refusal.
pub fn apply_ticket_change(
    t: &mut Ticket,
    change: &TicketChange,
    now: DateTime<Utc>,
) -> Result<Option<NewJob>, ErrorCode> {
    match change {
        TicketChange::Queue {
            message,
            max_attempts,
        } => {
            let Some(action) = message.outbound.as_ref().map(|o| o.action) else {
                return Err(ErrorCode::ValidationFailed);
            };
            if !t.from_channel() {
                return Err(ErrorCode::TicketNotFromChannel);
            }
            let closing = t.messages.iter().any(|m| {
                m.outbound
                    .as_ref()
                    .is_some_and(|o| o.action == OutboundAction::Close)
            });
            if t.state == TicketState::Closed || closing {
                return Err(ErrorCode::TicketClosed);
            }
            let mut m = message.clone();
            m.outbound = Some(Outbound {
                action,
                state: SendState::Pending,
                attempts_used: 0,
                max_attempts: *max_attempts,
                last_error: None,
                attempts: Vec::new(),
            });
            t.messages.push(m);
            t.updated_at = now;
            Ok(Some(ticket_send_job(t.tenant_id, t.id, now)))
        }
        TicketChange::Started {
            message_id,
            started_at,
        } => {
            let Some(o) = t
                .messages
                .iter_mut()
                .find(|m| m.id == *message_id)
                .and_then(|m| m.outbound.as_mut())
            else {
                return Ok(None);
            };
            if let Some(last) = o
                .attempts
                .last_mut()
                .filter(|a| a.outcome == AttemptOutcome::Started)
            {
                last.outcome = AttemptOutcome::Interrupted;
                o.attempts_used = o.attempts_used.saturating_add(1);
            }
            let n = o.attempts.last().map_or(1, |a| a.n + 1);
            o.attempts.push(SendAttempt {
                n,
                started_at: *started_at,
                outcome: AttemptOutcome::Started,
                request: None,
                http_status: None,
                response: None,
                duration_ms: None,
                error_code: None,
                error: None,
            });
            t.updated_at = now;
            Ok(None)
        }
        TicketChange::Attempted(r) => {
            let Some(m) = t.messages.iter_mut().find(|m| m.id == r.message_id) else {
                return Ok(None);
            };
            let Some(o) = m.outbound.as_mut() else {
                return Ok(None);
            };
            // The result takes the place of its `started` record.
            if o.attempts
                .last()
                .is_some_and(|a| a.outcome == AttemptOutcome::Started)
            {
                o.attempts.pop();
            }
            let n = o.attempts.last().map_or(1, |a| a.n + 1);
            o.attempts.push(SendAttempt {
                n,
                started_at: r.started_at,
                outcome: r.outcome,
                request: r.request.clone(),
                http_status: r.http_status,
                response: r.response.clone(),
                duration_ms: Some(r.duration_ms),
                error_code: r.error.as_ref().map(|e| e.code.clone()),
                error: r.error.as_ref().map(|e| e.message.clone()),
            });
            if r.outcome.counts() {
                o.attempts_used = o.attempts_used.saturating_add(1);
            }
            o.last_error = r.error.clone();
            let action = o.action;
            o.state = match r.outcome {
                AttemptOutcome::Succeeded => SendState::Succeeded,
                AttemptOutcome::Failed => SendState::Failed,
                _ => SendState::Pending,
            };
            if o.state == SendState::Succeeded {
                if r.external_id.is_some() {
                    m.external_id = r.external_id.clone();
                }
                t.state = match action {
                    OutboundAction::Close => TicketState::Closed,
                    OutboundAction::Answer if t.state == TicketState::Open => TicketState::Answered,
                    OutboundAction::Answer => t.state,
                };
            }
            t.updated_at = now;
            Ok(None)
        }
        TicketChange::Resend(id) => {
            let Some(o) = t
                .messages
                .iter_mut()
                .find(|m| m.id == *id)
                .and_then(|m| m.outbound.as_mut())
                .filter(|o| o.state == SendState::Failed)
            else {
                return Ok(None);
            };
            o.state = SendState::Pending;
            o.attempts_used = 0;
            t.updated_at = now;
            Ok(Some(ticket_send_job(t.tenant_id, t.id, now)))
        }
    }
}

/// The ticket after a read from the platform: a new one, or `existing` converged with
/// it. Messages are kept by platform id (the same message read again is one; ponte's
/// own sent messages carry the id the platform gave them); a read older than the one
/// kept changes no field but may add messages; the order link is kept once known.
pub fn merge_ticket(
    existing: Option<Ticket>,
    tenant: TenantId,
    channel: ChannelId,
    fetched: &FetchedTicket,
    order_id: Option<OrderId>,
    now: DateTime<Utc>,
) -> Ticket {
    let mut t = existing.unwrap_or_else(|| Ticket {
        tenant_id: tenant,
        id: TicketId::new(),
        channel_id: Some(channel),
        external_id: Some(fetched.external_id.clone()),
        kind: fetched.kind,
        state: fetched.state,
        order_id: None,
        order_ref: None,
        subject: fetched.subject.clone(),
        messages: Vec::new(),
        platform_updated_at: None,
        created_at: now,
        updated_at: now,
    });
    let older = match (t.platform_updated_at, fetched.updated_at) {
        (Some(kept), Some(read)) => read < kept,
        _ => false,
    };
    if !older {
        // A ticket ponte is closing stays as ponte left it until the platform says closed.
        t.state = fetched.state;
        t.subject.clone_from(&fetched.subject);
        t.platform_updated_at = fetched.updated_at.or(t.platform_updated_at);
        if fetched.order_ref.is_some() {
            t.order_ref.clone_from(&fetched.order_ref);
        }
    }
    if order_id.is_some() {
        t.order_id = order_id;
    }
    for f in &fetched.messages {
        if t.messages
            .iter()
            .any(|m| m.external_id.as_deref() == Some(f.external_id.as_str()))
        {
            continue;
        }
        t.messages.push(TicketMessage {
            id: TicketMessageId::new(),
            external_id: Some(f.external_id.clone()),
            author: f.author,
            text: f.text.clone(),
            at: f.at,
            attachments: f.attachments.clone(),
            outbound: None,
        });
    }
    t.messages.sort_by_key(|m| m.at);
    t.updated_at = now;
    t
}

/// SAC tickets.
#[async_trait::async_trait]
pub trait TicketStore: Send + Sync {
    /// Stores what a channel said about a ticket ([`merge_ticket`]) in one
    /// transaction, linking its order when ponte has it, and settles the deliveries
    /// that announced it (`processed`: those naming the ticket or `announced`, the
    /// resource a notification named). Returns the ticket as stored.
    async fn upsert_ticket(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        announced: &str,
        fetched: &FetchedTicket,
        now: DateTime<Utc>,
    ) -> crate::StoreResult<Ticket>;
    /// Adds a ticket recorded in ponte (no channel).
    async fn insert_ticket(&self, ticket: &Ticket) -> crate::StoreResult<()>;
    /// One ticket.
    async fn ticket(&self, tenant: TenantId, id: TicketId) -> crate::StoreResult<Option<Ticket>>;
    /// A tenant's tickets, most recently changed first, at most `limit`.
    async fn tickets(
        &self,
        tenant: TenantId,
        filter: &TicketFilter,
        limit: u32,
    ) -> crate::StoreResult<Vec<Ticket>>;
    /// Applies a change ([`apply_ticket_change`]) and enqueues its job in one
    /// transaction. `None`: no such ticket.
    async fn change_ticket(
        &self,
        tenant: TenantId,
        id: TicketId,
        change: &TicketChange,
        now: DateTime<Utc>,
    ) -> crate::StoreResult<Option<Result<Ticket, ErrorCode>>>;
}
