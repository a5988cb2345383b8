//! Recording price push calls, for every backend: the calls of every kind's shape
//! ([`record_calls`]), then the SKUs a window edge passed while in flight marked again.

use crate::price_writes::{PriceFeed, PriceTx};
use crate::target_marks::mark;
use crate::target_marks::record_calls;
use crate::target_push::PushKind;
use crate::{PricePushRecord, PushOutcome, StoreResult};
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, TenantId};
use std::collections::{BTreeMap, BTreeSet};

/// Records price push calls and their effect on the targets, under the tenant's
/// price lock. A call that succeeded with the promotion of a moment
/// ([`PricePushRecord::priced_at`]) a window edge has passed since leaves its SKUs
/// pending (the edge's own mark may have come while it was in flight).
pub async fn record_price_pushes<T: PriceTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    pushes: &[PricePushRecord],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    record_calls(tx, PushKind::PRICES, tenant, pushes, now).await?;
    let mut stale: BTreeMap<ChannelId, BTreeSet<&str>> = BTreeMap::new();
    for p in pushes {
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
        mark::<PriceFeed, T>(tx, tenant, &skus, Some(channel), true, now).await?;
    }
    Ok(())
}
