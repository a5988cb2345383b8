//! The per-channel stock flusher: a push job takes the channel's pending values (the
//! newest value of each listing: changes in between coalesce), groups them in the
//! platform's batch shape, pushes the batches (up to 4 at once, never two of one
//! batch key) under the channel's shared request budget, records every call, and goes
//! on until nothing is pending.

use crate::channels::Ready;
use crate::{Engine, EngineError};
use futures_util::future::join_all;
use ponte_channels::{PlatformError, PlatformErrorKind, StockCall, StockItem};
use ponte_core::ChannelId;
use ponte_store::{Job, JobLease, JobOutcome, PushOutcome, PushRecord, StockJob};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// When a push job should run again: after how long, why, and whether that counts
/// as an attempt.
pub(crate) type Later = Option<(Duration, String, bool)>;

/// The most attempts any of `skus` has used.
pub(crate) fn used<'a>(
    attempts: &BTreeMap<String, u32>,
    skus: impl Iterator<Item = &'a str>,
) -> u32 {
    skus.filter_map(|s| attempts.get(s))
        .max()
        .copied()
        .unwrap_or(0)
}

/// Products whose pending values are taken per round.
const CLAIM: u32 = 100;

/// Failed attempts before a value (stock or price) is listed as failed (until the next
/// change).
const MAX_ATTEMPTS: u32 = 5;

/// How long a push waits after the platform refused the credentials (or ponte could
/// not read them).
pub(crate) const HELD: Duration = Duration::from_secs(3600);

/// Stock calls of one channel in flight at once (VTEX takes one SKU per call).
const IN_FLIGHT: usize = 4;

/// How many of the next calls go out together: up to [`IN_FLIGHT`], never two of one
/// batch key (one Nuvemshop product) at once.
fn in_flight(chunks: &[(&String, &[StockItem])]) -> usize {
    let mut n = 0;
    while n < chunks.len().min(IN_FLIGHT) && !chunks[..n].iter().any(|(k, _)| *k == chunks[n].0) {
        n += 1;
    }
    n.max(1)
}

