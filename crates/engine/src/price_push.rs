//! The per-channel price flusher, the stock flusher's design for prices: a push job
//! takes the channel's pending prices (the newest price of each listing: changes in
//! between coalesce), groups them in the platform's batch shape, pushes the batches
//! one at a time under the channel's shared request budget, records every call, and
//! goes on until nothing is pending.

use crate::stock_push::{used, Later};
use crate::Engine;
use ponte_channels::{PlatformErrorKind, PriceCall, PriceItem};
use ponte_store::{Job, JobLease, JobOutcome, PriceJob, PricePushRecord};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;

/// Products whose pending prices are taken per round.
const CLAIM: u32 = 100;

impl Engine {
    /// Runs one claimed price push job to its end.
    pub(crate) async fn run_price_job(&self, job: &Job, stop: &watch::Receiver<bool>) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: PriceJob = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return self.fail_malformed(&lease, &e).await,
        };
        let outcome = self.flush_prices(job, &lease, payload, stop).await;
        self.finish_push(&lease, outcome, "price").await;
    }

    /// Pushes until nothing is pending; the job's outcome (`None`: stopped).
    async fn flush_prices(
        &self,
        job: &Job,
        lease: &JobLease,
        payload: PriceJob,
        stop: &watch::Receiver<bool>,
    ) -> Option<JobOutcome> {
        let channel = payload.channel_id;
        let ready = match self.push_channel(channel).await {
            Ok(r) => r,
            Err(outcome) => return Some(outcome),
        };
        let connector = &ready.connector;
        // A platform without windows of its own takes the promotion in force when
        // pushed: the record notes that moment (an edge passing meanwhile re-marks).
        let windowless = self
            .platform(&ready.platform)
            .map(|p| !p.keeps_price_windows())
            .unwrap_or(true);
        let mut later: Later = None;
        loop {
            if *stop.borrow() {
                return None;
            }
            let targets = match self.store.claim_price_targets(lease, channel, CLAIM).await {
                Ok(Some(t)) => t,
                Ok(None) => {
                    return Some(self.retry_in(
                        Duration::from_secs(1),
                        "another price push job of the channel is running".into(),
                        false,
                    ))
                }
                Err(e) => return Some(self.retry_in(Duration::from_secs(1), e.to_string(), false)),
            };
            if targets.is_empty() {
                break;
            }
            let attempts: BTreeMap<String, u32> = targets
                .iter()
                .map(|t| (t.sku.clone(), t.attempts))
                .collect();
            let mut batches: BTreeMap<String, Vec<PriceItem>> = BTreeMap::new();
            for t in targets {
                batches
                    .entry(connector.price_batch_key(&t.product_id, &t.variant_id))
                    .or_default()
                    .push(PriceItem {
                        sku: t.sku,
                        product_id: t.product_id,
                        variant_id: t.variant_id,
                        price: t.desired,
                    });
            }
            let max = connector.price_batch_max().max(1);
            for chunk in batches.values().flat_map(|items| items.chunks(max)) {
                if let Err(wait) = self.tokens_or_wait(&ready, job.tenant_id, 1).await {
                    let why = "rate_limited: waiting for the channel's request budget".into();
                    return Some(self.retry_in(wait, why, false));
                }
                let priced_at = self.clock.now();
                let calls = connector.push_prices(chunk, priced_at).await;
                if let Some(e) = calls
                    .iter()
                    .filter_map(|c| c.result.as_ref().err())
                    .find(|e| e.kind == PlatformErrorKind::Auth)
                {
                    self.note_refusal(job.tenant_id, channel, e).await;
                }
                let records: Vec<PricePushRecord> = calls
                    .iter()
                    .map(|c| {
                        let mut r = self.price_record(channel, c, &attempts, &mut later);
                        r.priced_at = windowless.then_some(priced_at);
                        r
                    })
                    .collect();
                if let Err(e) = self
                    .store
                    .record_price_pushes(job.tenant_id, &records, self.clock.now())
                    .await
                {
                    tracing::warn!(error = %e, "recording price pushes");
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

    /// One call's record; notes when the job should run again.
    fn price_record(
        &self,
        channel: ponte_core::ChannelId,
        call: &PriceCall,
        attempts: &BTreeMap<String, u32>,
        later: &mut Later,
    ) -> PricePushRecord {
        self.metrics.call("price", call.info.status);
        let skus = call.items.iter().map(|i| i.sku.as_str());
        let outcome = self.push_outcome(&call.result, used(attempts, skus), later);
        PricePushRecord {
            channel_id: channel,
            items: call
                .items
                .iter()
                .map(|i| (i.sku.clone(), i.variant_id.clone(), i.price.clone()))
                .collect(),
            request: call.info.request.clone(),
            http_status: call.info.status,
            duration_ms: u64::try_from(call.info.duration.as_millis()).unwrap_or(u64::MAX),
            outcome,
            priced_at: None,
        }
    }
}
