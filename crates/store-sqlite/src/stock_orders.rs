//! What orders do to stock, inside the transaction that changed them: each order's
//! effect per SKU in its channel's debit warehouse is brought to what its state asks
//! for (`ponte_core::stock::order_effect`), unknown SKUs are recorded as unmapped
//! lines, and lines with platform ids reveal listings.

use crate::codec::{col, id, json, pow2_chunks, ts};
use crate::db_err;
use crate::stock_marks::apply_entries;
use chrono::{DateTime, Utc};
use ponte_core::action::Fulfilment;
use ponte_core::order::OrderData;
use ponte_core::stock::Effect;
use ponte_core::{OrderId, TenantId};
use ponte_store::stock_plan::{
    order_skus, plan_order_effects, AppliedEffects, OrderStockEffect, OrderStockInput,
    RevealedListing, SkuKey, UnmappedLine,
};
use ponte_store::{StoreError, StoreResult};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{BTreeSet, HashSet};

fn pairs_json<A: ToString, B: ToString>(v: impl Iterator<Item = (A, B)>) -> StoreResult<String> {
    serde_json::to_string(
        &v.map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Brings the stock effect of these orders up to date (see the module doc).
pub(crate) async fn apply_order_effects(
    conn: &mut SqliteConnection,
    orders: &[(TenantId, OrderId)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    // An order touched twice in one batch (two actions) is brought up to date once.
    let orders: BTreeSet<(TenantId, OrderId)> = orders.iter().copied().collect();
    if orders.is_empty() {
        return Ok(());
    }
    let touched = read_touched(conn, &orders).await?;
    if touched.is_empty() {
        return Ok(());
    }
    let products = read_products(conn, &order_skus(&touched)).await?;
    let applied = read_applied(conn, &touched).await?;
    let plan = plan_order_effects(&touched, &products, &applied);
    write_effects(conn, &plan.effects).await?;
    write_unmapped(conn, &touched, &plan.unmapped, now).await?;
    let marked = reveal_listings(conn, &plan.revealed, now).await?;
    apply_entries(conn, &plan.entries, &marked, now).await
}

/// The orders of these keys whose channel's sales move stock (orders of other channels
/// are left as they are).
async fn read_touched(
    conn: &mut SqliteConnection,
    keys: &BTreeSet<(TenantId, OrderId)>,
) -> StoreResult<Vec<OrderStockInput>> {
    sqlx::query(
        "SELECT o.tenant_id, o.id, o.channel_id, o.external_id, o.data, o.fulfilment, cs.debit_warehouse \
         FROM json_each(?) j JOIN orders o ON o.tenant_id = json_extract(j.value, '$[0]') AND o.id = json_extract(j.value, '$[1]') \
         JOIN channel_stock cs ON cs.tenant_id = o.tenant_id AND cs.channel_id = o.channel_id \
         WHERE cs.debit_warehouse IS NOT NULL",
    )
    .bind(pairs_json(keys.iter().map(|(t, o)| (t, o)))?)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
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
    .collect()
}

/// The SKUs among `skus` that are products.
async fn read_products(
    conn: &mut SqliteConnection,
    skus: &BTreeSet<SkuKey>,
) -> StoreResult<HashSet<SkuKey>> {
    sqlx::query(
        "SELECT p.tenant_id, p.sku FROM json_each(?) j JOIN products p \
         ON p.tenant_id = json_extract(j.value, '$[0]') AND p.sku = json_extract(j.value, '$[1]')",
    )
    .bind(pairs_json(skus.iter().map(|(t, s)| (t, s)))?)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| Ok((id(col(r, "tenant_id")?)?, col::<String>(r, "sku")?)))
    .collect()
}

/// What the touched orders do to stock now.
async fn read_applied(
    conn: &mut SqliteConnection,
    touched: &[OrderStockInput],
) -> StoreResult<AppliedEffects> {
    let mut applied = AppliedEffects::new();
    for r in sqlx::query(
        "SELECT s.order_id, s.sku, s.warehouse, s.reserved, s.debited FROM json_each(?) j JOIN order_stock s \
         ON s.tenant_id = json_extract(j.value, '$[0]') AND s.order_id = json_extract(j.value, '$[1]')",
    )
    .bind(pairs_json(touched.iter().map(|t| (t.tenant, t.order)))?)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    {
        applied.insert(
            (id(col(&r, "order_id")?)?, col(&r, "sku")?),
            (
                col(&r, "warehouse")?,
                Effect {
                    reserved: col(&r, "reserved")?,
                    debited: col(&r, "debited")?,
                },
            ),
        );
    }
    Ok(applied)
}

async fn write_effects(
    conn: &mut SqliteConnection,
    effects: &[OrderStockEffect],
) -> StoreResult<()> {
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
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// Replaces the unmapped lines of the touched orders.
async fn write_unmapped(
    conn: &mut SqliteConnection,
    touched: &[OrderStockInput],
    lines: &[UnmappedLine],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM unmapped_lines WHERE (tenant_id, order_id) IN \
         (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
    )
    .bind(pairs_json(touched.iter().map(|t| (t.tenant, t.order)))?)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
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
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// Adds the listings order lines reveal where the channel has none for the SKU; the
/// SKUs of new listings (their targets need marking).
async fn reveal_listings(
    conn: &mut SqliteConnection,
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
        for r in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
            out.insert((id(col(&r, "tenant_id")?)?, col(&r, "sku")?));
        }
    }
    Ok(out)
}
