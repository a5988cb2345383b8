//! The status-send job: begin (the attempt is recorded as started), check the
//! platform's requirements, call, and record how it ended, for a batch of orders.

use crate::supervise::caught;
use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use ponte_channels::{PlatformError, PlatformErrorKind};
use ponte_core::action::Action;
use ponte_core::retry::RetryPolicy;
use ponte_core::wait::after;
use ponte_core::ErrorCode;
use ponte_store::{
    ExtraCalls, Job, JobLease, JobOutcome, SendBegin, SendError, SendFinish, SendJob, SendOutcome,
    StatusSend, SEND_JOB_KIND,
};
use std::time::Duration;

/// How long a job held by an auth failure or unreadable credentials waits before being
/// checked again anyway (a credentials change releases held sends at once).
pub(crate) const HELD_RECHECK: Duration = Duration::from_secs(3600);

impl Engine {
    /// Runs a batch of claimed send jobs: begins them, then [`Engine::run_started`].
    pub(crate) async fn run_sends(&self, jobs: Vec<Job>) {
        let mut pairs = Vec::with_capacity(jobs.len());
        for j in jobs {
            let lease = JobLease {
                job_id: j.id,
                owner: j.lease_owner.clone(),
            };
            match serde_json::from_value::<SendJob>(j.payload) {
                Ok(p) => pairs.push((lease, p)),
                Err(e) => self.fail_malformed(&lease, &e).await,
            }
        }
        self.gate.background_turn().await;
        let begun = match self.store.begin_sends(&pairs, self.clock.now()).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "beginning status sends; the jobs go back to the queue");
                self.give_back(pairs.iter().map(|(l, _)| l), &e.to_string())
                    .await;
                return;
            }
        };
        let started: Vec<(JobLease, StatusSend)> = pairs
            .into_iter()
            .zip(begun)
            .filter_map(|((lease, _), b)| match b {
                SendBegin::Started(s) => Some((lease, *s)),
                SendBegin::Idle | SendBegin::LeaseLost => None,
            })
            .collect();
        self.run_started(started).await;
    }

    /// Makes the attempts `begin_sends` (or a claim) recorded as started, and records
    /// how they ended.
    pub(crate) async fn run_started(&self, started: Vec<(JobLease, StatusSend)>) {
        if started.is_empty() {
            return;
        }
        let finishes: Vec<SendFinish> =
            join_all(started.into_iter().map(|(lease, send)| async move {
                match caught(self.attempt(lease.clone(), &send)).await {
                    Ok(finish) => finish,
                    Err(panic) => self.panicked_send(lease, &send, &panic),
                }
            }))
            .await;
        if let Err(e) = self.record_finishes(&finishes).await {
            // The attempts stay `started`: the next run records them as interrupted.
            tracing::error!(error = %e, "recording status sends; the jobs go back to the queue");
            self.give_back(finishes.iter().map(|f| &f.lease), &e.to_string())
                .await;
        }
    }

    /// Records how sends ended (and charges the calls they made beyond the first): on
    /// a single writer with the action committer's next batch (one commit for both),
    /// else in a transaction of their own, after the inbox's turn.
    async fn record_finishes(&self, finishes: &[SendFinish]) -> Result<(), EngineError> {
        if self.store.single_writer() {
            self.actions.finish(finishes.to_vec()).await?;
        } else {
            self.gate.background_turn().await;
            self.store.finish_sends(finishes, self.clock.now()).await?;
        }
        Ok(())
    }

    /// Returns jobs to the queue at once without using an attempt (storage failed
    /// around their work: they start over).
    pub(crate) async fn give_back<'a>(
        &self,
        leases: impl Iterator<Item = &'a JobLease>,
        why: &str,
    ) {
        let retry = JobOutcome::Retry {
            run_at: self.clock.now(),
            count_attempt: false,
            error: format!("storage failed: {why}"),
        };
        for l in leases {
            if let Err(e) = self.store.finish_job(l, &retry, self.clock.now()).await {
                tracing::warn!(error = %e, "returning a send job to the queue");
            }
        }
    }

    /// One attempt of one send: check, call, classify.
    async fn attempt(&self, lease: JobLease, send: &StatusSend) -> SendFinish {
        let n = attempt_number(send);
        let mut finish = SendFinish {
            lease,
            tenant_id: send.tenant_id,
            send_id: send.id,
            n,
            request: None,
            http_status: None,
            response: None,
            duration_ms: 0,
            error: None,
            outcome: SendOutcome::Succeeded,
            extra_calls: None,
        };
        let now = self.clock.now();
        let ready = match self.cached_channel(send.channel_id).await {
            Ok(r) if r.enabled => r,
            Ok(_) => {
                return held(
                    finish,
                    now,
                    ErrorCode::ChannelDisabled,
                    "the channel is disabled".into(),
                )
            }
            Err(e) => return held(finish, now, e.code(), e.to_string()),
        };
        if let Err(e) = ready.connector.check_send(&send.action) {
            finish.error = Some(SendError {
                code: e.code.to_string(),
                message: e.message,
            });
            finish.outcome = SendOutcome::Failed;
            self.metrics.send("check_failed", None);
            return finish;
        }
        let xml = match &send.action {
            Action::Invoice(i) if i.has_xml => {
                match self.store.invoice_xml(send.tenant_id, send.order_id).await {
                    Ok(x) => x,
                    Err(e) => return held(finish, now, ErrorCode::StorageError, e.to_string()),
                }
            }
            _ => None,
        };
        let report = ready
            .connector
            .send(&send.external_id, &send.action, xml.as_deref())
            .await;
        for c in &report.calls {
            self.metrics.call(&ready.platform, c.status);
        }
        if report.calls.len() > 1 {
            // The claim took one token: the rest are charged as the attempt is recorded.
            finish.extra_calls = Some(ExtraCalls {
                channel_id: send.channel_id,
                n: u32::try_from(report.calls.len() - 1).unwrap_or(u32::MAX),
                budget: ready.budget(),
            });
        }
        let last = report.calls.last();
        finish.request = Some(report.request);
        finish.http_status = last.and_then(|c| c.status);
        finish.response = last.and_then(|c| c.response.clone());
        let total = (report.calls.iter()).fold(Duration::ZERO, |t, c| t.saturating_add(c.duration));
        finish.duration_ms = u64::try_from(total.as_millis()).unwrap_or(u64::MAX);
        let first_try = send.attempts_used == 0 && n == 1;
        let latency = first_try
            .then(|| (self.clock.now() - send.created_at).to_std().ok())
            .flatten()
            .map(|d| d.as_secs_f64());
        match report.result {
            Ok(()) => {
                self.metrics.send("succeeded", latency);
                finish
            }
            Err(e) => {
                self.note_refusal(send.tenant_id, send.channel_id, &e).await;
                finish.outcome = self.outcome_of(send, &e, self.clock.now());
                finish.error = Some(SendError {
                    code: e.code().to_string(),
                    message: e.message,
                });
                self.metrics.send(outcome_name(&finish.outcome), None);
                finish
            }
        }
    }

    /// The attempt of a send whose handling panicked: error code `panic`, retried with
    /// backoff while the send has attempts left, else failed.
    fn panicked_send(&self, lease: JobLease, send: &StatusSend, panic: &str) -> SendFinish {
        self.job_panicked(SEND_JOB_KIND, panic);
        let policy = self.policy_of(send);
        let used = send.attempts_used + 1;
        let outcome = if policy.allows_another(used) {
            SendOutcome::Retry {
                run_at: after(
                    self.clock.now(),
                    policy.backoff(used, rand::random::<f64>()),
                ),
            }
        } else {
            SendOutcome::Failed
        };
        self.metrics.send(outcome_name(&outcome), None);
        SendFinish {
            lease,
            tenant_id: send.tenant_id,
            send_id: send.id,
            n: attempt_number(send),
            request: None,
            http_status: None,
            response: None,
            duration_ms: 0,
            error: Some(SendError {
                code: ErrorCode::Panic.to_string(),
                message: panic.to_owned(),
            }),
            outcome,
            extra_calls: None,
        }
    }

    /// The send's retry policy (its own `max_attempts`, the configured backoff).
    fn policy_of(&self, send: &StatusSend) -> RetryPolicy {
        RetryPolicy {
            max_attempts: send.max_attempts,
            ..self.config.send_retry
        }
    }

    /// What a platform error means for the send (`max_attempts` per send).
    fn outcome_of(&self, send: &StatusSend, e: &PlatformError, now: DateTime<Utc>) -> SendOutcome {
        let after = |d: Duration| after(now, d);
        let policy = self.policy_of(send);
        let used = send.attempts_used + 1;
        match e.kind {
            PlatformErrorKind::RateLimited(wait) => SendOutcome::RateLimited {
                run_at: after(wait),
            },
            PlatformErrorKind::Auth => SendOutcome::Held {
                run_at: after(HELD_RECHECK),
            },
            PlatformErrorKind::Transient if policy.allows_another(used) => SendOutcome::Retry {
                run_at: after(policy.backoff(used, rand::random::<f64>())),
            },
            _ => SendOutcome::Failed,
        }
    }
}

/// The number of the attempt being made (the one `begin_sends` recorded).
fn attempt_number(send: &StatusSend) -> u32 {
    send.attempts.first().map_or(1, |a| a.n)
}

fn held(mut f: SendFinish, now: DateTime<Utc>, code: ErrorCode, message: String) -> SendFinish {
    f.error = Some(SendError {
        code: code.to_string(),
        message,
    });
    f.outcome = SendOutcome::Held {
        run_at: after(now, HELD_RECHECK),
    };
    f
}

/// The metric name of an outcome: the attempt outcome it records.
fn outcome_name(o: &SendOutcome) -> &'static str {
    ponte_store::AttemptOutcome::from(o).as_str()
}

#[cfg(test)]
mod tests;
