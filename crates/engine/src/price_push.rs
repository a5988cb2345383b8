//! Prices as a kind of target push ([`TargetPush`]): the price with the channel's
//! markup, one call at a time. A platform without promotional windows of its own takes
//! the promotion in force when pushed: the record notes that moment (an edge passing
//! meanwhile marks the price again).

use crate::channels::Ready;
use crate::target_push::{CallOf, Claimed, TargetPush, CLAIM};
use crate::Engine;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_channels::{Connector, PriceCall, PriceItem};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, TenantId};
use ponte_store::{JobLease, PricePushRecord, PriceTarget, Store, StoreResult};

/// Pushes a channel's prices.
pub(crate) struct PricePush {
    /// The platform keeps no promotional windows of its own.
    windowless: bool,
}

#[async_trait]
impl TargetPush for PricePush {
    type Target = PriceTarget;
    type Item = PriceItem;
    type Call = PriceCall;
    type Record = PricePushRecord;
    const WHAT: &'static str = "price";
    const METRIC: &'static str = "price";
    const BUSY: &'static str = "another price push job of the channel is running";
    const IN_FLIGHT: usize = 1;

    fn for_channel(engine: &Engine, ready: &Ready) -> Self {
        let windowless = engine
            .platform(&ready.platform)
            .map(|p| !p.keeps_price_windows())
            .unwrap_or(true);
        Self { windowless }
    }

    async fn claim(&self, s: &dyn Store, lease: &JobLease, c: ChannelId) -> Claimed<PriceTarget> {
        s.claim_price_targets(lease, c, CLAIM).await
    }

    fn attempts(t: &PriceTarget) -> (String, u32) {
        (t.sku.clone(), t.attempts)
    }

    fn item(t: PriceTarget) -> PriceItem {
        let (sku, product_id, variant_id) = (t.sku, t.product_id, t.variant_id);
        PriceItem {
            price: t.desired,
            sku,
            product_id,
            variant_id,
        }
    }

    fn batch_key(c: &dyn Connector, i: &PriceItem) -> String {
        c.price_batch_key(&i.product_id, &i.variant_id)
    }

    fn batch_max(c: &dyn Connector) -> usize {
        c.price_batch_max()
    }

    async fn push(&self, c: &dyn Connector, i: &[PriceItem], now: DateTime<Utc>) -> Vec<PriceCall> {
        c.push_prices(i, now).await
    }

    fn parts(call: &PriceCall) -> CallOf<'_, PriceItem> {
        (&call.items, &call.info, &call.result)
    }

    fn recorded(i: &PriceItem) -> (String, String, PriceValue) {
        (i.sku.clone(), i.variant_id.clone(), i.price.clone())
    }

    fn stamp(&self, record: &mut PricePushRecord, now: DateTime<Utc>) {
        record.priced_at = self.windowless.then_some(now);
    }

    async fn record(
        &self,
        s: &dyn Store,
        t: TenantId,
        r: &[PricePushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        s.record_price_pushes(t, r, now).await
    }
}
