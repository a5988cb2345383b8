//! Price push calls as the store keeps them, for every backend: what one recorded call
//! writes ([`PricePushRow`]) and the sequence that records a batch
//! ([`record_price_pushes`], over a backend's [`PricePushTx`]).

use crate::price_writes::{mark_prices, PriceTx};
use crate::prices::price_text;
use crate::stock_push::target_set;
use crate::{PricePushRecord, PushOutcome, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, TenantId};
use std::collections::{BTreeMap, BTreeSet};

/// One price push call as the history stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct PricePushRow<'a> {
    /// The call.
    pub record: &'a PricePushRecord,
    /// The outcome's stored name.
    pub outcome: &'static str,
    /// The failure.
    pub error: Option<&'a str>,
    /// The items: SKU, variant id and price of each.
    pub items: serde_json::Value,
    /// Duration in milliseconds.
    pub duration_ms: i64,
    /// The stored price text sent per SKU (the last one given for a SKU): one per
    /// target.
    pub sent: BTreeMap<&'a str, String>,
}

impl<'a> PricePushRow<'a> {
    /// The row of a recorded call.
    pub fn new(record: &'a PricePushRecord) -> StoreResult<Self> {
        let (outcome, error) = match &record.outcome {
            PushOutcome::Succeeded => ("succeeded", None),
            PushOutcome::Retrying { error } => ("retrying", Some(error.as_str())),
            PushOutcome::Failed { error } => ("failed", Some(error.as_str())),
            PushOutcome::Waiting { error } => ("waiting", Some(error.as_str())),
        };
        let mut sent = BTreeMap::new();
        for (sku, _, price) in &record.items {
            sent.insert(sku.as_str(), price_text(price)?);
        }
        Ok(Self {
            record,
            outcome,
            error,
            items: record
                .items
                .iter()
                .map(|(sku, variant, p)| serde_json::json!({"sku": sku, "variant_id": variant, "price": p}))
                .collect(),
            duration_ms: i64::try_from(record.duration_ms).unwrap_or(i64::MAX),
            sent,
        })
    }

    /// The assignments applying the call to its targets
    /// ([`crate::stock_push::target_set`]).
    pub fn target_set(&self, t: &str, q: &str, at: &str, error: &str) -> String {
        target_set(&self.record.outcome, t, q, at, error)
    }
}

/// The primitive of [`record_price_pushes`].
#[async_trait]
pub trait PricePushTx: PriceTx {
    /// Stores the call, the SKUs it sent and its effect on their targets of its
    /// channel ([`PricePushRow::target_set`]).
    async fn write_price_push(
        &mut self,
        tenant: TenantId,
        row: &PricePushRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Records price push calls and their effect on the targets, under the tenant's
/// price lock. A call that succeeded with the promotion of a moment
/// ([`PricePushRecord::priced_at`]) a window edge has passed since leaves its SKUs
/// pending (the edge's own mark may have come while it was in flight).
pub async fn record_price_pushes<T: PricePushTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    pushes: &[PricePushRecord],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    tx.lock_prices(tenant).await?;
    let mut stale: BTreeMap<ChannelId, BTreeSet<&str>> = BTreeMap::new();
    for p in pushes {
        tx.write_price_push(tenant, &PricePushRow::new(p)?, now)
            .await?;
        if let (PushOutcome::Succeeded, Some(at)) = (&p.outcome, p.priced_at) {
            let passed = |v: &PriceValue| v.window_edges_after(at).iter().any(|e| *e <= now);
            stale.entry(p.channel_id).or_default().extend(
                p.items
                    .iter()
                    .filter(|(_, _, v)| passed(v))
                    .map(|(sku, _, _)| sku.as_str()),
            );
        }
    }
    for (channel, skus) in stale {
        mark_prices(tx, tenant, &skus, Some(channel), true, now).await?;
    }
    Ok(())
}
