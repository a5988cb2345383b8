//! Product data as a kind of target push ([`TargetPush`]): the fields a channel
//! carries, one call at a time, sending only those changed since the channel last took
//! the item.

use crate::channels::Ready;
use crate::target_push::{CallOf, Claimed, TargetPush, CLAIM};
use crate::Engine;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_channels::{CatalogCall, CatalogItem, Connector};
use ponte_core::catalog::CatalogValue;
use ponte_core::{ChannelId, TenantId};
use ponte_store::catalog::{CatalogPushRecord, CatalogTarget};
use ponte_store::{JobLease, Store, StoreResult};

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

/// Pushes a channel's product data.
pub(crate) struct CatalogPush;

#[async_trait]
impl TargetPush for CatalogPush {
    type Target = CatalogTarget;
    type Item = CatalogItem;
    type Call = CatalogCall;
    type Record = CatalogPushRecord;
    const WHAT: &'static str = "product data";
    const METRIC: &'static str = "catalog";
    const BUSY: &'static str = "another product data push job of the channel is running";
    const IN_FLIGHT: usize = 1;

    fn for_channel(_: &Engine, _: &Ready) -> Self {
        Self
    }

    async fn claim(&self, s: &dyn Store, lease: &JobLease, c: ChannelId) -> Claimed<CatalogTarget> {
        s.claim_catalog_targets(lease, c, CLAIM).await
    }

    fn attempts(t: &CatalogTarget) -> (String, u32) {
        (t.sku.clone(), t.attempts)
    }

    fn item(t: CatalogTarget) -> CatalogItem {
        let send = changed(&t.desired, t.pushed.as_ref());
        let (sku, product_id, variant_id) = (t.sku, t.product_id, t.variant_id);
        CatalogItem {
            fields: t.desired,
            send,
            sku,
            product_id,
            variant_id,
        }
    }

    fn batch_key(c: &dyn Connector, i: &CatalogItem) -> String {
        c.catalog_batch_key(&i.product_id, &i.variant_id)
    }

    fn batch_max(c: &dyn Connector) -> usize {
        c.catalog_batch_max()
    }

    async fn push(
        &self,
        c: &dyn Connector,
        i: &[CatalogItem],
        _: DateTime<Utc>,
    ) -> Vec<CatalogCall> {
        c.push_catalog(i).await
    }

    fn parts(call: &CatalogCall) -> CallOf<'_, CatalogItem> {
        (&call.items, &call.info, &call.result)
    }

    fn recorded(i: &CatalogItem) -> (String, String, CatalogValue) {
        (i.sku.clone(), i.variant_id.clone(), i.fields.clone())
    }

    async fn record(
        &self,
        s: &dyn Store,
        t: TenantId,
        r: &[CatalogPushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        s.record_catalog_pushes(t, r, now).await
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
