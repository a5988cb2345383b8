//! Product data: the primitives of `ponte_store::catalog` over [`PgTx`] (under the
//! tenant's product data lock), and the store's product data reads, claims and push
//! records.

use crate::codec::{col, in_table};
use crate::stock::fetch;
use crate::stock_marks::PgTx;
use crate::target_push::{self, load_feeds};
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::catalog::{CatalogField, ProductData};
use ponte_core::{ChannelId, TenantId};
use ponte_store::catalog::{
    self, fields_from_text, fields_text, CatalogFeed, CatalogPushRecord, CatalogTarget, CatalogTx,
    SkuCatalog,
};
use ponte_store::target_push::PushKind;
use ponte_store::{CatalogStore, JobLease, Page, PageRequest, StockPush, StoreResult};
use sqlx::postgres::PgRow;
use std::collections::{BTreeMap, BTreeSet};

const DATA_COLUMNS: &str = "p.name, p.description, p.brand, p.ean, p.ncm, p.weight_g, \
     p.height_mm, p.width_mm, p.length_mm, p.active";

fn decode_data(r: &PgRow) -> StoreResult<ProductData> {
    in_table("products", || {
        Ok(ProductData {
            name: col(r, "name")?,
            description: col(r, "description")?,
            brand: col(r, "brand")?,
            ean: col(r, "ean")?,
            ncm: col(r, "ncm")?,
            weight_g: col(r, "weight_g")?,
            height_mm: col(r, "height_mm")?,
            width_mm: col(r, "width_mm")?,
            length_mm: col(r, "length_mm")?,
            active: col(r, "active")?,
        })
    })
}

#[async_trait]
impl CatalogTx for PgTx<'_> {
    async fn write_product_data(
        &mut self,
        tenant: TenantId,
        rows: &BTreeMap<&str, &ProductData>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for (sku, d) in rows {
            sqlx::query(
                "UPDATE products SET name = $3, description = $4, brand = $5, ean = $6, ncm = $7, \
                 weight_g = $8, height_mm = $9, width_mm = $10, length_mm = $11, active = $12, \
                 updated_at = $13 WHERE tenant_id = $1 AND sku = $2",
            )
            .bind(tenant.0)
            .bind(*sku)
            .bind(&d.name)
            .bind(&d.description)
            .bind(&d.brand)
            .bind(&d.ean)
            .bind(&d.ncm)
            .bind(d.weight_g)
            .bind(d.height_mm)
            .bind(d.width_mm)
            .bind(d.length_mm)
            .bind(d.active)
            .bind(now)
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        }
        Ok(())
    }

    async fn write_channel_catalog(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        fields: &[CatalogField],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO channel_catalog (tenant_id, channel_id, fields, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, channel_id) DO UPDATE SET \
             fields = EXCLUDED.fields, updated_at = EXCLUDED.updated_at",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .bind(fields_text(fields)?)
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn load_catalog_feeds(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<CatalogFeed>> {
        let columns = format!("cc.fields, {DATA_COLUMNS}");
        let joins = "JOIN channel_catalog cc ON cc.tenant_id = l.tenant_id \
             AND cc.channel_id = l.channel_id AND cc.fields <> '[]' \
             JOIN products p ON p.tenant_id = l.tenant_id AND p.sku = l.sku";
        let decode = |listing, r: &PgRow| {
            let fields = fields_from_text(&col::<String>(r, "fields")?)?;
            let data = decode_data(r)?;
            Ok(CatalogFeed {
                listing,
                fields,
                data,
            })
        };
        load_feeds(self.0, &columns, joins, tenant, skus, channel, decode).await
    }
}

#[async_trait]
impl CatalogStore for PgStore {
    async fn write_product_data(
        &self,
        tenant: TenantId,
        rows: &[(String, ProductData)],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<u64, Vec<(usize, String)>>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = catalog::write_product_data(&mut PgTx(&mut tx), tenant, rows, now).await?;
        if out.is_ok() {
            tx.commit().await.map_err(db_err)?;
        }
        Ok(out)
    }

    async fn set_channel_catalog(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        fields: &[CatalogField],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let n =
            catalog::set_channel_catalog(&mut PgTx(&mut tx), tenant, channel, fields, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn sku_catalog(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<SkuCatalog>> {
        let q =
            format!("SELECT {DATA_COLUMNS} FROM products p WHERE p.tenant_id = $1 AND p.sku = $2");
        let q = sqlx::query(&q).bind(tenant.0).bind(sku);
        let Some(data) = fetch(q, &self.pool, decode_data).await?.pop() else {
            return Ok(None);
        };
        let channels = target_push::sku_targets(self, tenant, sku).await?;
        Ok(Some(SkuCatalog {
            sku: sku.to_owned(),
            data,
            channels,
        }))
    }

    async fn claim_catalog_targets(
        &self,
        lease: &JobLease,
        channel: ChannelId,
        n: u32,
    ) -> StoreResult<Option<Vec<CatalogTarget>>> {
        target_push::claim(self, lease, channel, n).await
    }

    async fn record_catalog_pushes(
        &self,
        tenant: TenantId,
        pushes: &[CatalogPushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if pushes.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        catalog::record_catalog_pushes(&mut PgTx(&mut tx), tenant, pushes, now).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn catalog_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<StockPush>> {
        crate::stock_push::list(PushKind::CATALOG, self, tenant, channel, sku, page).await
    }
}
