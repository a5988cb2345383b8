//! The catalogue (products, warehouses, listings), channel stock settings, movements
//! and reading stock. Writes run the sequences of `ponte_store::stock_writes` over
//! [`SqliteTx`]; pushing is in `stock_push.rs`.

use crate::codec::in_table;
use crate::codec::{col, from_ts, id, limit, pow2_chunks, to_json, ts};
use crate::stock_marks::{pairs_json, SqliteTx};
use crate::target_push::listed_skus;
use crate::{db_err, SqliteStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::stock::{Balance, Effect};
use ponte_core::{ChannelId, OrderId, TenantId};
use ponte_store::catalog::CatalogFeed;
use ponte_store::price_writes::PriceFeed;
use ponte_store::stock_plan::{
    keyset_page, listing_source, OrderStockEffect, SkuKey, UnmappedLine,
};
use ponte_store::stock_push::push_state_counts;
use ponte_store::stock_writes::{self, StockWritesTx};
use ponte_store::target_marks::mark_listings;
use ponte_store::target_push::PushKind;
use ponte_store::*;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Executor, QueryBuilder, Sqlite};
use std::collections::BTreeSet;

const PRODUCT_COLUMNS: &str = "tenant_id, sku, name, ean, unit, created_at, updated_at";

fn decode_product(r: &SqliteRow) -> StoreResult<Product> {
    in_table("products", || {
        Ok(Product {
            tenant_id: id(col(r, "tenant_id")?)?,
            sku: col(r, "sku")?,
            name: col(r, "name")?,
            ean: col(r, "ean")?,
            unit: col(r, "unit")?,
            created_at: from_ts(col(r, "created_at")?)?,
            updated_at: from_ts(col(r, "updated_at")?)?,
        })
    })
}

/// Runs a query and decodes every row it returns.
pub(crate) async fn fetch<'q, 'c: 'q, T>(
    q: Query<'q, Sqlite, SqliteArguments<'q>>,
    conn: impl Executor<'c, Database = Sqlite> + 'q,
    decode: impl Fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    q.fetch_all(conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(decode)
        .collect()
}

/// A balance's columns `physical` and `reserved`.
pub(crate) fn decode_balance(r: &SqliteRow) -> StoreResult<Balance> {
    in_table("stock_levels", || {
        Ok(Balance {
            physical: col(r, "physical")?,
            reserved: col(r, "reserved")?,
        })
    })
}

/// An order's effect's columns `reserved` and `debited`.
pub(crate) fn decode_effect(r: &SqliteRow) -> StoreResult<Effect> {
    in_table("order_stock", || {
        Ok(Effect {
            reserved: col(r, "reserved")?,
            debited: col(r, "debited")?,
        })
    })
}

