//! Product data: the primitives of `ponte_store::catalog` over [`PgTx`] (under the
//! tenant's product data lock), and the store's product data reads, claims and push
//! records.

use crate::codec::{catalog_lock_key, col, in_table};
use crate::stock::fetch;
use crate::stock_marks::PgTx;
use crate::{db_err, PgStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::catalog::{CatalogField, ProductData};
use ponte_core::{ChannelId, TenantId};
use ponte_store::catalog::{
    self, catalog_from_text, catalog_job_key, fields_from_text, fields_text, CatalogFeed,
    CatalogPushRecord, CatalogPushRow, CatalogTarget, CatalogTx, SkuCatalog,
};
use ponte_store::stock_marks::target_upsert;
use ponte_store::stock_push::{push_state, PushHistory};
use ponte_store::{
    CatalogStore, JobLease, NewJob, Page, PageRequest, PushState, StockPush, StoreResult,
};
use sqlx::postgres::PgRow;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

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

const TARGET_COLUMNS: &str = "channel_id, sku, product_id, variant_id, desired, changed_at, \
     pushed, pushed_at, state, attempts, last_error";

fn decode_target(r: &PgRow) -> StoreResult<CatalogTarget> {
    in_table("catalog_targets", || {
        Ok(CatalogTarget {
            channel_id: ChannelId(col(r, "channel_id")?),
            sku: col(r, "sku")?,
            product_id: col(r, "product_id")?,
            variant_id: col(r, "variant_id")?,
            desired: catalog_from_text(&col::<String>(r, "desired")?)?,
            changed_at: col(r, "changed_at")?,
            pushed: col::<Option<String>>(r, "pushed")?
                .as_deref()
                .map(catalog_from_text)
                .transpose()?,
            pushed_at: col(r, "pushed_at")?,
            state: push_state(&col::<String>(r, "state")?)?,
            attempts: u32::try_from(col::<i32>(r, "attempts")?).unwrap_or(0),
            last_error: col(r, "last_error")?,
        })
    })
}

#[async_trait]
impl CatalogTx for PgTx<'_> {
    async fn lock_catalog(&mut self, tenant: TenantId) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(catalog_lock_key(tenant.0))
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn unknown_catalog_skus(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT k.sku FROM UNNEST($2::text[]) AS k (sku) WHERE NOT EXISTS \
             (SELECT 1 FROM products p WHERE p.tenant_id = $1 AND p.sku = k.sku)",
        )
        .bind(tenant.0)
        .bind(skus.iter().copied().collect::<Vec<_>>())
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)
    }

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

    async fn catalog_listed_skus(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT sku FROM listings WHERE tenant_id = $1 AND channel_id = $2")
            .bind(tenant.0)
            .bind(channel.0)
            .fetch_all(&mut *self.0)
            .await
            .map_err(db_err)
    }

    async fn load_catalog_feeds(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<CatalogFeed>> {
        let q = format!(
            "SELECT l.channel_id, l.sku, l.product_id, l.variant_id, cc.fields, {DATA_COLUMNS} \
             FROM UNNEST($2::text[]) AS k (sku) \
             JOIN listings l ON l.tenant_id = $1 AND l.sku = k.sku \
             JOIN channel_catalog cc ON cc.tenant_id = l.tenant_id AND cc.channel_id = l.channel_id \
               AND cc.fields <> '[]' \
             JOIN products p ON p.tenant_id = l.tenant_id AND p.sku = l.sku \
             WHERE $3::uuid IS NULL OR l.channel_id = $3"
        );
        let q = sqlx::query(&q)
            .bind(tenant.0)
            .bind(skus.iter().copied().collect::<Vec<_>>())
            .bind(channel.map(|c| c.0));
        fetch(q, &mut *self.0, |r| {
            Ok(CatalogFeed {
                channel: ChannelId(col(r, "channel_id")?),
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                fields: fields_from_text(&col::<String>(r, "fields")?)?,
                data: decode_data(r)?,
            })
        })
        .await
    }

    async fn write_catalog_targets(
        &mut self,
        tenant: TenantId,
        rows: &[(&CatalogFeed, String)],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(ChannelId, PushState)>> {
        let q = format!(
            "INSERT INTO catalog_targets AS ct (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) \
             SELECT $1, c, sku, p, v, d, $7, 'pending' \
             FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u (c, sku, p, v, d){}",
            target_upsert("ct", "$8")
        );
        let q = sqlx::query(&q)
            .bind(tenant.0)
            .bind(rows.iter().map(|(f, _)| f.channel.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|(f, _)| f.sku.as_str()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|(f, _)| f.product_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|(f, _)| f.variant_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>())
            .bind(now)
            .bind(force);
        fetch(q, &mut *self.0, |r| {
            Ok((
                ChannelId(col(r, "channel_id")?),
                push_state(&col::<String>(r, "state")?)?,
            ))
        })
        .await
    }

    async fn insert_catalog_jobs(&mut self, tenant: TenantId, jobs: &[NewJob]) -> StoreResult<()> {
        let refs: Vec<(TenantId, &NewJob)> = jobs.iter().map(|j| (tenant, j)).collect();
        crate::jobs::insert_jobs(self.0, &refs).await
    }

    async fn write_catalog_push(
        &mut self,
        tenant: TenantId,
        row: &CatalogPushRow<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let set = row.target_set("ct", "s.q", "$5", "$11");
        // The call, the SKUs it touched and its effect on their targets, in one statement.
        sqlx::query(&format!(
            "WITH p AS ( \
               INSERT INTO catalog_pushes (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
               VALUES ($1, $2, $5, $6, $7, $8, $9, $10, $11) RETURNING seq), \
             k AS ( \
               INSERT INTO catalog_push_skus (tenant_id, push_seq, sku) \
               SELECT $1, p.seq, u.sku FROM p, UNNEST($3::text[]) AS u (sku)) \
             UPDATE catalog_targets ct SET {set}, attempted_at = $5 \
             FROM UNNEST($3::text[], $4::text[]) AS s (sku, q) \
             WHERE ct.tenant_id = $1 AND ct.channel_id = $2 AND ct.sku = s.sku"
        ))
        .bind(tenant.0)
        .bind(row.record.channel_id.0)
        .bind(row.sent.keys().copied().collect::<Vec<_>>())
        .bind(row.sent.values().map(String::as_str).collect::<Vec<_>>())
        .bind(now)
        .bind(&row.record.request)
        .bind(&row.items)
        .bind(row.record.http_status.map(i32::from))
        .bind(row.duration_ms)
        .bind(row.outcome)
        .bind(row.error)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
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
        let q = format!(
            "SELECT {TARGET_COLUMNS} FROM catalog_targets WHERE tenant_id = $1 AND sku = $2 \
             ORDER BY channel_id"
        );
        let q = sqlx::query(&q).bind(tenant.0).bind(sku);
        let channels = fetch(q, &self.pool, decode_target).await?;
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
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        // This job must hold its lease, and no older push job of the channel may run.
        let me: Option<(Uuid, bool)> = sqlx::query_as(
            "SELECT j.tenant_id, EXISTS (SELECT 1 FROM jobs o WHERE o.tenant_id = j.tenant_id \
               AND o.unique_key = j.unique_key AND o.state = 'running' AND o.id < j.id) AS twin \
             FROM jobs j WHERE j.id = $1 AND j.lease_owner = $2 AND j.state = 'running' AND j.unique_key = $3",
        )
        .bind(lease.job_id.0)
        .bind(&lease.owner)
        .bind(catalog_job_key(channel))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        let tenant = match me {
            Some((tenant, false)) => tenant,
            _ => return Ok(None),
        };
        let q = format!(
            "SELECT {TARGET_COLUMNS} FROM catalog_targets \
             WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' \
             AND product_id IN (SELECT DISTINCT product_id FROM catalog_targets \
               WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending' ORDER BY product_id LIMIT $3) \
             ORDER BY product_id, sku"
        );
        let q = sqlx::query(&q)
            .bind(tenant)
            .bind(channel.0)
            .bind(i64::from(n));
        fetch(q, &mut *conn, decode_target).await.map(Some)
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
        crate::stock_push::list(PushHistory::Catalog, self, tenant, channel, sku, page).await
    }
}