impl Engine {
    /// Runs one claimed stock push job to its end.
    pub(crate) async fn run_stock_job(&self, job: &Job, stop: &watch::Receiver<bool>) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: StockJob = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return self.fail_malformed(&lease, &e).await,
        };
        let outcome = self.flush(job, &lease, payload, stop).await;
        self.finish_push(&lease, outcome, "stock").await;
    }

    /// Records a push job's outcome (`None`: stopped, the job goes back to the queue
    /// at shutdown).
    pub(crate) async fn finish_push(
        &self,
        lease: &JobLease,
        outcome: Option<JobOutcome>,
        what: &str,
    ) {
        if let Some(outcome) = outcome {
            if let Err(e) = self
                .store
                .finish_job(lease, &outcome, self.clock.now())
                .await
            {
                tracing::warn!(error = %e, "finishing a {what} push job");
            }
        }
    }

    /// The channel a push job works for, or the job's outcome when it cannot push now:
    /// a disabled channel keeps its pending values for later, unreadable credentials
    /// are held like a 401 (never failed), anything else fails the job.
    pub(crate) async fn push_channel(&self, channel: ChannelId) -> Result<Arc<Ready>, JobOutcome> {
        match self.cached_channel(channel).await {
            Ok(r) if r.enabled => Ok(r),
            Ok(_) => Err(JobOutcome::Done),
            Err(e @ EngineError::Crypto) => Err(self.retry_in(HELD, e.to_string(), false)),
            Err(e) => Err(JobOutcome::Failed {
                error: e.to_string(),
            }),
        }
    }

    /// Pushes until nothing is pending; the job's outcome (`None`: stopped, the job
    /// goes back to the queue at shutdown).
    async fn flush(
        &self,
        job: &Job,
        lease: &JobLease,
        payload: StockJob,
        stop: &watch::Receiver<bool>,
    ) -> Option<JobOutcome> {
        let channel = payload.channel_id;
        let ready = match self.push_channel(channel).await {
            Ok(r) => r,
            Err(outcome) => return Some(outcome),
        };
        let mut later: Option<(Duration, String, bool)> = None;
        loop {
            if *stop.borrow() {
                return None;
            }
            let targets = match self.store.claim_stock_targets(lease, channel, CLAIM).await {
                Ok(Some(t)) => t,
                // An older push job of the channel runs: come back when it is done
                // (it may have looked before these values were marked).
                Ok(None) => {
                    return Some(self.retry_in(
                        Duration::from_secs(1),
                        "another push job of the channel is running".into(),
                        false,
                    ))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming stock targets");
                    return Some(self.retry_in(Duration::from_secs(1), e.to_string(), false));
                }
            };
            if targets.is_empty() {
                break;
            }
            let attempts: BTreeMap<String, u32> = targets
                .iter()
                .map(|t| (t.sku.clone(), t.attempts))
                .collect();
            let connector = &ready.connector;
            let mut batches: BTreeMap<String, Vec<StockItem>> = BTreeMap::new();
            for t in targets {
                batches
                    .entry(connector.stock_batch_key(&t.product_id, &t.variant_id))
                    .or_default()
                    .push(StockItem {
                        sku: t.sku,
                        product_id: t.product_id,
                        variant_id: t.variant_id,
                        quantity: t.desired,
                    });
            }
            let max = connector.stock_batch_max().max(1);
            let chunks: Vec<(&String, &[StockItem])> = batches
                .iter()
                .flat_map(|(key, items)| items.chunks(max).map(move |c| (key, c)))
                .collect();
            let mut rest = chunks.as_slice();
            while !rest.is_empty() {
                let group = in_flight(rest);
                // Out of budget: give the worker back until a token is there (other
                // channels' pushes run meanwhile); the rest stays pending.
                let want = u32::try_from(group).unwrap_or(1);
                let granted = match self.tokens_or_wait(&ready, job.tenant_id, want).await {
                    Ok(n) => usize::try_from(n).unwrap_or(1).min(group),
                    Err(wait) => {
                        return Some(self.retry_in(
                            wait,
                            "rate_limited: waiting for the channel's request budget".into(),
                            false,
                        ))
                    }
                };
                let (going, tail) = rest.split_at(granted);
                rest = tail;
                let calls = join_all(going.iter().map(|(_, c)| connector.push_stock(c))).await;
                let mut errors = calls
                    .iter()
                    .flatten()
                    .filter_map(|c| c.result.as_ref().err());
                if let Some(e) = errors.find(|e| e.kind == PlatformErrorKind::Auth) {
                    self.note_refusal(job.tenant_id, channel, e).await;
                }
                let records: Vec<PushRecord> = calls
                    .iter()
                    .flatten()
                    .map(|c| self.push_record(channel, c, &attempts, &mut later))
                    .collect();
                if let Err(e) = self
                    .store
                    .record_pushes(job.tenant_id, &records, self.clock.now())
                    .await
                {
                    tracing::warn!(error = %e, "recording stock pushes");
                    return Some(self.retry_in(Duration::from_secs(1), e.to_string(), false));
                }
            }
            // A failure that will be tried again ends this run: the job comes back.
            if later.is_some() {
                break;
            }
        }
        Some(match later {
            None => JobOutcome::Done,
            Some((wait, error, count)) => self.retry_in(wait, error, count),
        })
    }

    pub(crate) fn retry_in(
        &self,
        wait: Duration,
        error: String,
        count_attempt: bool,
    ) -> JobOutcome {
        JobOutcome::Retry {
            run_at: ponte_core::wait::after(self.clock.now(), wait),
            count_attempt,
            error,
        }
    }

    /// The outcome of one push call (stock or price) whose items used `used`
    /// attempts so far; notes in `later` when the job should run again.
    pub(crate) fn push_outcome(
        &self,
        result: &Result<(), PlatformError>,
        used: u32,
        later: &mut Later,
    ) -> PushOutcome {
        let Err(e) = result else {
            return PushOutcome::Succeeded;
        };
        let error = format!("{}: {}", e.code(), e.message);
        match e.kind {
            PlatformErrorKind::RateLimited(wait) => {
                *later = Some((wait, error.clone(), false));
                PushOutcome::Waiting { error }
            }
            PlatformErrorKind::Auth => {
                *later = Some((HELD, error.clone(), false));
                PushOutcome::Waiting { error }
            }
            PlatformErrorKind::Transient if used + 1 >= MAX_ATTEMPTS => {
                PushOutcome::Failed { error }
            }
            PlatformErrorKind::Transient => {
                let wait = self
                    .config
                    .send_retry
                    .backoff(used + 1, rand::random::<f64>());
                if later.is_none() {
                    *later = Some((wait, error.clone(), false));
                }
                PushOutcome::Retrying { error }
            }
            _ => PushOutcome::Failed { error },
        }
    }

    /// One call's record; notes when the job should run again.
    fn push_record(
        &self,
        channel: ponte_core::ChannelId,
        call: &StockCall,
        attempts: &BTreeMap<String, u32>,
        later: &mut Later,
    ) -> PushRecord {
        self.metrics.call("stock", call.info.status);
        let skus = call.items.iter().map(|i| i.sku.as_str());
        let outcome = self.push_outcome(&call.result, used(attempts, skus), later);
        PushRecord {
            channel_id: channel,
            items: call
                .items
                .iter()
                .map(|i| (i.sku.clone(), i.variant_id.clone(), i.quantity))
                .collect(),
            request: call.info.request.clone(),
            http_status: call.info.status,
            duration_ms: u64::try_from(call.info.duration.as_millis()).unwrap_or(u64::MAX),
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_flight_never_share_a_batch_key() {
        let none: &[StockItem] = &[];
        let keys: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let of = |ix: &[usize]| -> usize {
            let chunks: Vec<(&String, &[StockItem])> =
                ix.iter().map(|&i| (&keys[i], none)).collect();
            in_flight(&chunks)
        };
        assert_eq!(of(&[0, 1, 2, 3, 4]), IN_FLIGHT);
        assert_eq!(of(&[0, 1, 1, 2]), 2);
        assert_eq!(of(&[0, 0]), 1);
        assert_eq!(of(&[0]), 1);
    }
}
