//! SAC tickets: importing a ticket a notification announced (fetched with the channel's
//! credentials, stored idempotently), and answering or closing one. An answer is an
//! outbound message sent by a job like a status send: each attempt recorded on the
//! message, retried with the send policy, 429 and auth failures not counted, a failed
//! one kept (listed, resent) and holding the ticket's later messages.

use crate::send::HELD_RECHECK;
use crate::{Engine, EngineError};
use chrono::Utc;
use ponte_channels::PlatformErrorKind;
use ponte_core::ticket::{Author, OutboundAction, TicketKind, TicketState};
use ponte_core::wait::after;
use ponte_core::{ChannelId, ErrorCode, TenantId, TicketId, TicketMessageId};
use ponte_store::{
    AttemptOutcome, Job, JobLease, JobOutcome, NewJob, Outbound, SendError, SendState, Ticket,
    TicketChange, TicketFilter, TicketMessage, TicketSendResult, TICKET_IMPORT_JOB_KIND,
    TICKET_SEND_JOB_KIND,
};
use serde::Deserialize;
use std::time::Duration;

/// Most tickets one listing returns.
pub const TICKET_LIST_MAX: u32 = 200;

/// Longest answer accepted (Mercado Livre takes 2,000 characters for a question's
/// answer; other kinds take less, and the platform's refusal is recorded).
pub const ANSWER_MAX_CHARS: usize = 2000;

#[derive(Deserialize)]
struct ImportPayload {
    channel_id: ChannelId,
    external_id: String,
}

#[derive(Deserialize)]
struct SendPayload {
    tenant_id: TenantId,
    ticket_id: TicketId,
}

/// The job that imports ticket `external_id` of a channel, now.
pub(crate) fn ticket_import_job(
    channel: ChannelId,
    external_id: &str,
    at: chrono::DateTime<Utc>,
) -> NewJob {
    NewJob {
        kind: TICKET_IMPORT_JOB_KIND.into(),
        payload: serde_json::json!({ "channel_id": channel, "external_id": external_id }),
        unique_key: Some(ponte_store::ticket_import_key(channel, external_id)),
        run_at: at,
    }
}

