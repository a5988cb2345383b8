//! The per-channel flusher of every kind of target push (stock, prices, product data):
//! a push job takes the channel's pending values (the newest value of each listing:
//! changes in between coalesce), groups them in the platform's batch shape, pushes the
//! batches under the channel's shared request budget (up to the kind's calls in
//! flight at once, never two of one batch key), records every call, and goes on until
//! nothing is pending. A kind says what to claim, how to call the platform and how to
//! record the calls ([`TargetPush`]).

use crate::channels::Ready;
use crate::{Engine, EngineError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use ponte_channels::{CallInfo, Connector, PlatformError, PlatformErrorKind};
use ponte_core::{ChannelId, TenantId};
use ponte_store::target_push::{Call, Items, PushCall};
use ponte_store::{Job, JobLease, JobOutcome, PushOutcome, Store, StoreResult};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Products whose pending values are taken per round.
pub(crate) const CLAIM: u32 = 100;

/// Failed attempts before a value is listed as failed (until the next change).
const MAX_ATTEMPTS: u32 = 5;

/// How long a push waits after the platform refused the credentials (or ponte could
/// not read them).
const HELD: Duration = Duration::from_secs(3600);

/// When a push job should run again: after how long, why, and whether that counts
/// as an attempt.
type Later = Option<(Duration, String, bool)>;

/// A claim's answer: the pending targets, or `None` while an older push job of the
/// channel runs.
pub(crate) type Claimed<T> = StoreResult<Option<Vec<T>>>;

/// What one push call carried and how it went.
pub(crate) type CallOf<'a, I> = (&'a [I], &'a CallInfo, &'a Result<(), PlatformError>);

/// The payload of every kind's push job: its channel.
#[derive(Deserialize)]
struct PushJob {
    channel_id: ChannelId,
}

/// One kind of target push: what the flusher claims, calls and records.
#[async_trait]
pub(crate) trait TargetPush: Send + Sync + Sized {
    /// A claimed target.
    type Target: Send;
    /// One item of a platform call.
    type Item: Send + Sync;
    /// How one platform call went.
    type Call: Send;
    /// A recorded call.
    type Record: PushCall + Send + Sync;
    /// What logs call the kind.
    const WHAT: &'static str;
    /// The kind's label in the call metrics.
    const METRIC: &'static str;
    /// The job's error while an older push job of the channel runs.
    const BUSY: &'static str;
    /// Calls of one channel in flight at once.
    const IN_FLIGHT: usize;

