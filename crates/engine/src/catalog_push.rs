//! The per-channel product data flusher, the price flusher's design for product data:
//! a push job takes the channel's pending values (the newest fields of each listing:
//! changes in between coalesce), groups them in the platform's batch shape, pushes the
//! batches one at a time under the channel's shared request budget, records every
//! call, and goes on until nothing is pending.

use crate::stock_push::{used, Later};
use crate::Engine;
use ponte_channels::{CatalogCall, CatalogItem, PlatformErrorKind};
use ponte_core::catalog::CatalogValue;
use ponte_store::catalog::{CatalogJob, CatalogPushRecord};
use ponte_store::{Job, JobLease, JobOutcome};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;

/// Products whose pending values are taken per round.
const CLAIM: u32 = 100;

/// The fields of `desired` that differ from what the channel last took (all of them
/// when it took nothing yet): the minimal push.
fn changed(desired: &CatalogValue, pushed: Option<&CatalogValue>) -> CatalogValue {
    CatalogValue(
        desired
            .0
            .iter()
            .filter(|(k, v)| pushed.and_then(|p| p.0.get(*k)) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

impl Engine {
    /// Runs one claimed product data push job to its end.
    pub(crate) async fn run_catalog_job(&self, job: &Job, stop: &watch::Receiver<bool>) {
        let lease = JobLease {
            job_id: job.id,
            owner: job.lease_owner.clone(),
        };
        let payload: CatalogJob = match serde_json::from_value(job.payload.clone()) {
            Ok(p) => p,
            Err(e) => return self.fail_malformed(&lease, &e).await,
        };
        let outcome = self.flush_catalog(job, &lease, payload, stop).await;
        self.finish_push(&lease, outcome, "product data").await;
    }

    /// Pushes until nothing is pending; the job's outcome (`None`: stopped).
    async fn flush_catalog(
        &self,
        job: &Job,
        lease: &JobLease,
        payload: CatalogJob,
        stop: &watch::Receiver<bool>,
    ) -> Option<JobOutcome> {
        let channel = payload.channel_id;
        let ready = match self.push_channel(channel).await {
            Ok(r) => r,
            Err(outcome) => return Some(outcome),
        };
        let connector = &ready.connector;
        let mut later: Later = None;
        loop {
            if *stop.borrow() {
                return None;
            }
            let targets = match self
                .store
                .claim_catalog_targets(lease, channel, CLAIM)
                .await
            {
                Ok(Some(t)) => t,
                Ok(None) => {
                    return Some(self.retry_in(
                        Duration::from_secs(1),
                        "another product data push job of the channel is running".into(),
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
            let mut batches: BTreeMap<String, Vec<CatalogItem>> = BTreeMap::new();
            for t in targets {
                let send = changed(&t.desired, t.pushed.as_ref());
                batches
                    .entry(connector.catalog_batch_key(&t.product_id, &t.variant_id))
                    .or_default()
                    .push(CatalogItem {
                        sku: t.sku,
                        product_id: t.product_id,
                        variant_id: t.variant_id,
                        fields: t.desired,
                        send,
                    });
            }
            let max = connector.catalog_batch_max().max(1);
            for chunk in batches.values().flat_map(|items| items.chunks(max)) {
                if let Err(wait) = self.tokens_or_wait(&ready, job.tenant_id, 1).await {
                    let why = "rate_limited: waiting for the channel's request budget".into();
                    return Some(self.retry_in(wait, why, false));
                }
                let calls = connector.push_catalog(chunk).await;
                if let Some(e) = calls
                    .iter()
                    .filter_map(|c| c.result.as_ref().err())
                    .find(|e| e.kind == PlatformErrorKind::Auth)
                {
                    self.note_refusal(job.tenant_id, channel, e).await;
                }
                let records: Vec<CatalogPushRecord> = calls
                    .iter()
                    .map(|c| self.catalog_record(channel, c, &attempts, &mut later))
                    .collect();
                if let Err(e) = self
                    .store
                    .record_catalog_pushes(job.tenant_id, &records, self.clock.now())
                    .await
                {
                    tracing::warn!(error = %e, "recording product data pushes");
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
    fn catalog_record(
        &self,
        channel: ponte_core::ChannelId,
        call: &CatalogCall,
        attempts: &BTreeMap<String, u32>,
        later: &mut Later,
    ) -> CatalogPushRecord {
        self.metrics.call("catalog", call.info.status);
        let skus = call.items.iter().map(|i| i.sku.as_str());
        let outcome = self.push_outcome(&call.result, used(attempts, skus), later);
        CatalogPushRecord {
            channel_id: channel,
            items: call
                .items
                .iter()
                .map(|i| (i.sku.clone(), i.variant_id.clone(), i.fields.clone()))
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
    use serde_json::json;

    #[test]
    fn only_changed_fields_are_sent() {
        let v = |pairs: &[(&str, serde_json::Value)]| {
            CatalogValue(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            )
        };
        let desired = v(&[("name", json!("B")), ("ean", json!("1"))]);
        assert_eq!(changed(&desired, None), desired);
        let pushed = v(&[("name", json!("A")), ("ean", json!("1"))]);
        assert_eq!(changed(&desired, Some(&pushed)), v(&[("name", json!("B"))]));
    }
}