impl Engine {
    /// Runs one ticket job (import or send) and finishes it.
    pub(crate) async fn run_ticket_job(&self, job: &Job) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let outcome = if job.kind == TICKET_SEND_JOB_KIND {
            match serde_json::from_value::<SendPayload>(job.payload.clone()) {
                Ok(p) => self.send_ticket_messages(p.tenant_id, p.ticket_id).await,
                Err(e) => return self.fail_malformed(&lease, &e).await,
            }
        } else {
            match serde_json::from_value::<ImportPayload>(job.payload.clone()) {
                Ok(p) => self.import_ticket(job, p).await,
                Err(e) => return self.fail_malformed(&lease, &e).await,
            }
        };
        if let Err(e) = self
            .store
            .finish_job(&lease, &outcome, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, kind = %job.kind, "finishing a ticket job");
        }
    }

    async fn import_ticket(&self, job: &Job, p: ImportPayload) -> JobOutcome {
        let ready = match self.cached_channel(p.channel_id).await {
            Ok(r) if r.enabled => r,
            Ok(_) => {
                return JobOutcome::Failed {
                    error: EngineError::ChannelDisabled.to_string(),
                }
            }
            Err(e) => {
                return JobOutcome::Retry {
                    run_at: after(self.clock.now(), HELD_RECHECK),
                    count_attempt: false,
                    error: format!("{}: {e}", e.code()),
                }
            }
        };
        let (calls, result) = ready.connector.fetch_ticket(&p.external_id).await;
        for c in &calls {
            self.metrics.call(&ready.platform, c.status);
        }
        let n = u32::try_from(calls.len()).unwrap_or(u32::MAX);
        self.spend(&ready, job.tenant_id, n.saturating_sub(1)).await;
        match result {
            Ok(t) => match self
                .store
                .upsert_ticket(
                    job.tenant_id,
                    p.channel_id,
                    &p.external_id,
                    &t,
                    self.clock.now(),
                )
                .await
            {
                Ok(_) => JobOutcome::Done,
                Err(e) => JobOutcome::Retry {
                    run_at: self.clock.now(),
                    count_attempt: false,
                    error: format!("storage failed: {e}"),
                },
            },
            Err(e) => {
                self.note_refusal(job.tenant_id, p.channel_id, &e).await;
                self.outcome_for(job, &e)
            }
        }
    }

    /// Sends a ticket's pending outbound messages in order; stops at the first that
    /// does not go out (its retry is the job's).
    async fn send_ticket_messages(&self, tenant: TenantId, id: TicketId) -> JobOutcome {
        loop {
            let ticket = match self.store.ticket(tenant, id).await {
                Ok(Some(t)) => t,
                Ok(None) => return JobOutcome::Done,
                Err(e) => return storage_retry(self.clock.now(), &e.to_string()),
            };
            let (Some(next), Some(channel), Some(external)) = (
                ticket.next_outbound().cloned(),
                ticket.channel_id,
                ticket.external_id.clone(),
            ) else {
                return JobOutcome::Done;
            };
            // Recorded before the call: a crash during it leaves the attempt
            // `started`, and the next run marks it interrupted.
            let started = TicketChange::Started {
                message_id: next.id,
                started_at: self.clock.now(),
            };
            if let Err(e) = self
                .store
                .change_ticket(tenant, id, &started, self.clock.now())
                .await
            {
                return storage_retry(self.clock.now(), &e.to_string());
            }
            let (result, wait) = self
                .attempt_ticket(&ticket, channel, &external, &next)
                .await;
            let outcome = result.outcome;
            let change = TicketChange::Attempted(result);
            if let Err(e) = self
                .store
                .change_ticket(tenant, id, &change, self.clock.now())
                .await
            {
                return storage_retry(self.clock.now(), &e.to_string());
            }
            match (outcome, wait) {
                (AttemptOutcome::Succeeded, _) => continue,
                (AttemptOutcome::Failed, _) | (_, None) => return JobOutcome::Done,
                (_, Some(run_at)) => {
                    return JobOutcome::Retry {
                        run_at,
                        count_attempt: false,
                        error: format!("ticket message {} waits", next.id),
                    }
                }
            }
        }
    }

    /// One attempt of one outbound message: the result to record and, when another
    /// attempt follows, when.
    async fn attempt_ticket(
        &self,
        ticket: &Ticket,
        channel: ChannelId,
        external: &str,
        m: &TicketMessage,
    ) -> (TicketSendResult, Option<chrono::DateTime<Utc>>) {
        let now = self.clock.now();
        let out = m.outbound.as_ref();
        let mut r = TicketSendResult {
            message_id: m.id,
            started_at: now,
            outcome: AttemptOutcome::Held,
            request: None,
            http_status: None,
            response: None,
            duration_ms: 0,
            error: None,
            external_id: None,
        };
        let ready = match self.cached_channel(channel).await {
            Ok(r) if r.enabled => r,
            Ok(_) => {
                r.error = Some(SendError {
                    code: ErrorCode::ChannelDisabled.to_string(),
                    message: "the channel is disabled".into(),
                });
                return (r, Some(after(now, HELD_RECHECK)));
            }
            Err(e) => {
                r.error = Some(SendError {
                    code: e.code().to_string(),
                    message: e.to_string(),
                });
                return (r, Some(after(now, HELD_RECHECK)));
            }
        };
        let action = out.map_or(OutboundAction::Answer, |o| o.action);
        let report = ready.connector.send_ticket(external, action, &m.text).await;
        for c in &report.calls {
            self.metrics.call(&ready.platform, c.status);
        }
        let n = u32::try_from(report.calls.len()).unwrap_or(u32::MAX);
        self.spend(&ready, ticket.tenant_id, n.saturating_sub(1))
            .await;
        let last = report.calls.last();
        r.request = Some(report.request);
        r.http_status = last.and_then(|c| c.status);
        r.response = last.and_then(|c| c.response.clone());
        let total = report
            .calls
            .iter()
            .fold(Duration::ZERO, |t, c| t.saturating_add(c.duration));
        r.duration_ms = u64::try_from(total.as_millis()).unwrap_or(u64::MAX);
        let e = match report.result {
            Ok(id) => {
                r.outcome = AttemptOutcome::Succeeded;
                r.external_id = id;
                return (r, None);
            }
            Err(e) => e,
        };
        self.note_refusal(ticket.tenant_id, channel, &e).await;
        r.error = Some(SendError {
            code: e.code().to_string(),
            message: e.message.clone(),
        });
        let policy = ponte_core::retry::RetryPolicy {
            max_attempts: out.map_or(1, |o| o.max_attempts),
            ..self.config.send_retry
        };
        let used = out.map_or(0, |o| o.attempts_used) + 1;
        let now = self.clock.now();
        let wait = match e.kind {
            PlatformErrorKind::RateLimited(w) => {
                r.outcome = AttemptOutcome::RateLimited;
                Some(after(now, w))
            }
            PlatformErrorKind::Auth => {
                r.outcome = AttemptOutcome::Held;
                Some(after(now, HELD_RECHECK))
            }
            PlatformErrorKind::Transient if policy.allows_another(used) => {
                r.outcome = AttemptOutcome::Retrying;
                Some(after(now, policy.backoff(used, rand::random::<f64>())))
            }
            _ => {
                r.outcome = AttemptOutcome::Failed;
                None
            }
        };
        (r, wait)
    }

    /// A tenant's tickets, most recently changed first.
    pub async fn tickets(
        &self,
        tenant: TenantId,
        filter: &TicketFilter,
    ) -> Result<Vec<Ticket>, EngineError> {
        Ok(self.store.tickets(tenant, filter, TICKET_LIST_MAX).await?)
    }

    /// One ticket.
    pub async fn ticket(&self, tenant: TenantId, id: TicketId) -> Result<Ticket, EngineError> {
        self.store
            .ticket(tenant, id)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::TicketNotFound))
    }

    /// Records a ticket in ponte (not from a channel: it is never sent to one), with
    /// its first message from the customer.
    pub async fn create_ticket(
        &self,
        tenant: TenantId,
        kind: TicketKind,
        subject: &str,
        text: &str,
        order_id: Option<ponte_core::OrderId>,
    ) -> Result<Ticket, EngineError> {
        let subject = crate::error::checked_name(subject, 200)?;
        let text = checked_text(text)?;
        if let Some(o) = order_id {
            self.store
                .order(tenant, o)
                .await?
                .ok_or(EngineError::NotFound(ErrorCode::OrderNotFound))?;
        }
        let now = self.clock.now();
        let t = Ticket {
            tenant_id: tenant,
            id: TicketId::new(),
            channel_id: None,
            external_id: None,
            kind,
            state: TicketState::Open,
            order_id,
            order_ref: None,
            subject,
            messages: vec![TicketMessage {
                id: TicketMessageId::new(),
                external_id: None,
                author: Author::Customer,
                text,
                at: now,
                attachments: vec![],
                outbound: None,
            }],
            platform_updated_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_ticket(&t).await?;
        Ok(t)
    }

    /// Queues the seller's answer (`Some(text)`) or the ticket's close (`None`) to go
    /// out to its channel. Refused for a ticket not from a channel
    /// (`ticket_not_from_channel`), a closed one (`ticket_closed`), or a close the
    /// platform does not allow (`ticket_close_unsupported`).
    pub async fn reply_ticket(
        &self,
        tenant: TenantId,
        id: TicketId,
        text: Option<&str>,
    ) -> Result<(Ticket, TicketMessageId), EngineError> {
        let ticket = self.ticket(tenant, id).await?;
        let (Some(channel), true) = (ticket.channel_id, ticket.from_channel()) else {
            return Err(EngineError::Refused(
                ErrorCode::TicketNotFromChannel,
                "this ticket was recorded in ponte, not downloaded from a channel".into(),
            ));
        };
        if ticket.state == TicketState::Closed {
            return Err(EngineError::Refused(
                ErrorCode::TicketClosed,
                "the ticket is closed".into(),
            ));
        }
        let ready = self.cached_channel(channel).await?;
        let action = match text {
            Some(_) => OutboundAction::Answer,
            None if ready.connector.closes_tickets(ticket.kind) => OutboundAction::Close,
            None => {
                return Err(EngineError::Refused(
                    ErrorCode::TicketCloseUnsupported,
                    format!(
                        "{} does not let a seller close a {} ticket",
                        ready.platform,
                        ticket.kind.as_str()
                    ),
                ))
            }
        };
        let text = text.map(checked_text).transpose()?.unwrap_or_default();
        let max_attempts = ready.automations.max_attempts;
        let message = TicketMessage {
            id: TicketMessageId::new(),
            external_id: None,
            author: Author::Seller,
            text,
            at: self.clock.now(),
            attachments: vec![],
            outbound: Some(Outbound {
                action,
                state: SendState::Pending,
                attempts_used: 0,
                max_attempts,
                last_error: None,
                attempts: vec![],
            }),
        };
        let mid = message.id;
        let change = TicketChange::Queue {
            message,
            max_attempts,
        };
        let t = self.change(tenant, id, &change).await?;
        self.wake.notify_waiters();
        Ok((t, mid))
    }

    /// Sends a failed answer again (a fresh set of attempts).
    pub async fn resend_ticket_message(
        &self,
        tenant: TenantId,
        id: TicketId,
        message: TicketMessageId,
    ) -> Result<Ticket, EngineError> {
        let t = self
            .change(tenant, id, &TicketChange::Resend(message))
            .await?;
        self.wake.notify_waiters();
        Ok(t)
    }

    async fn change(
        &self,
        tenant: TenantId,
        id: TicketId,
        change: &TicketChange,
    ) -> Result<Ticket, EngineError> {
        match self
            .store
            .change_ticket(tenant, id, change, self.clock.now())
            .await?
        {
            None => Err(EngineError::NotFound(ErrorCode::TicketNotFound)),
            Some(Ok(t)) => Ok(t),
            Some(Err(code)) => Err(EngineError::Refused(code, code.title().to_owned())),
        }
    }
}

fn checked_text(text: &str) -> Result<String, EngineError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(EngineError::Invalid("text is empty".into()));
    }
    if t.chars().count() > ANSWER_MAX_CHARS {
        return Err(EngineError::Invalid(format!(
            "text is longer than {ANSWER_MAX_CHARS} characters"
        )));
    }
    Ok(t.to_owned())
}

fn storage_retry(now: chrono::DateTime<Utc>, why: &str) -> JobOutcome {
    JobOutcome::Retry {
        run_at: now,
        count_attempt: false,
        error: format!("storage failed: {why}"),
    }
}
