//! The catalogue (products, warehouses, listings), channel stock settings, movements
//! and reading stock. Writes run the sequences of `ponte_store::stock_writes` over
//! [`PgTx`]; pushing is in `stock_push.rs`; every write of a SKU's stock takes its lock
//! first (`stock_marks::lock_stock`).

use crate::codec::in_table;
use crate::codec::{col, limit, order_lock_key};
use crate::sends::lock_keys;
use crate::stock_marks::{lock_stock, PgTx};
use crate::target_push::listed_skus;
use crate::{db_err, PgStore};
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
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Executor, Postgres, QueryBuilder};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

const PRODUCT_COLUMNS: &str = "tenant_id, sku, name, ean, unit, created_at, updated_at";

/// Times a new product's transaction starts over when an order that began waiting for
/// it meanwhile is locked by another transaction; the last time it commits without
/// that order (which then moves the product's stock at its next import).
const PRODUCT_ATTEMPTS: u32 = 4;

fn decode_product(r: &PgRow) -> StoreResult<Product> {
    in_table("products", || {
        Ok(Product {
            tenant_id: TenantId(col(r, "tenant_id")?),
            sku: col(r, "sku")?,
            name: col(r, "name")?,
            ean: col(r, "ean")?,
            unit: col(r, "unit")?,
            created_at: col(r, "created_at")?,
            updated_at: col(r, "updated_at")?,
        })
    })
}

/// Runs a query and decodes every row it returns.
pub(crate) async fn fetch<'q, 'c: 'q, T>(
    q: Query<'q, Postgres, PgArguments>,
    conn: impl Executor<'c, Database = Postgres> + 'q,
    decode: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    q.fetch_all(conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(decode)
        .collect()
}

/// A balance's columns `physical` and `reserved`.
pub(crate) fn decode_balance(r: &PgRow) -> StoreResult<Balance> {
    in_table("stock_levels", || {
        Ok(Balance {
            physical: col(r, "physical")?,
            reserved: col(r, "reserved")?,
        })
    })
}

/// An order's effect's columns `reserved` and `debited`.
pub(crate) fn decode_effect(r: &PgRow) -> StoreResult<Effect> {
    in_table("order_stock", || {
        Ok(Effect {
            reserved: col(r, "reserved")?,
            debited: col(r, "debited")?,
        })
    })
}

/// The orders with unmapped lines of this SKU: ids and advisory-lock keys.
async fn waiting_orders(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    sku: &str,
) -> StoreResult<BTreeMap<OrderId, i64>> {
    let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT DISTINCT o.id, o.channel_id, o.external_id FROM unmapped_lines u \
         JOIN orders o ON o.tenant_id = u.tenant_id AND o.id = u.order_id \
         WHERE u.tenant_id = $1 AND u.sku = $2",
    )
    .bind(tenant.0)
    .bind(sku)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|(o, c, ext)| (OrderId(o), order_lock_key(tenant.0, c, &ext)))
        .collect())
}

/// Tries the advisory locks of these orders without waiting; the keys another
/// transaction holds.
async fn try_lock_orders(conn: &mut sqlx::PgConnection, keys: Vec<i64>) -> StoreResult<Vec<i64>> {
    if keys.is_empty() {
        return Ok(vec![]);
    }
    sqlx::query_scalar(
        "SELECT k FROM UNNEST($1::bigint[]) AS k WHERE NOT pg_try_advisory_xact_lock(k)",
    )
    .bind(keys)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)
}

