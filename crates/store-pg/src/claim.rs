//! Claiming work (PostgreSQL): the steps `ponte_store::claim::claim_work` runs, inside one
//! transaction.

use crate::jobs::{claim_in, claim_keys_in, finish_in};
use crate::rate_limits::bucket_in;
use crate::sends_begin::begin_in;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::claim::{claim_work, Budget, ClaimRequest, ClaimTx, Claimed, StartSends};
use ponte_store::{Job, JobLease, JobOutcome, SendBegin, SendJob, StoreResult};
use sqlx::PgConnection;
use std::collections::HashMap;

/// A claim's transaction (or an action batch's, starting its sends).
pub(crate) struct Claim<'c>(pub(crate) &'c mut PgConnection);

#[async_trait]
impl ClaimTx for Claim<'_> {
    async fn claim(&mut self, req: &ClaimRequest<'_>) -> StoreResult<Vec<Job>> {
        claim_in(self.0, req).await
    }

    async fn claim_keys(
        &mut self,
        keys: &[(TenantId, &str)],
        start: &StartSends<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Job>> {
        claim_keys_in(self.0, keys, start, now).await
    }

    async fn update_bucket(
        &mut self,
        tenant: TenantId,
        key: &str,
        capacity: f64,
        now: DateTime<Utc>,
        next: &(dyn Fn(f64, f64) -> f64 + Sync),
    ) -> StoreResult<(f64, f64)> {
        bucket_in(self.0, tenant, key, capacity, now, next).await
    }

    async fn defer(&mut self, jobs: &[(JobLease, DateTime<Utc>)], error: &str) -> StoreResult<()> {
        for (lease, run_at) in jobs {
            let outcome = JobOutcome::Retry {
                run_at: *run_at,
                count_attempt: false,
                error: error.to_owned(),
            };
            finish_in(self.0, lease, &outcome, true).await?;
        }
        Ok(())
    }

    async fn begin(
        &mut self,
        jobs: &[(JobLease, SendJob)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<SendBegin>>> {
        // Holding the claimed job rows, it must not wait for an order's lock.
        begin_in(self.0, jobs, now, false).await
    }
}

/// Claims, budgets and begins in one write transaction.
pub(crate) async fn claim(
    store: &PgStore,
    req: &ClaimRequest<'_>,
    budgets: &HashMap<ChannelId, Budget>,
) -> StoreResult<Claimed> {
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    let out = claim_work(&mut Claim(&mut tx), req, budgets).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(out)
}
