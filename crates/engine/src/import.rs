//! The import job: fetch the order from the platform and turn the answer into an
//! [`ImportCommit`] (applied later, in a batch, under the job's lease).

use crate::send::HELD_RECHECK;
use crate::{Engine, EngineError};
use ponte_channels::{PlatformError, PlatformErrorKind};
use ponte_core::wait::after;
use ponte_core::ChannelId;
use ponte_store::{CallRecord, ImportCommit, ImportResult, Job, JobLease, JobOutcome};
use serde::Deserialize;

#[derive(Deserialize)]
struct Payload {
    channel_id: ChannelId,
    external_id: String,
}

impl Engine {
    /// Runs one import job up to (not including) the database write. `None` when the
    /// job could not even name its order (it is failed on the spot).
    pub(crate) async fn run_import(&self, job: &Job) -> Option<ImportCommit> {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: Payload = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => {
                self.fail_malformed(&lease, &e).await;
                return None;
            }
        };
        let ready = match self.cached_channel(payload.channel_id).await {
            Ok(r) if r.enabled => r,
            Ok(_) => {
                let err = EngineError::ChannelDisabled.to_string();
                return Some(self.failed_commit(
                    job,
                    lease,
                    payload.channel_id,
                    payload.external_id,
                    err,
                ));
            }
            Err(e) => {
                let mut commit = self.failed_commit(
                    job,
                    lease,
                    payload.channel_id,
                    payload.external_id,
                    e.to_string(),
                );
                // Unreadable credentials are held like a 401, never failed: the job
                // comes back when they may have been fixed, without using an attempt.
                if let EngineError::Crypto = e {
                    commit.result = ImportResult::FetchFailed {
                        outcome: JobOutcome::Retry {
                            run_at: after(self.clock.now(), HELD_RECHECK),
                            count_attempt: false,
                            error: format!("{}: {e}", e.code()),
                        },
                    };
                }
                return Some(commit);
            }
        };
        let read_at = self.clock.now();
        let (info, result) = ready.connector.fetch_order(&payload.external_id).await;
        self.metrics.call(&ready.platform, info.status);
        let call = CallRecord {
            request: info.request,
            status: info.status,
            duration_ms: u64::try_from(info.duration.as_millis()).unwrap_or(u64::MAX),
            error: result.as_ref().err().map(|e| e.message.clone()),
        };
        let result = match result {
            Ok(mut order) => ImportResult::Fetched {
                order: Box::new({
                    ready.apply_tables(&mut order);
                    order
                }),
                policy: ready.connector.import_policy(),
            },
            Err(e) => {
                self.note_refusal(job.tenant_id, payload.channel_id, &e)
                    .await;
                ImportResult::FetchFailed {
                    outcome: self.outcome_for(job, &e),
                }
            }
        };
        Some(ImportCommit {
            lease: Some(lease),
            tenant_id: job.tenant_id,
            channel_id: payload.channel_id,
            external_id: payload.external_id,
            call,
            read_at,
            result,
        })
    }

    /// The commit of an import job whose handling panicked: retried (counting an
    /// attempt) or failed with `panic: <message>`, its deliveries settled as usual.
    pub(crate) async fn panicked_import(&self, job: &Job, panic: &str) -> Option<ImportCommit> {
        let Ok(payload) = serde_json::from_value::<Payload>(job.payload.clone()) else {
            self.finish_panicked(job, panic).await;
            return None;
        };
        self.job_panicked(&job.kind, panic);
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let mut commit = self.failed_commit(
            job,
            lease,
            payload.channel_id,
            payload.external_id,
            format!("panic: {panic}"),
        );
        commit.result = ImportResult::FetchFailed {
            outcome: self.panic_outcome(job.attempts, panic),
        };
        Some(commit)
    }

    /// Fails a job whose payload cannot be read (it would never run).
    pub(crate) async fn fail_malformed(&self, lease: &JobLease, e: &serde_json::Error) {
        let outcome = JobOutcome::Failed {
            error: format!("bad payload: {e}"),
        };
        if let Err(e) = self
            .store
            .finish_job(lease, &outcome, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "failing a malformed job");
        }
    }

    /// Retry, wait or fail, by the kind of platform error and the attempts used.
    pub(crate) fn outcome_for(&self, job: &Job, e: &PlatformError) -> JobOutcome {
        let now = self.clock.now();
        let policy = self.config.import_retry;
        let error = format!("{}: {}", e.code(), e.message);
        match e.kind {
            PlatformErrorKind::RateLimited(wait) => JobOutcome::Retry {
                run_at: after(now, wait),
                count_attempt: false,
                error,
            },
            PlatformErrorKind::Transient if policy.allows_another(job.attempts + 1) => {
                let delay = policy.backoff(job.attempts + 1, rand::random::<f64>());
                JobOutcome::Retry {
                    run_at: after(now, delay),
                    count_attempt: true,
                    error,
                }
            }
            _ => JobOutcome::Failed { error },
        }
    }

    fn failed_commit(
        &self,
        job: &Job,
        lease: JobLease,
        channel_id: ChannelId,
        external_id: String,
        error: String,
    ) -> ImportCommit {
        ImportCommit {
            lease: Some(lease),
            tenant_id: job.tenant_id,
            channel_id,
            external_id,
            call: CallRecord {
                request: "none".into(),
                status: None,
                duration_ms: 0,
                error: Some(error.clone()),
            },
            read_at: self.clock.now(),
            result: ImportResult::FetchFailed {
                outcome: JobOutcome::Failed { error },
            },
        }
    }
}