/// Adds a product and brings the orders waiting for it up to date; false when one of
/// them is locked by another transaction (this one must start over).
///
/// Orders imported before the product existed now move its stock. Their locks come
/// first (the global order); then the tenant's whole stock, which waits for every
/// import in its stock phase: one that read the products before this one commits has
/// written its unmapped lines once the lock is granted, one that reads them after
/// finds the product. Orders whose lines arrived between the two are read again and
/// locked without waiting (waiting for an order while holding stock locks could
/// deadlock).
async fn insert_product_once(store: &PgStore, p: &Product, last: bool) -> StoreResult<bool> {
    let mut tx = store.pool.begin().await.map_err(db_err)?;
    sqlx::query(&format!(
        "INSERT INTO products ({PRODUCT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(p.tenant_id.0)
    .bind(&p.sku)
    .bind(&p.name)
    .bind(&p.ean)
    .bind(&p.unit)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    let t = p.tenant_id;
    let mut waiting = waiting_orders(&mut tx, t, &p.sku).await?;
    lock_keys(&mut tx, waiting.values().copied().collect()).await?;
    lock_stock(&mut tx, &BTreeSet::new(), &[t]).await?;
    let late: BTreeMap<OrderId, i64> = waiting_orders(&mut tx, t, &p.sku)
        .await?
        .into_iter()
        .filter(|(o, _)| !waiting.contains_key(o))
        .collect();
    let busy = try_lock_orders(&mut tx, late.values().copied().collect()).await?;
    if !busy.is_empty() {
        if !last {
            return Ok(false);
        }
        tracing::warn!(sku = %p.sku, orders = busy.len(), "orders waiting for a new product stay busy; they move its stock at their next import");
    }
    waiting.extend(late.into_iter().filter(|(_, k)| !busy.contains(k)));
    let orders: Vec<(TenantId, OrderId)> = waiting.keys().map(|o| (t, *o)).collect();
    ponte_store::stock_orders::apply_order_effects(&mut PgTx(&mut tx), &orders, &[t], p.created_at)
        .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

#[async_trait]
impl StockStore for PgStore {
    async fn insert_product(&self, p: &Product) -> StoreResult<()> {
        for attempt in 1..=PRODUCT_ATTEMPTS {
            if insert_product_once(self, p, attempt == PRODUCT_ATTEMPTS).await? {
                break;
            }
        }
        Ok(())
    }

    async fn update_product(&self, p: &Product) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE products SET name = $1, ean = $2, unit = $3, updated_at = $4 \
             WHERE tenant_id = $5 AND sku = $6",
        )
        .bind(&p.name)
        .bind(&p.ean)
        .bind(&p.unit)
        .bind(p.updated_at)
        .bind(p.tenant_id.0)
        .bind(&p.sku)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    async fn product(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<Product>> {
        sqlx::query(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE tenant_id = $1 AND sku = $2"
        ))
        .bind(tenant.0)
        .bind(sku)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(decode_product)
        .transpose()
    }

    async fn products(&self, tenant: TenantId, page: &PageRequest) -> StoreResult<Page<Product>> {
        let n = limit(page.limit);
        let q = format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE tenant_id = $1 AND sku > $2 ORDER BY sku LIMIT $3"
        );
        let q = sqlx::query(&q)
            .bind(tenant.0)
            .bind(page.cursor.clone().unwrap_or_default())
            .bind(n);
        let items = fetch(q, &self.pool, decode_product).await?;
        Ok(keyset_page(items, n, |p| p.sku.clone()))
    }

    async fn insert_warehouse(&self, w: &Warehouse) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO warehouses (tenant_id, code, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(w.tenant_id.0)
        .bind(&w.code)
        .bind(&w.name)
        .bind(w.created_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn warehouses(&self, tenant: TenantId) -> StoreResult<Vec<Warehouse>> {
        let q = sqlx::query(
            "SELECT tenant_id, code, name, created_at FROM warehouses WHERE tenant_id = $1 ORDER BY code",
        )
        .bind(tenant.0);
        fetch(q, &self.pool, |r| {
            in_table("warehouses", || {
                Ok(Warehouse {
                    tenant_id: TenantId(col(r, "tenant_id")?),
                    code: col(r, "code")?,
                    name: col(r, "name")?,
                    created_at: col(r, "created_at")?,
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = stock_writes::upsert_listings(&mut PgTx(&mut tx), listings, now).await?;
        if out.is_ok() {
            let tx = &mut PgTx(&mut tx);
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
             WHERE tenant_id = $1 AND channel_id = $2 AND sku > $3 ORDER BY sku LIMIT $4",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .bind(page.cursor.clone().unwrap_or_default())
        .bind(n);
        let items = fetch(q, &self.pool, |r| {
            in_table("listings", || {
                Ok(Listing {
                    tenant_id: TenantId(col(r, "tenant_id")?),
                    channel_id: ChannelId(col(r, "channel_id")?),
                    sku: col(r, "sku")?,
                    product_id: col(r, "product_id")?,
                    variant_id: col(r, "variant_id")?,
                    source: listing_source(&col::<String>(r, "source")?),
                    created_at: col(r, "created_at")?,
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        stock_writes::set_channel_stock(&mut PgTx(&mut tx), tenant, channel, s, now).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn record_movements(
        &self,
        tenant: TenantId,
        batch: &[NewMovement],
        now: DateTime<Utc>,
    ) -> StoreResult<Result<u64, MovementsRefused>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let out = stock_writes::record_movements(&mut PgTx(&mut tx), tenant, batch, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn sku_stock(&self, tenant: TenantId, sku: &str) -> StoreResult<Option<SkuStock>> {
        let Some(product) = self.product(tenant, sku).await? else {
            return Ok(None);
        };
        let q = sqlx::query(
            "SELECT warehouse, physical, reserved, updated_at FROM stock_levels \
             WHERE tenant_id = $1 AND sku = $2 ORDER BY warehouse",
        );
        let levels = fetch(q.bind(tenant.0).bind(sku), &self.pool, |r| {
            Ok(StockLevel {
                warehouse: col(r, "warehouse")?,
                balance: decode_balance(r)?,
                updated_at: col(r, "updated_at")?,
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
             WHERE tenant_id = $1 AND order_id = $2 ORDER BY sku",
        );
        let effects = fetch(q.bind(tenant.0).bind(order.0), &self.pool, |r| {
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
             WHERE tenant_id = $1 AND order_id = $2 ORDER BY line",
        );
        let unmapped = fetch(q.bind(tenant.0).bind(order.0), &self.pool, |r| {
            in_table("unmapped_lines", || {
                Ok(UnmappedLine {
                    tenant,
                    order,
                    line: usize::try_from(col::<i32>(r, "line")?).unwrap_or(0),
                    channel: ChannelId(col(r, "channel_id")?),
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
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT channel_id, sku, product_id, variant_id, COUNT(DISTINCT order_id) AS orders, \
             SUM(quantity)::bigint AS units, MAX(seen_at) AS last_seen, \
             (array_agg(order_id ORDER BY order_id DESC))[1] AS example \
             FROM unmapped_lines WHERE tenant_id = ",
        );
        q.push_bind(tenant.0);
        if let Some(c) = channel {
            q.push(" AND channel_id = ").push_bind(c.0);
        }
        q.push(
            " GROUP BY channel_id, sku, product_id, variant_id ORDER BY last_seen DESC LIMIT 1000",
        );
        fetch(q.build(), &self.pool, |r| {
            Ok(UnmappedSku {
                channel_id: ChannelId(col(r, "channel_id")?),
                sku: col(r, "sku")?,
                product_id: col(r, "product_id")?,
                variant_id: col(r, "variant_id")?,
                orders: col(r, "orders")?,
                units: col(r, "units")?,
                last_seen: col(r, "last_seen")?,
                example_order: OrderId(col(r, "example")?),
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        ponte_store::stock_push::record_pushes(&mut PgTx(&mut tx), tenant, pushes, now).await?;
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let n = stock_writes::resync_stock(&mut PgTx(&mut tx), tenant, channel, now).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn stock_summary(
        &self,
        tenant: TenantId,
        channel: ChannelId,
    ) -> StoreResult<(u64, u64, u64)> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) AS n FROM stock_targets WHERE tenant_id = $1 AND channel_id = $2 GROUP BY state",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(push_state_counts(&rows))
    }
}

#[async_trait]
impl StockWritesTx for PgTx<'_> {
    async fn unknown_skus(&mut self, skus: &BTreeSet<SkuKey>) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT k.sku FROM UNNEST($1::uuid[], $2::text[]) AS k (t, sku) WHERE NOT EXISTS \
             (SELECT 1 FROM products p WHERE p.tenant_id = k.t AND p.sku = k.sku)",
        )
        .bind(skus.iter().map(|k| k.0 .0).collect::<Vec<_>>())
        .bind(skus.iter().map(|k| k.1.as_str()).collect::<Vec<_>>())
        .fetch_all(&mut *self.0)
        .await
        .map_err(db_err)
    }

    async fn warehouse_codes(&mut self, tenant: TenantId) -> StoreResult<BTreeSet<String>> {
        let codes: Vec<String> =
            sqlx::query_scalar("SELECT code FROM warehouses WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_all(&mut *self.0)
                .await
                .map_err(db_err)?;
        Ok(codes.into_iter().collect())
    }

    async fn write_listings(&mut self, rows: &[&Listing]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO listings (tenant_id, channel_id, sku, product_id, variant_id, source, created_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
               $7::timestamptz[]) \
             ON CONFLICT (tenant_id, channel_id, sku) DO UPDATE SET product_id = EXCLUDED.product_id, \
               variant_id = EXCLUDED.variant_id, source = EXCLUDED.source",
        )
        .bind(rows.iter().map(|l| l.tenant_id.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|l| l.channel_id.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|l| l.sku.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|l| l.product_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|l| l.variant_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|l| l.source.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|l| l.created_at).collect::<Vec<_>>())
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
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
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, channel_id) DO UPDATE SET \
             send_stock = EXCLUDED.send_stock, warehouses = EXCLUDED.warehouses, \
             debit_warehouse = EXCLUDED.debit_warehouse, buffer = EXCLUDED.buffer",
        )
        .bind(tenant.0)
        .bind(channel.0)
        .bind(s.send_stock)
        .bind(sqlx::types::Json(&s.warehouses))
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
