//! What orders do to stock, inside the transaction that changed them: the primitives
//! of `ponte_store::stock_orders`, whose sequence brings each order's effect per SKU
//! up to date.

use crate::codec::{col, id, json, pow2_chunks, ts};
use crate::db_err;
use crate::stock::{decode_effect, fetch};
use crate::stock_marks::{pairs_json, SqliteTx};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::action::Fulfilment;
use ponte_core::order::OrderData;
use ponte_core::{OrderId, TenantId};
use ponte_store::stock_orders::OrderStockTx;
use ponte_store::stock_plan::{
    AppliedEffects, OrderStockEffect, OrderStockInput, RevealedListing, SkuKey, UnmappedLine,
};
use ponte_store::StoreResult;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeSet, HashSet};

/// Brings the stock effect of these orders up to date (see the module doc).
pub(crate) async fn apply_order_effects(
    conn: &mut SqliteConnection,
    orders: &[(TenantId, OrderId)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    ponte_store::stock_orders::apply_order_effects(&mut SqliteTx(conn), orders, &[], now).await
}

/// A (tenant, SKU) from the columns `tenant_id` and `sku`.
fn decode_sku_key(r: &SqliteRow) -> StoreResult<SkuKey> {
    Ok((id(col(r, "tenant_id")?)?, col(r, "sku")?))
}

/// The (tenant, order) pairs of these orders, for `json_each`.
fn order_pairs(orders: &[OrderStockInput]) -> StoreResult<String> {
    pairs_json(orders.iter().map(|o| (o.tenant, o.order)))
}

#[async_trait]
impl OrderStockTx for SqliteTx<'_> {
    async fn read_orders(
        &mut self,
        keys: &BTreeSet<(TenantId, OrderId)>,
    ) -> StoreResult<Vec<OrderStockInput>> {
        let q = sqlx::query(
            "SELECT o.tenant_id, o.id, o.channel_id, o.external_id, o.data, o.fulfilment, cs.debit_warehouse \
             FROM json_each(?) j JOIN orders o ON o.tenant_id = json_extract(j.value, '$[0]') AND o.id = json_extract(j.value, '$[1]') \
             JOIN channel_stock cs ON cs.tenant_id = o.tenant_id AND cs.channel_id = o.channel_id \
             WHERE cs.debit_warehouse IS NOT NULL",
        )
        .bind(pairs_json(keys.iter().map(|(t, o)| (t, o)))?);
        fetch(q, &mut *self.0, |r| {
            Ok(OrderStockInput::new(
                id(col(r, "tenant_id")?)?,
                id(col(r, "id")?)?,
                id(col(r, "channel_id")?)?,
                col(r, "external_id")?,
                json::<OrderData>(col(r, "data")?)?,
                &json::<Fulfilment>(col(r, "fulfilment")?)?,
                col(r, "debit_warehouse")?,
            ))
        })
        .await
    }

    async fn read_applied(&mut self, orders: &[OrderStockInput]) -> StoreResult<AppliedEffects> {
        let q = sqlx::query(
            "SELECT s.order_id, s.sku, s.warehouse, s.reserved, s.debited FROM json_each(?) j JOIN order_stock s \
             ON s.tenant_id = json_extract(j.value, '$[0]') AND s.order_id = json_extract(j.value, '$[1]')",
        );
        let rows = fetch(q.bind(order_pairs(orders)?), &mut *self.0, |r| {
            let key = (id(col(r, "order_id")?)?, col(r, "sku")?);
            Ok((key, (col(r, "warehouse")?, decode_effect(r)?)))
        })
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn read_products(&mut self, skus: &BTreeSet<SkuKey>) -> StoreResult<HashSet<SkuKey>> {
        let q = sqlx::query(
            "SELECT p.tenant_id, p.sku FROM json_each(?) j JOIN products p \
             ON p.tenant_id = json_extract(j.value, '$[0]') AND p.sku = json_extract(j.value, '$[1]')",
        );
        let q = q.bind(pairs_json(skus.iter().map(|(t, s)| (t, s)))?);
        let rows = fetch(q, &mut *self.0, decode_sku_key).await?;
        Ok(rows.into_iter().collect())
    }

    async fn write_effects(&mut self, effects: &[OrderStockEffect]) -> StoreResult<()> {
        for chunk in pow2_chunks(effects) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO order_stock (tenant_id, order_id, sku, warehouse, reserved, debited) ",
            );
            q.push_values(chunk, |mut b, e| {
                b.push_bind(e.tenant.to_string())
                    .push_bind(e.order.to_string())
                    .push_bind(&e.sku)
                    .push_bind(&e.warehouse)
                    .push_bind(e.effect.reserved)
                    .push_bind(e.effect.debited);
            });
            q.push(
                " ON CONFLICT (tenant_id, order_id, sku) DO UPDATE SET reserved = excluded.reserved, \
                 debited = excluded.debited",
            );
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn delete_unmapped(&mut self, orders: &[OrderStockInput]) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM unmapped_lines WHERE (tenant_id, order_id) IN \
             (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
        )
        .bind(order_pairs(orders)?)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn insert_unmapped(
        &mut self,
        lines: &[UnmappedLine],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for chunk in pow2_chunks(lines) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO unmapped_lines (tenant_id, order_id, line, channel_id, sku, product_id, variant_id, quantity, seen_at) ",
            );
            q.push_values(chunk, |mut b, l| {
                b.push_bind(l.tenant.to_string())
                    .push_bind(l.order.to_string())
                    .push_bind(i64::try_from(l.line).unwrap_or(i64::MAX))
                    .push_bind(l.channel.to_string())
                    .push_bind(&l.sku)
                    .push_bind(&l.product_id)
                    .push_bind(&l.variant_id)
                    .push_bind(l.quantity)
                    .push_bind(ts(now));
            });
            q.build().execute(&mut *self.0).await.map_err(db_err)?;
        }
        Ok(())
    }

    async fn reveal_listings(
        &mut self,
        revealed: &[RevealedListing],
        now: DateTime<Utc>,
    ) -> StoreResult<BTreeSet<SkuKey>> {
        let mut out = BTreeSet::new();
        for chunk in pow2_chunks(revealed) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO listings (tenant_id, channel_id, sku, product_id, variant_id, source, created_at) ",
            );
            q.push_values(chunk, |mut b, l| {
                b.push_bind(l.tenant.to_string())
                    .push_bind(l.channel.to_string())
                    .push_bind(&l.sku)
                    .push_bind(&l.product_id)
                    .push_bind(&l.variant_id)
                    .push_bind("order")
                    .push_bind(ts(now));
            });
            q.push(" ON CONFLICT (tenant_id, channel_id, sku) DO NOTHING RETURNING tenant_id, sku");
            out.extend(fetch(q.build(), &mut *self.0, decode_sku_key).await?);
        }
        Ok(out)
    }
}
