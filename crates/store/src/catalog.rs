//! Product data as the store keeps it (issue 21), one sequence each for every backend:
//! a bulk of product data (all or nothing), a channel's fields, and the push calls.
//! A write marks what every channel carrying product data and listing the SKUs should
//! show (its fields of the product, as sorted JSON text) and enqueues the push job of
//! every channel left with a pending value, in the same transaction. A backend
//! implements [`CatalogTx`].

use crate::stock_push::target_set;
use crate::{NewJob, PushOutcome, PushState, StoreError, StoreResult};
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

/// The push job of a channel, due now.
pub fn catalog_push_job(channel: ChannelId, now: DateTime<Utc>) -> StoreResult<NewJob> {
    Ok(NewJob {
        kind: CATALOG_JOB_KIND.into(),
        payload: serde_json::to_value(CatalogJob {
            channel_id: channel,
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        unique_key: Some(catalog_job_key(channel)),
        run_at: now,
    })
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
    /// What the channel last took.
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

/// One product data push call as the history stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogPushRow<'a> {
    /// The call.
    pub record: &'a CatalogPushRecord,
    /// The outcome's stored name.
    pub outcome: &'static str,
    /// The failure.
    pub error: Option<&'a str>,
    /// The items: SKU, variant id and fields of each.
    pub items: serde_json::Value,
    /// Duration in milliseconds.
    pub duration_ms: i64,
    /// The stored text sent per SKU (the last one given for a SKU): one per target.
    pub sent: BTreeMap<&'a str, String>,
}

impl<'a> CatalogPushRow<'a> {
    /// The row of a recorded call.
    pub fn new(record: &'a CatalogPushRecord) -> StoreResult<Self> {
        let (outcome, error) = match &record.outcome {
            PushOutcome::Succeeded => ("succeeded", None),
            PushOutcome::Retrying { error } => ("retrying", Some(error.as_str())),
            PushOutcome::Failed { error } => ("failed", Some(error.as_str())),
            PushOutcome::Waiting { error } => ("waiting", Some(error.as_str())),
        };
        let mut sent = BTreeMap::new();
        for (sku, _, v) in &record.items {
            sent.insert(sku.as_str(), catalog_text(v)?);
        }
        Ok(Self {
            record,
            outcome,
            error,
            items: record
                .items
                .iter()
                .map(|(sku, variant, v)| serde_json::json!({"sku": sku, "variant_id": variant, "fields": v}))
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

/// A listing of a SKU on a channel that carries product data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogFeed {
    /// Channel.
    pub channel: ChannelId,
    /// SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The fields the channel carries (never empty).
    pub fields: Vec<CatalogField>,
    /// The SKU's data.
    pub data: ProductData,
}

/// The primitives of product data writes. Never called with an empty batch.
#[async_trait]
pub trait CatalogTx: Send {
    /// Serialises the tenant's product data writers until the transaction ends.
    async fn lock_catalog(&mut self, tenant: TenantId) -> StoreResult<()>;
    /// The SKUs among `skus` that are not products.
    async fn unknown_catalog_skus(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
    ) -> StoreResult<Vec<String>>;
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
    /// Every SKU the channel lists.
    async fn catalog_listed_skus(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<Vec<String>>;
    /// The listings of these SKUs on channels that carry product data (only
    /// `channel`'s when given), with the channel's fields (as stored) and the data.
    async fn load_catalog_feeds(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<CatalogFeed>>;
    /// Stores each feed's text as its target's desired value with the conflict rule
    /// of `crate::stock_marks::target_upsert`; the channel and resulting state of each.
    async fn write_catalog_targets(
        &mut self,
        tenant: TenantId,
        values: &[(&CatalogFeed, String)],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(ChannelId, PushState)>>;
    /// Enqueues jobs (coalescing on their unique keys).
    async fn insert_catalog_jobs(&mut self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()>;
    /// Stores a push call, the SKUs it sent and its effect on their targets of its
    /// channel ([`CatalogPushRow::target_set`]).
    async fn write_catalog_push(
        &mut self,
        tenant: TenantId,
        row: &CatalogPushRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
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
    tx.lock_catalog(tenant).await?;
    let skus: BTreeSet<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
    if skus.is_empty() {
        return Ok(Ok(0));
    }
    let unknown = tx.unknown_catalog_skus(tenant, &skus).await?;
    if !unknown.is_empty() {
        return Ok(Err(rows
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| unknown.contains(s))
            .map(|(i, (s, _))| (i, s.clone()))
            .collect()));
    }
    let data: BTreeMap<&str, &ProductData> = rows.iter().map(|(s, d)| (s.as_str(), d)).collect();
    tx.write_product_data(tenant, &data, now).await?;
    Ok(Ok(mark_catalog(tx, tenant, &skus, None, false, now).await?))
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
    tx.lock_catalog(tenant).await?;
    tx.write_channel_catalog(tenant, channel, fields, now)
        .await?;
    let listed = tx.catalog_listed_skus(tenant, channel).await?;
    let skus: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    mark_catalog(tx, tenant, &skus, Some(channel), false, now).await
}

/// Marks the product data targets of new or changed listings (after they are
/// written, in the same transaction).
pub async fn mark_listings<T: CatalogTx + ?Sized>(
    tx: &mut T,
    listings: &[crate::Listing],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    for (tenant, skus) in crate::Listing::skus_by_tenant(listings) {
        tx.lock_catalog(tenant).await?;
        mark_catalog(tx, tenant, &skus, None, false, now).await?;
    }
    Ok(())
}

/// Recomputes what every channel carrying product data and listing these SKUs (or
/// only `channel`) should show: the SKU's data, its fields only. A changed value
/// becomes pending (or `pushed` again when it is what the channel last took); each
/// channel left with a pending value gets its push job. The number of targets written.
pub async fn mark_catalog<T: CatalogTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    skus: &BTreeSet<&str>,
    channel: Option<ChannelId>,
    force: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    if skus.is_empty() {
        return Ok(0);
    }
    let feeds = tx.load_catalog_feeds(tenant, skus, channel).await?;
    let mut by_key: BTreeMap<(ChannelId, &str), &CatalogFeed> = BTreeMap::new();
    for f in feeds.iter().filter(|f| !f.fields.is_empty()) {
        by_key.insert((f.channel, f.sku.as_str()), f);
    }
    if by_key.is_empty() {
        return Ok(0);
    }
    let values = by_key
        .into_values()
        .map(|f| Ok((f, catalog_text(&f.data.carried(&f.fields))?)))
        .collect::<StoreResult<Vec<_>>>()?;
    let written = tx
        .write_catalog_targets(tenant, &values, force, now)
        .await?;
    let pending: BTreeSet<ChannelId> = written
        .iter()
        .filter(|(_, s)| *s == PushState::Pending)
        .map(|(c, _)| *c)
        .collect();
    let jobs = pending
        .into_iter()
        .map(|c| catalog_push_job(c, now))
        .collect::<StoreResult<Vec<_>>>()?;
    if !jobs.is_empty() {
        tx.insert_catalog_jobs(tenant, &jobs).await?;
    }
    Ok(u64::try_from(written.len()).unwrap_or(u64::MAX))
}

/// Records product data push calls and their effect on the targets, under the
/// tenant's product data lock.
pub async fn record_catalog_pushes<T: CatalogTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    pushes: &[CatalogPushRecord],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    tx.lock_catalog(tenant).await?;
    for p in pushes {
        tx.write_catalog_push(tenant, &CatalogPushRow::new(p)?, now)
            .await?;
    }
    Ok(())
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
