//! Claiming work in one transaction: due jobs are leased, each takes a token from its
//! channel's request budget (jobs beyond the grant go back to the queue, not counted,
//! due when a token will be there), and the send jobs within budget begin their
//! attempt (`send_plan`). The sequence is written once here over a [`ClaimTx`] each
//! backend implements with its SQL; one write transaction instead of three (claim,
//! tokens, begin) per batch.
//!
//! An action batch starts the sends it queues the same way, inside its own transaction
//! ([`start_queued`]): no claim transaction at all for them.

use crate::{
    Job, JobLease, NewJob, RateGrant, SendBegin, SendJob, StatusSend, StoreResult, SEND_JOB_KIND,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{wait, ChannelId, TenantId};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A channel's request budget: a token bucket shared by every instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Bucket capacity (requests at once).
    pub burst: f64,
    /// Refill (requests per second).
    pub per_sec: f64,
}

/// The bucket key of a channel's budget.
pub fn channel_bucket(channel: ChannelId) -> String {
    format!("channel:{channel}")
}

/// The error a job put back for want of tokens keeps.
pub const DEFERRED: &str = "rate_limited: waiting for the channel's request budget";

/// The channel a job calls (its payload's `channel_id`), if it names one.
pub fn job_channel(job: &Job) -> Option<ChannelId> {
    payload_channel(&job.payload)
}

/// The channel a job payload names.
fn payload_channel(payload: &serde_json::Value) -> Option<ChannelId> {
    payload["channel_id"].as_str()?.parse().ok()
}

/// When the `i`-th job of a group that was granted `grant` (at `per_sec`) may run:
/// now for those granted, then one token's time apart after the bucket's next token.
pub fn deferred_until(
    now: DateTime<Utc>,
    grant: &RateGrant,
    i: u32,
    per_sec: f64,
) -> DateTime<Utc> {
    let per_token = wait::from_secs_f64(1.0 / per_sec);
    let extra = per_token.saturating_mul(i.saturating_sub(grant.granted));
    wait::after(now, grant.retry_after.saturating_add(extra))
}

/// What a claim asks for.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// The lease owner.
    pub owner: &'a str,
    /// Job kinds to claim.
    pub kinds: &'a [&'a str],
    /// At most this many jobs.
    pub limit: u32,
    /// Now.
    pub now: DateTime<Utc>,
    /// Lease length.
    pub lease: Duration,
}

/// What an action batch needs to start the sends it queues: the lease owner (a loop
/// that runs what it is handed), the lease length and the channels' budgets.
#[derive(Debug, Clone, Copy)]
pub struct StartSends<'a> {
    /// The lease owner.
    pub owner: &'a str,
    /// Lease length.
    pub lease: Duration,
    /// The budgets the caller knows (sends of other channels are left to the claims).
    pub budgets: &'a HashMap<ChannelId, Budget>,
}

/// What a claim gave.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Jobs within budget to run as they are (not sends, or sends another transaction
    /// held the order of: the caller begins those).
    pub jobs: Vec<Job>,
    /// Jobs of channels without a known budget: the caller budgets (and begins) them.
    pub unbudgeted: Vec<Job>,
    /// Send jobs within budget whose attempt began (those with nothing to send were
    /// finished): call the platform, then `finish_sends`.
    pub sends: Vec<(JobLease, StatusSend)>,
    /// Jobs put back for want of tokens.
    pub deferred: u32,
}