#[async_trait]
impl StockStore for SqliteStore {
    async fn insert_product(&self, p: &Product) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        sqlx::query(&format!(
            "INSERT INTO products ({PRODUCT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(p.tenant_id.to_string())
        .bind(&p.sku)
        .bind(&p.name)
        .bind(&p.ean)
        .bind(&p.unit)
        .bind(ts(p.created_at))
        .bind(ts(p.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // Orders imported before the product existed now move its stock.
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT order_id FROM unmapped_lines WHERE tenant_id = ? AND sku = ?",
        )
        .bind(p.tenant_id.to_string())
        .bind(&p.sku)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let orders = waiting
            .iter()
            .map(|o| Ok((p.tenant_id, id::<OrderId>(o)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        ponte_store::stock_orders::apply_order_effects(
            &mut SqliteTx(&mut tx),
            &orders,
            &[],
            p.created_at,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_product(&self, p: &Product) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE products SET name = ?, ean = ?, unit = ?, updated_at = ? WHERE tenant_id = ? AND sku = ?",
        )
        .bind(&p.name)
        .bind(&p.ean)
        .bind(&p.unit)
        .bind(ts(p.updated_at))
        .bind(p.tenant_id.to_string())
        .bind(&p.sku)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn product(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<Product>> {
        sqlx::query(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE tenant_id = ? AND sku = ?"
        ))
        .bind(tenant.to_string())
        .bind(sku)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(decode_product)
        .transpose()
    }

    async fn products(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Product>> {
        let n = limit(page.limit);
        let q = format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE tenant_id = ? AND sku > ? ORDER BY sku LIMIT ?"
        );
        let q = sqlx::query(&q)
            .bind(tenant.to_string())
            .bind(page.cursor.clone().unwrap_or_default())
            .bind(n);
        let items = fetch(q, &self.reader, decode_product).await?;
        Ok(keyset_page(items, n, |p| p.sku.clone()))
    }

    async fn insert_warehouse(&self, w: &Warehouse) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO warehouses (tenant_id, code, name, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(w.tenant_id.to_string())
        .bind(&w.code)
        .bind(&w.name)
        .bind(ts(w.created_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn warehouses(&self, tenant: TenantId) -> StoreResult<Vec<Warehouse>> {
        let q = sqlx::query(
            "SELECT tenant_id, code, name, created_at FROM warehouses WHERE tenant_id = ? ORDER BY code",
        );
        fetch(q.bind(tenant.to_string()), &self.reader, |r| {
            in_table("warehouses", || {
                Ok(Warehouse {
                    tenant_id: id(col(r, "tenant_id")?)?,
                    code: col(r, "code")?,
                    name: col(r, "name")?,
                    created_at: from_ts(col(r, "created_at")?)?,
                })
            })
        })
        .await
    }

    async fn upsert_listings(
        &self,
        listings: &[Listing],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<(), Vec<String>>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let out = stock_writes::upsert_listings(&mut SqliteTx(&mut tx), listings, now).await?;
        if out.is_ok() {
            let tx = &mut SqliteTx(&mut tx);
            mark_listings::<PriceFeed, _>(tx, listings, now).await?;
            mark_listings::<CatalogFeed, _>(tx, listings, now).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn listings(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        page: &PageRequest,
    ) -> StoreResult<Page<Listing>> {
        let n = limit(page.limit);
        let q = sqlx::query(
            "SELECT tenant_id, channel_id, sku, product_id, variant_id, source, created_at FROM listings \
             WHERE tenant_id = ? AND channel_id = ? AND sku > ? ORDER BY sku LIMIT ?",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(page.cursor.clone().unwrap_or_default())
        .bind(n);
        let items = fetch(q, &self.reader, |r| {
            in_table("listings", || {
                Ok(Listing {
                    tenant_id: id(col(r, "tenant_id")?)?,
                    channel_id: id(col(r, "channel_id")?)?,
                    sku: col(r, "sku")?,
                    product_id: col(r, "product_id")?,
                    variant_id: col(r, "variant_id")?,
                    source: listing_source(col(r, "source")?),
                    created_at: from_ts(col(r, "created_at")?)?,
                })
            })
        })
        .await?;
        Ok(keyset_page(items, n, |l| l.sku.clone()))
    }

    async fn set_channel_stock(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        s: &ChannelStock,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        stock_writes::set_channel_stock(&mut SqliteTx(&mut tx), tenant, channel, s, now).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn record_movements(
        &self,
        tenant: TenantId,
        batch: &[NewMovement],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<u64, MovementsRefused>> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let out =
            stock_writes::record_movements(&mut SqliteTx(&mut tx), tenant, batch, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn sku_stock(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<SkuStock>> {
        let Some(product) = self.product(tenant, sku).await? else {
            return Ok(None);
        };
        let q = sqlx::query(
            "SELECT warehouse, physical, reserved, updated_at FROM stock_levels \
             WHERE tenant_id = ? AND sku = ? ORDER BY warehouse",
        );
        let levels = fetch(q.bind(tenant.to_string()).bind(sku), &self.reader, |r| {
            Ok(StockLevel {
                warehouse: col(r, "warehouse")?,
                balance: decode_balance(r)?,
                updated_at: from_ts(col(r, "updated_at")?)?,
            })
        })
        .await?;
        let channels = crate::target_push::sku_targets(self, tenant, sku).await?;
        Ok(Some(SkuStock {
            product,
            levels,
            channels,
        }))
    }

    async fn order_stock(
        &self,
        tenant: TenantId,
        order: OrderId,
    ) -> StoreResult<(Vec<OrderStockEffect>, Vec<UnmappedLine>)> {
        let q = sqlx::query(
            "SELECT sku, warehouse, reserved, debited FROM order_stock \
             WHERE tenant_id = ? AND order_id = ? ORDER BY sku",
        )
        .bind(tenant.to_string())
        .bind(order.to_string());
        let effects = fetch(q, &self.reader, |r| {
            Ok(OrderStockEffect {
                tenant,
                order,
                sku: col(r, "sku")?,
                warehouse: col(r, "warehouse")?,
                effect: decode_effect(r)?,
            })
        })
        .await?;
        let q = sqlx::query(
            "SELECT line, channel_id, sku, product_id, variant_id, quantity FROM unmapped_lines \
             WHERE tenant_id = ? AND order_id = ? ORDER BY line",
        )
        .bind(tenant.to_string())
        .bind(order.to_string());
        let unmapped = fetch(q, &self.reader, |r| {
            in_table("unmapped_lines", || {
                Ok(UnmappedLine {
                    tenant,
                    order,
                    line: usize::try_from(col::<i64>(r, "line")?).unwrap_or(0),
                    channel: id(col(r, "channel_id")?)?,
                    sku: col(r, "sku")?,
                    product_id: col(r, "product_id")?,
                    variant_id: col(r, "variant_id")?,
                    quantity: col(r, "quantity")?,
                })
            })
        })
        .await?;
        Ok((effects, unmapped))
    }

    async fn unmapped_skus(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
    ) -> StoreResult<Vec<UnmappedSku>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT channel_id, sku, product_id, variant_id, COUNT(DISTINCT order_id) AS orders, \
             SUM(quantity) AS units, MAX(seen_at) AS last_seen, MAX(order_id) AS example \
             FROM unmapped_lines WHERE tenant_id = ",
        );
        q.push_bind(tenant.to_string());
        if let Some(c) = channel {
            q.push(" AND channel_id = ").push_bind(c.to_string());
        }
        q.push(
            " GROUP BY channel_id, sku, product_id, variant_id ORDER BY last_seen DESC LIMIT 1000",
        );
        fetch(q.build(), &self.reader, |r| {
            Ok(UnmappedSku {
                channel_id: id(col(r, "channel_id")?)?,
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                orders: col(r, "orders")?,
                units: col(r, "units")?,
                last_seen: from_ts(col(r, "last_seen")?)?,
                example_order: id(col(r, "example")?)?,
            })
        })
        .await
    }

    async fn claim_stock_targets(
        &self,
        lease: &JobLease,
        channel: ChannelId,
        n: u32,
    ) -> StoreResult<Option<Vec<StockTarget>>> {
        crate::target_push::claim(self, lease, channel, n).await
    }

    async fn record_pushes(
        &self,
        tenant: TenantId,
        pushes: &[PushRecord],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        ponte_store::stock_push::record_pushes(&mut SqliteTx(&mut tx), tenant, pushes, now).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn stock_pushes(
        &self,
        tenant: TenantId,
        channel: Option<ChannelId>,
        sku: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Page<StockPush>> {
        crate::stock_push::list(PushKind::STOCK, self, tenant, channel, sku, page).await
    }

    async fn resync_stock(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let n = stock_writes::resync_stock(&mut SqliteTx(&mut tx), tenant, channel, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn stock_summary(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<(u64, u64, u64)> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) AS n FROM stock_targets WHERE tenant_id = ? AND channel_id = ? GROUP BY state",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(push_state_counts(&rows))
    }
}

#[async_trait]
impl StockWritesTx for SqliteTx<'_> {
    async fn unknown_skus(&mut self, skus: &BTreeSet<SkuKey>) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT json_extract(j.value, '$[1]') FROM json_each(?) j WHERE NOT EXISTS \
             (SELECT 1 FROM products p WHERE p.tenant_id = json_extract(j.value, '$[0]') \
              AND p.sku = json_extract(j.value, '$[1]'))",
        )
        .bind(pairs_json(skus.iter().map(|(t, s)| (t, s)))?)
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)
    }

    async fn warehouse_codes(&mut self, tenant: TenantId) -> StoreResult<BTreeSet<String>> {
        let codes: Vec<String> =
            sqlx::query_scalar("SELECT code FROM warehouses WHERE tenant_id = ?")
                .bind(tenant.to_string())
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?;
        Ok(codes.into_iter().collect())
    }

    async fn write_listings(&mut self, rows: &[&Listing]) -> StoreResult<()> {
        for chunk in pow2_chunks(rows) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO listings (tenant_id, channel_id, sku, product_id, variant_id, source, created_at) ",
            );
            q.push_values(chunk, |mut b, l| {
                b.push_bind(l.tenant_id.to_string())
                    .push_bind(l.channel_id.to_string())
                    .push_bind(&l.sku)
                    .push_bind(&l.product_id)
                    .push_bind(&l.variant_id)
                    .push_bind(l.source.as_str())
                    .push_bind(ts(l.created_at));
            });
            q.push(
                " ON CONFLICT (tenant_id, channel_id, sku) DO UPDATE SET product_id = excluded.product_id, \
                 variant_id = excluded.variant_id, source = excluded.source",
            );
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn write_channel_stock(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        s: &ChannelStock,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO channel_stock (tenant_id, channel_id, send_stock, warehouses, debit_warehouse, buffer) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, channel_id) DO UPDATE SET \
             send_stock = excluded.send_stock, warehouses = excluded.warehouses, \
             debit_warehouse = excluded.debit_warehouse, buffer = excluded.buffer",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(i64::from(s.send_stock))
        .bind(to_json(&s.warehouses)?)
        .bind(&s.debit_warehouse)
        .bind(s.buffer)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn channel_skus(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<Vec<String>> {
        listed_skus(&mut *self.0, tenant, channel).await
    }
}
