//! Stock as a kind of target push ([`TargetPush`]): quantities, up to 4 calls of a
//! channel in flight at once (VTEX takes one SKU per call).

use crate::channels::Ready;
use crate::target_push::{CallOf, Claimed, TargetPush, CLAIM};
use crate::Engine;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_channels::{Connector, StockCall, StockItem};
use ponte_core::{ChannelId, TenantId};
use ponte_store::{JobLease, PushRecord, StockTarget, Store, StoreResult};

/// Pushes a channel's stock.
pub(crate) struct StockPush;

#[async_trait]
impl TargetPush for StockPush {
    type Target = StockTarget;
    type Item = StockItem;
    type Call = StockCall;
    type Record = PushRecord;
    const WHAT: &'static str = "stock";
    const METRIC: &'static str = "stock";
    const BUSY: &'static str = "another push job of the channel is running";
    const IN_FLIGHT: usize = 4;

    fn for_channel(_: &Engine, _: &Ready) -> Self {
        Self
    }

    async fn claim(&self, s: &dyn Store, lease: &JobLease, c: ChannelId) -> Claimed<StockTarget> {
        s.claim_stock_targets(lease, c, CLAIM).await
    }

    fn attempts(t: &StockTarget) -> (String, u32) {
        (t.sku.clone(), t.attempts)
    }

    fn item(t: StockTarget) -> StockItem {
        let (sku, product_id, variant_id) = (t.sku, t.product_id, t.variant_id);
        StockItem {
            quantity: t.desired,
            sku,
            product_id,
            variant_id,
        }
    }

    fn batch_key(c: &dyn Connector, i: &StockItem) -> String {
        c.stock_batch_key(&i.product_id, &i.variant_id)
    }

    fn batch_max(c: &dyn Connector) -> usize {
        c.stock_batch_max()
    }

    async fn push(&self, c: &dyn Connector, i: &[StockItem], _: DateTime<Utc>) -> Vec<StockCall> {
        c.push_stock(i).await
    }

    fn parts(call: &StockCall) -> CallOf<'_, StockItem> {
        (&call.items, &call.info, &call.result)
    }

    fn recorded(i: &StockItem) -> (String, String, i64) {
        (i.sku.clone(), i.variant_id.clone(), i.quantity)
    }

    async fn record(
        &self,
        s: &dyn Store,
        t: TenantId,
        r: &[PushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        s.record_pushes(t, r, now).await
    }
}
