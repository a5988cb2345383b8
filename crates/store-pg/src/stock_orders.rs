//! What orders do to stock, inside the transaction that changed them: the primitives
//! of `ponte_store::stock_orders`, whose sequence brings each order's effect per SKU
//! up to date.
//!
//! The caller holds the orders' advisory locks (imports and actions take them; so does
//! a new product for the orders waiting for it): an order's data, effects and unmapped
//! lines only change under its lock, so they are read before the SKU locks, which are
//! taken next (see `stock_marks`), before anything they protect is read.

use crate::codec::{col, from_json};
use crate::db_err;
use crate::stock::{decode_effect, fetch};
use crate::stock_marks::PgTx;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, OrderId, TenantId};
use ponte_store::stock_orders::OrderStockTx;
use ponte_store::stock_plan::{
    AppliedEffects, OrderStockEffect, OrderStockInput, RevealedListing, SkuKey, UnmappedLine,
};
use ponte_store::StoreResult;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashSet};
use uuid::Uuid;

/// Brings the stock effect of these orders up to date (see the module doc).
pub(crate) async fn apply_order_effects(
    conn: &mut PgConnection,
    orders: &[(TenantId, OrderId)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    ponte_store::stock_orders::apply_order_effects(&mut PgTx(conn), orders, &[], now).await
}

/// A (tenant, SKU) from the columns `tenant_id` and `sku`.
fn decode_sku_key(r: &PgRow) -> StoreResult<SkuKey> {
    Ok((TenantId(col(r, "tenant_id")?), col(r, "sku")?))
}

#[async_trait]
impl OrderStockTx for PgTx<'_> {
    /// In key order.
    async fn read_orders(
        &mut self,
        keys: &BTreeSet<(TenantId, OrderId)>,
    ) -> StoreResult<Vec<OrderStockInput>> {
        let (tenants, ids): (Vec<Uuid>, Vec<Uuid>) = keys.iter().map(|(t, o)| (t.0, o.0)).unzip();
        let q = sqlx::query(
            "SELECT o.tenant_id, o.id, o.channel_id, o.external_id, o.data, o.fulfilment, cs.debit_warehouse \
             FROM UNNEST($1::uuid[], $2::uuid[]) AS k (t, i) \
             JOIN orders o ON o.tenant_id = k.t AND o.id = k.i \
             JOIN channel_stock cs ON cs.tenant_id = o.tenant_id AND cs.channel_id = o.channel_id \
             WHERE cs.debit_warehouse IS NOT NULL \
             ORDER BY o.tenant_id, o.id",
        )
        .bind(tenants)
        .bind(ids);
        fetch(q, &mut *self.0, |r| {
            Ok(OrderStockInput::new(
                TenantId(col(r, "tenant_id")?),
                OrderId(col(r, "id")?),
                ChannelId(col(r, "channel_id")?),
                col(r, "external_id")?,
                from_json(col(r, "data")?)?,
                &from_json(col(r, "fulfilment")?)?,
                col(r, "debit_warehouse")?,
            ))
        })
        .await
    }

    async fn read_applied(&mut self, orders: &[OrderStockInput]) -> StoreResult<AppliedEffects> {
        let q = sqlx::query(
            "SELECT s.order_id, s.sku, s.warehouse, s.reserved, s.debited \
             FROM UNNEST($1::uuid[], $2::uuid[]) AS k (t, i) \
             JOIN order_stock s ON s.tenant_id = k.t AND s.order_id = k.i",
        )
        .bind(orders.iter().map(|o| o.tenant.0).collect::<Vec<_>>())
        .bind(orders.iter().map(|o| o.order.0).collect::<Vec<_>>());
        let rows = fetch(q, &mut *self.0, |r| {
            let key = (OrderId(col(r, "order_id")?), col(r, "sku")?);
            Ok((key, (col(r, "warehouse")?, decode_effect(r)?)))
        })
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn read_products(&mut self, skus: &BTreeSet<SkuKey>) -> StoreResult<HashSet<SkuKey>> {
        let q = sqlx::query(
            "SELECT p.tenant_id, p.sku FROM UNNEST($1::uuid[], $2::text[]) AS k (t, sku) \
             JOIN products p ON p.tenant_id = k.t AND p.sku = k.sku",
        )
        .bind(skus.iter().map(|k| k.0 .0).collect::<Vec<_>>())
        .bind(skus.iter().map(|k| k.1.as_str()).collect::<Vec<_>>());
        let rows = fetch(q, &mut *self.0, decode_sku_key).await?;
        Ok(rows.into_iter().collect())
    }

    async fn write_effects(&mut self, effects: &[OrderStockEffect]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO order_stock (tenant_id, order_id, sku, warehouse, reserved, debited) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) \
             ON CONFLICT (tenant_id, order_id, sku) DO UPDATE SET reserved = EXCLUDED.reserved, \
               debited = EXCLUDED.debited",
        )
        .bind(effects.iter().map(|e| e.tenant.0).collect::<Vec<_>>())
        .bind(effects.iter().map(|e| e.order.0).collect::<Vec<_>>())
        .bind(effects.iter().map(|e| e.sku.as_str()).collect::<Vec<_>>())
        .bind(effects.iter().map(|e| e.warehouse.as_str()).collect::<Vec<_>>())
        .bind(effects.iter().map(|e| e.effect.reserved).collect::<Vec<_>>())
        .bind(effects.iter().map(|e| e.effect.debited).collect::<Vec<_>>())
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete_unmapped(&mut self, orders: &[OrderStockInput]) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM unmapped_lines u USING UNNEST($1::uuid[], $2::uuid[]) AS k (t, i) \
             WHERE u.tenant_id = k.t AND u.order_id = k.i",
        )
        .bind(orders.iter().map(|o| o.tenant.0).collect::<Vec<_>>())
        .bind(orders.iter().map(|o| o.order.0).collect::<Vec<_>>())
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
        sqlx::query(
            "INSERT INTO unmapped_lines (tenant_id, order_id, line, channel_id, sku, product_id, variant_id, quantity, seen_at) \
             SELECT t, o, n, c, sku, p, v, q, $9 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::integer[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::bigint[]) \
               AS u (t, o, n, c, sku, p, v, q)",
        )
        .bind(lines.iter().map(|l| l.tenant.0).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.order.0).collect::<Vec<_>>())
        .bind(
            lines
                .iter()
                .map(|l| i32::try_from(l.line).unwrap_or(i32::MAX))
                .collect::<Vec<_>>(),
        )
        .bind(lines.iter().map(|l| l.channel.0).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.sku.as_deref()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.product_id.as_deref()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.variant_id.as_deref()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut *self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn reveal_listings(
        &mut self,
        rows: &[RevealedListing],
        now: DateTime<Utc>,
    ) -> StoreResult<BTreeSet<SkuKey>> {
        let q = sqlx::query(
            "INSERT INTO listings (tenant_id, channel_id, sku, product_id, variant_id, source, created_at) \
             SELECT t, c, sku, p, v, 'order', $6 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[]) AS u (t, c, sku, p, v) \
             ON CONFLICT (tenant_id, channel_id, sku) DO NOTHING RETURNING tenant_id, sku",
        )
        .bind(rows.iter().map(|r| r.tenant.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.channel.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.sku.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.product_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.variant_id.as_str()).collect::<Vec<_>>())
        .bind(now);
        let rows = fetch(q, &mut *self.0, decode_sku_key).await?;
        Ok(rows.into_iter().collect())
    }
}
