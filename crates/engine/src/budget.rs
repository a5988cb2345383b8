//! A channel's platform budget, shared by every instance: before fetching, claimed
//! jobs take tokens from the channel's bucket in the store; jobs beyond the grant go
//! back to the queue for when tokens will be there (without using an attempt).

use crate::channels::Ready;
use crate::Engine;
use ponte_core::{ChannelId, TenantId};
use ponte_store::claim::{channel_bucket, deferred_until, job_channel, DEFERRED};
use ponte_store::{Job, JobLease, JobOutcome};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;

impl Engine {
    /// Returns the jobs that may call their platform now; the others are rescheduled.
    pub(crate) async fn within_budget(&self, jobs: Vec<Job>) -> Vec<Job> {
        let mut by_channel: BTreeMap<Option<ChannelId>, Vec<Job>> = BTreeMap::new();
        for j in jobs {
            by_channel.entry(job_channel(&j)).or_default().push(j);
        }
        let mut run = vec![];
        for (channel, jobs) in by_channel {
            // Jobs that cannot name a usable channel fail in `run_import` with a clear error.
            let Some(channel) = channel else {
                run.extend(jobs);
                continue;
            };
            let Ok(ready) = self.cached_channel(channel).await else {
                run.extend(jobs);
                continue;
            };
            let limit = ready.connector.rate_limit();
            let now = self.clock.now();
            let want = u32::try_from(jobs.len()).unwrap_or(u32::MAX);
            let tenant = jobs[0].tenant_id;
            let grant = match self
                .store
                .take_tokens(
                    tenant,
                    &channel_bucket(channel),
                    want,
                    limit.burst,
                    limit.per_sec,
                    now,
                )
                .await
            {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(error = %e, "rate-limit bucket unavailable; deferring");
                    ponte_store::RateGrant {
                        granted: 0,
                        retry_after: Duration::from_secs(1),
                    }
                }
            };
            for (i, job) in (0_u32..).zip(jobs) {
                if i < grant.granted {
                    run.push(job);
                    continue;
                }
                let outcome = JobOutcome::Retry {
                    run_at: deferred_until(now, &grant, i, limit.per_sec),
                    count_attempt: false,
                    error: DEFERRED.into(),
                };
                let lease = JobLease {
                    job_id: job.id,
                    owner: job.lease_owner.clone(),
                };
                if let Err(e) = self.store.finish_job(&lease, &outcome, now).await {
                    tracing::warn!(error = %e, "deferring a job");
                }
                self.metrics.import("rate_deferred", None);
            }
        }
        run
    }

    /// Takes one request from the channel's shared budget now; `Some(wait)` when there
    /// is none yet.
    pub(crate) async fn token_or_wait(&self, ready: &Ready, tenant: TenantId) -> Option<Duration> {
        self.tokens_or_wait(ready, tenant, 1).await.err()
    }

    /// Takes up to `want` requests from the channel's shared budget now: how many
    /// (at least one), or how long until there is one.
    pub(crate) async fn tokens_or_wait(
        &self,
        ready: &Ready,
        tenant: TenantId,
        want: u32,
    ) -> Result<u32, Duration> {
        let limit = ready.connector.rate_limit();
        match self
            .store
            .take_tokens(
                tenant,
                &channel_bucket(ready.id),
                want,
                limit.burst,
                limit.per_sec,
                self.clock.now(),
            )
            .await
        {
            Ok(g) if g.granted > 0 => Ok(g.granted),
            Ok(g) => Err(g.retry_after),
            Err(e) => {
                tracing::warn!(error = %e, "rate-limit bucket unavailable; waiting");
                Err(Duration::from_secs(1))
            }
        }
    }

    /// Charges `n` requests already made (beyond the token taken before them) to the
    /// channel's shared budget, even into debt: later takers wait until it refills.
    pub(crate) async fn spend(&self, ready: &Ready, tenant: TenantId, n: u32) {
        if n == 0 {
            return;
        }
        let limit = ready.connector.rate_limit();
        if let Err(e) = self
            .store
            .spend_tokens(
                tenant,
                &channel_bucket(ready.id),
                n,
                limit.burst,
                limit.per_sec,
                self.clock.now(),
            )
            .await
        {
            tracing::warn!(error = %e, "charging the channel's request budget");
        }
    }

    /// Takes one request from the channel's shared budget, waiting for it; false when
    /// stopped meanwhile.
    pub(crate) async fn wait_for_token(
        &self,
        ready: &Ready,
        tenant: TenantId,
        stop: &watch::Receiver<bool>,
    ) -> bool {
        while let Some(wait) = self.token_or_wait(ready, tenant).await {
            if crate::poll::sleep_or_stop(stop, wait).await {
                return false;
            }
        }
        true
    }
}