    /// The kind's push to a channel that is ready.
    fn for_channel(engine: &Engine, ready: &Ready) -> Self;
    /// Claims pending targets of the channel for the job ([`CLAIM`] products).
    async fn claim(&self, s: &dyn Store, lease: &JobLease, c: ChannelId) -> Claimed<Self::Target>;
    /// The SKU of a target and its failed attempts so far.
    fn attempts(t: &Self::Target) -> (String, u32);
    /// A target as the item of a call.
    fn item(t: Self::Target) -> Self::Item;
    /// The key of the call an item goes out in.
    fn batch_key(c: &dyn Connector, i: &Self::Item) -> String;
    /// Most items one call takes.
    fn batch_max(c: &dyn Connector) -> usize;
    /// Pushes one batch at `now`.
    async fn push(
        &self,
        c: &dyn Connector,
        i: &[Self::Item],
        now: DateTime<Utc>,
    ) -> Vec<Self::Call>;
    /// What a call carried and how it went.
    fn parts(call: &Self::Call) -> CallOf<'_, Self::Item>;
    /// An item as its record keeps it: SKU, variant id and value.
    fn recorded(i: &Self::Item) -> (String, String, <Self::Record as PushCall>::Value);
    /// Adds to a record what the kind notes of a push made at `now`.
    fn stamp(&self, record: &mut Self::Record, now: DateTime<Utc>) {
        let _ = (record, now);
    }
    /// Records calls and their effect on the targets.
    async fn record(
        &self,
        s: &dyn Store,
        t: TenantId,
        r: &[Self::Record],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// The most attempts any of `skus` has used.
fn used<'a>(attempts: &BTreeMap<String, u32>, skus: impl Iterator<Item = &'a str>) -> u32 {
    skus.filter_map(|s| attempts.get(s))
        .max()
        .copied()
        .unwrap_or(0)
}

/// How many of the next calls go out together: up to `max`, never two of one batch
/// key (one Nuvemshop product) at once.
fn in_flight<I>(chunks: &[(&String, &[I])], max: usize) -> usize {
    let mut n = 0;
    while n < chunks.len().min(max) && !chunks[..n].iter().any(|(k, _)| *k == chunks[n].0) {
        n += 1;
    }
    n.max(1)
}

impl Engine {
    /// Runs one claimed push job of kind `K` to its end.
    pub(crate) async fn run_push_job<K: TargetPush>(
        &self,
        job: &Job,
        stop: &watch::Receiver<bool>,
    ) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: PushJob = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return self.fail_malformed(&lease, &e).await,
        };
        // `None`: stopped, the job goes back to the queue at shutdown.
        let Some(outcome) = self.flush::<K>(job, &lease, payload.channel_id, stop).await else {
            return;
        };
        if let Err(e) = self
            .store
            .finish_job(&lease, &outcome, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "finishing a {} push job", K::WHAT);
        }
    }

    /// The channel a push job works for, or the job's outcome when it cannot push now:
    /// a disabled channel keeps its pending values for later, unreadable credentials
    /// are held like a 401 (never failed), anything else fails the job.
    async fn push_channel(&self, channel: ChannelId) -> Result<Arc<Ready>, JobOutcome> {
        match self.cached_channel(channel).await {
            Ok(r) if r.enabled => Ok(r),
            Ok(_) => Err(JobOutcome::Done),
            Err(e @ EngineError::Crypto) => Err(self.retry_in(HELD, e.to_string(), false)),
            Err(e) => Err(JobOutcome::Failed {
                error: e.to_string(),
            }),
        }
    }

    /// Pushes until nothing is pending; the job's outcome (`None`: stopped).
    async fn flush<K: TargetPush>(
        &self,
        job: &Job,
        lease: &JobLease,
        channel: ChannelId,
        stop: &watch::Receiver<bool>,
    ) -> Option<JobOutcome> {
        let ready = match self.push_channel(channel).await {
            Ok(r) => r,
            Err(outcome) => return Some(outcome),
        };
        let kind = K::for_channel(self, &ready);
        let connector = ready.connector.as_ref();
        let mut later: Later = None;
        loop {
            if *stop.borrow() {
                return None;
            }
            let targets = match kind.claim(self.store.as_ref(), lease, channel).await {
                Ok(Some(t)) => t,
                // An older push job of the channel runs: come back when it is done
                // (it may have looked before these values were marked).
                Ok(None) => {
                    return Some(self.retry_in(Duration::from_secs(1), K::BUSY.into(), false))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming {} targets", K::WHAT);
                    return Some(self.retry_in(Duration::from_secs(1), e.to_string(), false));
                }
            };
            if targets.is_empty() {
                break;
            }
            let attempts: BTreeMap<String, u32> = targets.iter().map(K::attempts).collect();
            let mut batches: BTreeMap<String, Vec<K::Item>> = BTreeMap::new();
            for t in targets {
                let item = K::item(t);
                batches
                    .entry(K::batch_key(connector, &item))
                    .or_default()
                    .push(item);
            }
            let max = K::batch_max(connector).max(1);
            let chunks: Vec<(&String, &[K::Item])> = batches
                .iter()
                .flat_map(|(key, items)| items.chunks(max).map(move |c| (key, c)))
                .collect();
            let mut rest = chunks.as_slice();
            while !rest.is_empty() {
                let group = in_flight(rest, K::IN_FLIGHT);
                // Out of budget: give the worker back until a token is there (other
                // channels' pushes run meanwhile); the rest stays pending.
                let want = u32::try_from(group).unwrap_or(1);
                let granted = match self.tokens_or_wait(&ready, job.tenant_id, want).await {
                    Ok(n) => usize::try_from(n).unwrap_or(1).min(group),
                    Err(wait) => {
                        let why = "rate_limited: waiting for the channel's request budget".into();
                        return Some(self.retry_in(wait, why, false));
                    }
                };
                let (going, tail) = rest.split_at(granted);
                rest = tail;
                let now = self.clock.now();
                let calls = join_all(going.iter().map(|(_, c)| kind.push(connector, c, now))).await;
                let calls: Vec<K::Call> = calls.into_iter().flatten().collect();
                if let Some(e) = calls
                    .iter()
                    .filter_map(|c| K::parts(c).2.as_ref().err())
                    .find(|e| e.kind == PlatformErrorKind::Auth)
                {
                    self.note_refusal(job.tenant_id, channel, e).await;
                }
                let records: Vec<K::Record> = calls
                    .iter()
                    .map(|c| self.push_record(&kind, channel, c, &attempts, &mut later, now))
                    .collect();
                let store = self.store.as_ref();
                let recorded = kind.record(store, job.tenant_id, &records, self.clock.now());
                if let Err(e) = recorded.await {
                    tracing::warn!(error = %e, "recording {} pushes", K::WHAT);
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

    /// A retry of the job after `wait`.
    fn retry_in(&self, wait: Duration, error: String, count_attempt: bool) -> JobOutcome {
        JobOutcome::Retry {
            run_at: ponte_core::wait::after(self.clock.now(), wait),
            count_attempt,
            error,
        }
    }

    /// One call's record (made at `now`); notes when the job should run again.
    fn push_record<K: TargetPush>(
        &self,
        kind: &K,
        channel: ChannelId,
        call: &K::Call,
        attempts: &BTreeMap<String, u32>,
        later: &mut Later,
        now: DateTime<Utc>,
    ) -> K::Record {
        let (items, info, result) = K::parts(call);
        self.metrics.call(K::METRIC, info.status);
        let items: Items<_> = items.iter().map(K::recorded).collect();
        let used = used(attempts, items.iter().map(|(sku, _, _)| sku.as_str()));
        let mut record = K::Record::from_call(Call {
            channel_id: channel,
            items,
            request: info.request.clone(),
            http_status: info.status,
            duration_ms: u64::try_from(info.duration.as_millis()).unwrap_or(u64::MAX),
            outcome: self.push_outcome(result, used, later),
        });
        kind.stamp(&mut record, now);
        record
    }

    /// The outcome of one push call whose items used `used` attempts so far; notes in
    /// `later` when the job should run again.
    fn push_outcome(
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_flight_never_share_a_batch_key() {
        let none: &[u8] = &[];
        let keys: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let of = |ix: &[usize], max: usize| -> usize {
            let chunks: Vec<(&String, &[u8])> = ix.iter().map(|&i| (&keys[i], none)).collect();
            in_flight(&chunks, max)
        };
        assert_eq!(of(&[0, 1, 2, 3, 4], 4), 4);
        assert_eq!(of(&[0, 1, 2, 3, 4], 1), 1);
        assert_eq!(of(&[0, 1, 1, 2], 4), 2);
        assert_eq!(of(&[0, 0], 4), 1);
        assert_eq!(of(&[0], 4), 1);
    }

    #[test]
    fn the_most_used_attempts_count() {
        let attempts = BTreeMap::from([("A".to_owned(), 2), ("B".to_owned(), 4)]);
        assert_eq!(used(&attempts, ["A", "B", "C"].into_iter()), 4);
        assert_eq!(used(&attempts, ["C"].into_iter()), 0);
    }
}