/// The steps of a claim, inside one transaction of a backend.
#[async_trait]
pub trait ClaimTx: Send {
    /// Leases due jobs (see `JobStore::claim_jobs`).
    async fn claim(&mut self, req: &ClaimRequest<'_>) -> StoreResult<Vec<Job>>;

    /// Leases the due pending jobs with these unique keys to `start.owner` for
    /// `start.lease`, skipping any another transaction holds.
    async fn claim_keys(
        &mut self,
        keys: &[(TenantId, &str)],
        start: &StartSends<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Job>>;

    /// Updates bucket `key` (see `RateLimitStore::update_bucket`): the state it started from.
    async fn update_bucket(
        &mut self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        next: &(dyn Fn(f64, f64) -> f64 + Sync),
    ) -> StoreResult<(f64, f64)>;

    /// Puts leased jobs back to pending at their time, not counted, with `error`.
    async fn defer(&mut self, jobs: &[(JobLease, DateTime<Utc>)], error: &str) -> StoreResult<()>;

    /// Begins send jobs (see `SendStore::begin_sends`); `None` for a job this
    /// transaction may not begin without waiting (another transaction holds its order):
    /// the caller begins it on its own.
    async fn begin(
        &mut self,
        jobs: &[(JobLease, SendJob)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<SendBegin>>>;
}

/// Claims, budgets and begins (see the module doc); `budgets` holds the channels whose
/// budget the caller knows.
pub async fn claim_work<T: ClaimTx>(
    tx: &mut T,
    req: &ClaimRequest<'_>,
    budgets: &HashMap<ChannelId, Budget>,
) -> StoreResult<Claimed> {
    let jobs = tx.claim(req).await?;
    start_claimed(tx, jobs, req.now, budgets).await
}

/// Starts, inside an action batch's transaction, the send jobs it queued (`jobs`) for
/// channels whose budget is known: leased to `start.owner`, budgeted and begun as a
/// claim would (see the module doc). The others stay pending for the claims.
pub async fn start_queued<T: ClaimTx>(
    tx: &mut T,
    jobs: &[(TenantId, NewJob)],
    start: &StartSends<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Claimed> {
    let keys: Vec<(TenantId, &str)> = jobs
        .iter()
        .filter(|(_, j)| j.kind == SEND_JOB_KIND)
        .filter(|(_, j)| {
            payload_channel(&j.payload).is_some_and(|c| start.budgets.contains_key(&c))
        })
        .filter_map(|(t, j)| Some((*t, j.unique_key.as_deref()?)))
        .collect();
    if keys.is_empty() {
        return Ok(Claimed::default());
    }
    let leased = tx.claim_keys(&keys, start, now).await?;
    start_claimed(tx, leased, now, start.budgets).await
}

/// Budgets, defers and begins leased jobs (the part of a claim after leasing).
async fn start_claimed<T: ClaimTx>(
    tx: &mut T,
    jobs: Vec<Job>,
    now: DateTime<Utc>,
    budgets: &HashMap<ChannelId, Budget>,
) -> StoreResult<Claimed> {
    let mut out = Claimed::default();
    let mut groups: BTreeMap<(TenantId, ChannelId), Vec<Job>> = BTreeMap::new();
    for job in jobs {
        match job_channel(&job).filter(|c| budgets.contains_key(c)) {
            Some(c) => groups.entry((job.tenant_id, c)).or_default().push(job),
            None => out.unbudgeted.push(job),
        }
    }
    let mut deferred = Vec::new();
    let mut sends = Vec::new();
    for ((tenant, channel), mut jobs) in groups {
        // The oldest first get the tokens.
        jobs.sort_by_key(|j| (j.created_at, j.id));
        let Some(b) = budgets.get(&channel) else {
            continue;
        };
        let want = u32::try_from(jobs.len()).unwrap_or(u32::MAX);
        let take = |t, e| crate::rate::take(t, e, want, b.burst, b.per_sec);
        let key = channel_bucket(channel);
        let (tokens, elapsed) = tx
            .update_bucket(tenant, &key, b.burst, now, &|t, e| take(t, e).0)
            .await?;
        let grant = take(tokens, elapsed).1;
        for (i, job) in (0_u32..).zip(jobs) {
            let lease = JobLease {
                job_id: job.id,
                owner: job.lease_owner.clone(),
            };
            if i >= grant.granted {
                deferred.push((lease, deferred_until(now, &grant, i, b.per_sec)));
                continue;
            }
            let send = (job.kind == SEND_JOB_KIND)
                .then(|| serde_json::from_value::<SendJob>(job.payload.clone()).ok())
                .flatten();
            match send {
                Some(s) => sends.push(((lease, s), job)),
                // Malformed send payloads are failed by the caller, with the others.
                None => out.jobs.push(job),
            }
        }
    }
    if !deferred.is_empty() {
        tx.defer(&deferred, DEFERRED).await?;
        out.deferred = u32::try_from(deferred.len()).unwrap_or(u32::MAX);
    }
    if !sends.is_empty() {
        let (pairs, jobs): (Vec<_>, Vec<_>) = sends.into_iter().unzip();
        let begun = tx.begin(&pairs, now).await?;
        for (((lease, _), job), b) in pairs.into_iter().zip(jobs).zip(begun) {
            match b {
                Some(SendBegin::Started(s)) => out.sends.push((lease, *s)),
                Some(SendBegin::Idle | SendBegin::LeaseLost) => {}
                None => out.jobs.push(job),
            }
        }
    }
    Ok(out)
}
