//! Product data: the primitives of `ponte_store::catalog` over [`SqliteTx`], and the
//! store's product data reads, claims and push records.

use crate::codec::{col, from_opt_ts, from_ts, id, in_table, pow2_chunks, to_json, ts};
use crate::stock::fetch;
use crate::stock_marks::SqliteTx;
use crate::{db_err, SqliteStore};
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
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};
use std::collections::{BTreeMap, BTreeSet};

const DATA_COLUMNS: &str = "p.name, p.description, p.brand, p.ean, p.ncm, p.weight_g, \
     p.height_mm, p.width_mm, p.length_mm, p.active";

fn decode_data(r: &SqliteRow) -> StoreResult<ProductData> {
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

fn decode_target(r: &SqliteRow) -> StoreResult<CatalogTarget> {
    in_table("catalog_targets", || {
        Ok(CatalogTarget {
            channel_id: id(col(r, "channel_id")?)?,
            sku: col(r, "sku")?,
            product_id: col(r, "product_id")?,
            variant_id: col(r, "variant_id")?,
            desired: catalog_from_text(col(r, "desired")?)?,
            changed_at: from_ts(col(r, "changed_at")?)?,
            pushed: col::<Option<&str>>(r, "pushed")?
                .map(catalog_from_text)
                .transpose()?,
            pushed_at: from_opt_ts(col(r, "pushed_at")?)?,
            state: push_state(col(r, "state")?)?,
            attempts: u32::try_from(col::<i64>(r, "attempts")?).unwrap_or(0),
            last_error: col(r, "last_error")?,
        })
    })
}

fn skus_json(skus: &BTreeSet<&str>) -> StoreResult<String> {
    to_json(&skus.iter().collect::<Vec<_>>())
}

#[async_trait]
impl CatalogTx for SqliteTx<'_> {
    /// Nothing to take: the one writer connection runs its transactions one at a time.
    async fn lock_catalog(&mut self, _: TenantId) -> StoreResult<()> {
        Ok(())
    }

    async fn unknown_catalog_skus(
        &mut self,
        tenant: TenantId,
        skus: &BTreeSet<&str>,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT j.value FROM json_each(?) j WHERE NOT EXISTS \
             (SELECT 1 FROM products p WHERE p.tenant_id = ? AND p.sku = j.value)",
        )
        .bind(skus_json(skus)?)
        .bind(tenant.to_string())
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
                "UPDATE products SET name = ?, description = ?, brand = ?, ean = ?, ncm = ?, \
                 weight_g = ?, height_mm = ?, width_mm = ?, length_mm = ?, active = ?, updated_at = ? \
                 WHERE tenant_id = ? AND sku = ?",
            )
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
            .bind(ts(now))
            .bind(tenant.to_string())
            .bind(*sku)
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
            "INSERT INTO channel_catalog (tenant_id, channel_id, fields, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, channel_id) DO UPDATE SET fields = excluded.fields, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(fields_text(fields)?)
        .bind(ts(now))
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
        sqlx::query_scalar("SELECT sku FROM listings WHERE tenant_id = ? AND channel_id = ?")
            .bind(tenant.to_string())
            .bind(channel.to_string())
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT l.channel_id, l.sku, l.product_id, l.variant_id, cc.fields, {DATA_COLUMNS} \
             FROM json_each("
        ));
        q.push_bind(skus_json(skus)?)
            .push(") j JOIN listings l ON l.tenant_id = ")
            .push_bind(tenant.to_string())
            .push(
                " AND l.sku = j.value \
                 JOIN channel_catalog cc ON cc.tenant_id = l.tenant_id AND cc.channel_id = l.channel_id \
                 AND cc.fields <> '[]' \
                 JOIN products p ON p.tenant_id = l.tenant_id AND p.sku = l.sku",
            );
        if let Some(c) = channel {
            q.push(" WHERE l.channel_id = ").push_bind(c.to_string());
        }
        fetch(q.build(), &mut *self.0, |r| {
            Ok(CatalogFeed {
                channel: id(col(r, "channel_id")?)?,
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                fields: fields_from_text(col(r, "fields")?)?,
                data: decode_data(r)?,
            })
        })
        .await
    }

    async fn write_catalog_targets(
        &mut self,
        tenant: TenantId,
        values: &[(&CatalogFeed, String)],
        force: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(ChannelId, PushState)>> {
        let upsert = target_upsert("catalog_targets", if force { "1" } else { "0" });
        let mut written = Vec::with_capacity(values.len());
        for chunk in pow2_chunks(values) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO catalog_targets (tenant_id, channel_id, sku, product_id, variant_id, desired, changed_at, state) ",
            );
            q.push_values(chunk, |mut b, (f, v)| {
                b.push_bind(tenant.to_string())
                    .push_bind(f.channel.to_string())
                    .push_bind(&f.sku)
                    .push_bind(&f.product_id)
                    .push_bind(&f.variant_id)
                    .push_bind(v)
                    .push_bind(ts(now))
                    .push_bind("pending");
            });
            q.push(&upsert);
            let rows = fetch(q.build(), &mut *self.0, |r| {
                Ok((id(col(r, "channel_id")?)?, push_state(col(r, "state")?)?))
            })
            .await?;
            written.extend(rows);
        }
        Ok(written)
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
        let p = row.record;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO catalog_pushes (tenant_id, channel_id, at, request, items, http_status, duration_ms, outcome, error) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(tenant.to_string())
        .bind(p.channel_id.to_string())
        .bind(ts(now))
        .bind(&p.request)
        .bind(to_json(&row.items)?)
        .bind(p.http_status.map(i64::from))
        .bind(row.duration_ms)
        .bind(row.outcome)
        .bind(row.error)
        .fetch_one(&mut *self.0)
        .await
        .map_err(db_err)?;
        if row.sent.is_empty() {
            return Ok(());
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT OR IGNORE INTO catalog_push_skus (tenant_id, push_seq, sku) ",
        );
        q.push_values(row.sent.keys(), |mut b, sku| {
            b.push_bind(tenant.to_string())
                .push_bind(seq)
                .push_bind(*sku);
        });
        q.build().execute(&mut *self.0).await.map_err(db_err)?;
        let set = row.target_set("catalog_targets", "s.q", "?", "?");
        let sql = format!(
            "UPDATE catalog_targets SET {set}, attempted_at = ? FROM (SELECT json_extract(value, '$[0]') AS sku, \
             json_extract(value, '$[1]') AS q FROM json_each(?)) s \
             WHERE catalog_targets.tenant_id = ? AND catalog_targets.channel_id = ? AND catalog_targets.sku = s.sku"
        );
        let q = sqlx::query(&sql);
        let q = match row.error {
            None => q.bind(ts(now)),
            Some(e) => q.bind(e.to_owned()),
        };
        q.bind(ts(now))
            .bind(to_json(&row.sent.iter().collect::<Vec<_>>())?)
            .bind(tenant.to_string())
            .bind(p.channel_id.to_string())
            .execute(&mut *self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn write_product_data(
        &self,
        tenant: TenantId,
        rows: &[(String, ProductData)],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<u64, Vec<(usize, String)>>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let out = catalog::write_product_data(&mut SqliteTx(&mut tx), tenant, rows, now).await?;
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let n = catalog::set_channel_catalog(&mut SqliteTx(&mut tx), tenant, channel, fields, now)
            .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn sku_catalog(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<SkuCatalog>> {
        let q =
            format!("SELECT {DATA_COLUMNS} FROM products p WHERE p.tenant_id = ? AND p.sku = ?");
        let q = sqlx::query(&q).bind(tenant.to_string()).bind(sku);
        let Some(data) = fetch(q, &self.reader, decode_data).await?.pop() else {
            return Ok(None);
        };
        let q = format!(
            "SELECT {TARGET_COLUMNS} FROM catalog_targets WHERE tenant_id = ? AND sku = ? \
             ORDER BY channel_id"
        );
        let q = sqlx::query(&q).bind(tenant.to_string()).bind(sku);
        let channels = fetch(q, &self.reader, decode_target).await?;
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
        let mut conn = self.writer.acquire().await.map_err(db_err)?;
        // This job must hold its lease, and no older push job of the channel may run.
        let (mine, others): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(id = ?1 AND lease_owner = ?2), 0), COALESCE(SUM(id < ?1), 0) \
             FROM jobs WHERE unique_key = ?3 AND state = 'running'",
        )
        .bind(lease.job_id.to_string())
        .bind(&lease.owner)
        .bind(catalog_job_key(channel))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        if mine != 1 || others > 0 {
            return Ok(None);
        }
        let q = format!(
            "SELECT {TARGET_COLUMNS} FROM catalog_targets WHERE channel_id = ?1 AND state = 'pending' \
             AND product_id IN (SELECT DISTINCT product_id FROM catalog_targets \
               WHERE channel_id = ?1 AND state = 'pending' ORDER BY product_id LIMIT ?2) \
             ORDER BY product_id, sku"
        );
        let q = sqlx::query(&q).bind(channel.to_string()).bind(i64::from(n));
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
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        catalog::record_catalog_pushes(&mut SqliteTx(&mut tx), tenant, pushes, now).await?;
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
