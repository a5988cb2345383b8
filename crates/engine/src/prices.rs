//! Prices as the API sees them: a bulk of prices (checked row by row, all or nothing),
//! a SKU's prices, scheduled prices listed and cancelled, a channel's resync, and the
//! timer jobs that apply a scheduled price at its time and push prices again when
//! promotional windows open or close.

use crate::bulk_rows::{check_rows, written};
use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use ponte_core::price::PriceProblem;
use ponte_core::{ChannelId, ErrorCode, ScheduledPriceId, TenantId};
use ponte_store::{
    Job, JobLease, JobOutcome, NewPrice, Page, PageRequest, PriceEdgeJob, PriceScheduleJob,
    PricesWritten, ScheduledPrice, SkuPrices, StockPush,
};

/// Most price rows one request may carry.
pub const MAX_PRICES: usize = 100_000;

impl Engine {
    /// Writes a bulk of prices, all or nothing: every row is checked (negative price,
    /// promotional above regular, a window ending before it starts) and its SKU must
    /// be a product; a refusal names the rows with the first problem found.
    pub async fn write_prices(
        &self,
        tenant: TenantId,
        rows: Vec<NewPrice>,
    ) -> Result<PricesWritten, EngineError> {
        if rows.is_empty() || rows.len() > MAX_PRICES {
            return Err(EngineError::Invalid(format!(
                "1 to {MAX_PRICES} prices per request"
            )));
        }
        let checks = rows.iter().enumerate();
        check_rows(
            checks.map(|(i, r)| (i, r.sku.as_str(), r.value.check())),
            |p: &PriceProblem| p.code(),
        )?;
        self.gate.background_turn().await;
        let out = self.store.write_prices(tenant, &rows, self.clock.now());
        let prices = written(out.await?)?;
        self.wake_workers();
        Ok(prices)
    }

    /// A SKU's prices: current, scheduled, and every channel's value and push state,
    /// with the time they were read at (which promotion is in force).
    pub async fn sku_prices(
        &self,
        tenant: TenantId,
        sku: &str,
    ) -> Result<(SkuPrices, DateTime<Utc>), EngineError> {
        let p = self
            .store
            .sku_prices(tenant, sku)
            .await?
            .ok_or(EngineError::NotFound(ErrorCode::ProductNotFound))?;
        Ok((p, self.clock.now()))
    }

    /// Scheduled prices still waiting.
    pub async fn scheduled_prices(
        &self,
        tenant: TenantId,
        page: &PageRequest,
    ) -> Result<Page<ScheduledPrice>, EngineError> {
        if let Some(c) = &page.cursor {
            if c.parse::<ScheduledPriceId>().is_err() {
                return Err(EngineError::Refused(
                    ErrorCode::InvalidCursor,
                    "cursor is not one this API returned".into(),
                ));
            }
        }
        Ok(self.store.scheduled_prices(tenant, page).await?)
    }

    /// Cancels a scheduled price still waiting.
    pub async fn cancel_scheduled_price(
        &self,
        tenant: TenantId,
        id: ScheduledPriceId,
    ) -> Result<(), EngineError> {
        if self
            .store
            .cancel_scheduled_price(tenant, id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(EngineError::NotFound(ErrorCode::ScheduledPriceNotFound))
        }
    }

    /// Runs a scheduled price's timer job: applies the price (once, whatever the
    /// number of instances: the job is claimed by one, and applying a price that is no
    /// longer waiting changes nothing), then finishes the job.
    pub(crate) async fn run_price_schedule_job(&self, job: &Job) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: PriceScheduleJob = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return self.fail_malformed(&lease, &e).await,
        };
        let now = self.clock.now();
        let outcome = match self
            .store
            .apply_scheduled_price(job.tenant_id, payload.scheduled_id, now)
            .await
        {
            Ok(applied) => {
                if let Some(s) = applied {
                    let late = (now - s.effective_at).to_std().unwrap_or_default();
                    tracing::info!(sku = %s.sku, late_ms = late.as_millis() as u64, "scheduled price applied");
                    self.wake_workers();
                }
                JobOutcome::Done
            }
            Err(e) => JobOutcome::Retry {
                run_at: ponte_core::wait::after(now, std::time::Duration::from_secs(1)),
                count_attempt: true,
                error: e.to_string(),
            },
        };
        if let Err(e) = self.store.finish_job(&lease, &outcome, now).await {
            tracing::warn!(error = %e, "finishing a scheduled price job");
        }
    }

    /// Runs a window edge's timer job: every price whose promotional window opens or
    /// closes then is marked to be pushed again to the channels that keep no windows
    /// of their own (once across instances: the job is claimed by one).
    pub(crate) async fn run_price_edge_job(&self, job: &Job) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: PriceEdgeJob = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return self.fail_malformed(&lease, &e).await,
        };
        let now = self.clock.now();
        let outcome = match self
            .store
            .mark_price_edge(job.tenant_id, payload.at, now)
            .await
        {
            Ok(marked) => {
                if marked > 0 {
                    let late = (now - payload.at).to_std().unwrap_or_default();
                    tracing::info!(
                        marked,
                        late_ms = late.as_millis() as u64,
                        "promotional window edge"
                    );
                    self.wake_workers();
                }
                JobOutcome::Done
            }
            Err(e) => JobOutcome::Retry {
                run_at: ponte_core::wait::after(now, std::time::Duration::from_secs(1)),
                count_attempt: true,
                error: e.to_string(),
            },
        };
        if let Err(e) = self.store.finish_job(&lease, &outcome, now).await {
            tracing::warn!(error = %e, "finishing a window edge job");
        }
    }

    /// Pushes the price of every listing of the channel again; how many.
    pub async fn resync_prices(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<u64, EngineError> {
        self.channel(tenant, channel).await?;
        self.gate.background_turn().await;
        let n = self
            .store
            .resync_prices(tenant, channel, self.clock.now())
            .await?;
        self.wake_workers();
        Ok(n)
    }

    /// The price push history.
    pub async fn price_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<StockPush>, EngineError> {
        Ok(self.store.price_pushes(tenant, channel, sku, page).await?)
    }

    /// A channel's prices per state: (pending, pushed, failed).
    pub async fn price_summary(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> Result<(u64, u64, u64), EngineError> {
        self.channel(tenant, channel).await?;
        Ok(self.store.price_summary(tenant, channel).await?)
    }
}
