//! Product data as the store keeps it (issue 21), one sequence each for every backend:
//! a bulk of product data (all or nothing), a channel's fields, and the push calls.
//! A write marks what every channel carrying product data and listing the SKUs should
//! show (its fields of the product, as sorted JSON text) and enqueues the push job of
//! every channel left with a pending value, in the same transaction. A backend
//! implements [`CatalogTx`].

use crate::target_marks::{
    mark, mark_channel, record_calls, refused_rows, Feed, TargetListing, TargetTx,
};
use crate::target_push::PushKind;
use crate::{PushOutcome, PushState, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::catalog::{CatalogField, CatalogValue, ProductData};
use ponte_core::{ChannelId, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The job kind that pushes a channel's pending product data.
pub const CATALOG_JOB_KIND: &str = "catalog_push";

/// The coalescing key of a channel's product data push job.
pub fn catalog_job_key(channel: ChannelId) -> String {
    format!("catalog_push:{channel}")
}

/// The payload of a product data push job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogJob {
    /// The channel whose pending product data to push.
    pub channel_id: ChannelId,
}

/// Stored text of a carried value (sorted keys: equal values, equal text).
pub fn catalog_text(v: &CatalogValue) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A carried value from its stored text.
pub fn catalog_from_text(s: &str) -> StoreResult<CatalogValue> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stored product data: {e}")))
}

/// Stored text of a channel's fields.
pub fn fields_text(fields: &[CatalogField]) -> StoreResult<String> {
    serde_json::to_string(fields).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A channel's fields from their stored text.
pub fn fields_from_text(s: &str) -> StoreResult<Vec<CatalogField>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stored fields: {e}")))
}

/// What one channel should show for a SKU's product data, and what it was last told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogTarget {
    /// Channel.
    pub channel_id: ChannelId,
    /// SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The fields the channel should show.
    pub desired: CatalogValue,
    /// When `desired` last changed.
    pub changed_at: DateTime<Utc>,
    /// What the channel last took, when known: a claim forgets it until its call's
    /// success records it again (see `PushKind::claim_forgets_pushed`).
    pub pushed: Option<CatalogValue>,
    /// When.
    pub pushed_at: Option<DateTime<Utc>>,
    /// Where it is.
    pub state: PushState,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A SKU's product data and every channel's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuCatalog {
    /// The SKU.
    pub sku: String,
    /// Its data.
    pub data: ProductData,
    /// Per channel carrying product data and listing the SKU.
    pub channels: Vec<CatalogTarget>,
}

/// One product data push call: what it sent and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPushRecord {
    /// Channel.
    pub channel_id: ChannelId,
    /// What was sent: (SKU, variant id, the carried fields).
    pub items: Vec<(String, String, CatalogValue)>,
    /// Method and path.
    pub request: String,
    /// HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Duration.
    pub duration_ms: u64,
    /// Succeeded, or the failure.
    pub outcome: PushOutcome,
}

/// A listing of a SKU on a channel that carries product data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFeed {
    /// The listing.
    pub listing: TargetListing,
    /// The fields the channel carries (never empty).
    pub fields: Vec<CatalogField>,
    /// The SKU's data.
    pub data: ProductData,
}

/// The primitives of product data writes (with those every kind shares). Never called
/// with an empty batch.
#[async_trait]
pub trait CatalogTx: TargetTx {
    /// Stores the products' data (one row per SKU; the unit and times stay but
    /// `updated_at`).
    async fn write_product_data(
        &mut self,
        tenant: TenantId,
        rows: &BTreeMap<&str, &ProductData>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Stores the fields a channel carries.
    async fn write_channel_catalog(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        fields: &[CatalogField],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The listings of these SKUs on channels that carry product data (only
    /// `channel`'s when given), with the channel's fields (as stored) and the data.
    async fn load_catalog_feeds(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<CatalogFeed>>;
}

/// Writes a bulk of product data (each row the whole data of its SKU), all or
/// nothing: rows naming SKUs that are not products refuse the batch (their row index
/// and SKU). The last row of a SKU wins. The number of targets marked.
pub async fn write_product_data<T: CatalogTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    rows: &[(String, ProductData)],
    now: DateTime<Utc>,
) -> StoreResult<Result<u64, Vec<(usize, String)>>> {
    tx.lock_targets(PushKind::CATALOG, tenant).await?;
    let skus: BTreeSet<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
    if skus.is_empty() {
        return Ok(Ok(0));
    }
    if let Some(refused) = refused_rows(tx, tenant, &skus, rows, |(s, _)| s.as_str()).await? {
        return Ok(Err(refused));
    }
    let data: BTreeMap<&str, &ProductData> = rows.iter().map(|(s, d)| (s.as_str(), d)).collect();
    tx.write_product_data(tenant, &data, now).await?;
    Ok(Ok(mark::<CatalogFeed, T>(
        tx, tenant, &skus, None, false, now,
    )
    .await?))
}

/// Stores the fields a channel carries and recomputes what it should show for every
/// SKU it lists (none when it carries none); how many targets.
pub async fn set_channel_catalog<T: CatalogTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    channel: ChannelId,
    fields: &[CatalogField],
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    tx.lock_targets(PushKind::CATALOG, tenant).await?;
    tx.write_channel_catalog(tenant, channel, fields, now)
        .await?;
    mark_channel::<CatalogFeed, T>(tx, tenant, channel, false, now).await
}

/// A listing's product data is the SKU's data, the fields its channel carries only
/// (none: no target).
#[async_trait]
impl<T: CatalogTx + ?Sized> Feed<T> for CatalogFeed {
    const KIND: PushKind = PushKind::CATALOG;

    async fn load(
        tx: &mut T,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<Self>> {
        let mut feeds = tx.load_catalog_feeds(tenant, skus, channel).await?;
        feeds.retain(|f| !f.fields.is_empty());
        Ok(feeds)
    }

    fn listing(&self) -> &TargetListing {
        &self.listing
    }

    fn desired(&self) -> StoreResult<String> {
        catalog_text(&self.data.carried(&self.fields))
    }
}

/// Records product data push calls and their effect on the targets, under the
/// tenant's product data lock.
pub async fn record_catalog_pushes<T: CatalogTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    pushes: &[CatalogPushRecord],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    record_calls(tx, PushKind::CATALOG, tenant, pushes, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_fields_round_trip_their_stored_text() {
        let d = ProductData {
            name: "N".into(),
            active: true,
            ..ProductData::default()
        };
        let v = d.carried(&[CatalogField::Name, CatalogField::Active]);
        let t = catalog_text(&v).unwrap();
        assert_eq!(t, r#"{"active":true,"name":"N"}"#);
        assert_eq!(catalog_from_text(&t).unwrap(), v);
        let f = [CatalogField::Ean, CatalogField::Dimensions];
        assert_eq!(fields_from_text(&fields_text(&f).unwrap()).unwrap(), f);
        assert!(catalog_from_text("x").is_err());
    }
}
