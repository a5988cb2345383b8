//! What orders do to stock, inside the transaction that changed them: each order's
//! effect per SKU in its channel's debit warehouse is brought to what its state asks
//! for (`ponte_core::stock::order_effect`), unknown SKUs are recorded as unmapped
//! lines, and lines with platform ids reveal listings.

use crate::codec::{id, json, pow2_chunks, ts};
use crate::db_err;
use crate::stock_marks::{apply_entries, mark_targets, Entry, SkuKey};
use chrono::{DateTime, Utc};
use ponte_core::action::Fulfilment;
use ponte_core::order::OrderData;
use ponte_core::stock::{moves, order_effect, Effect};
use ponte_core::{ChannelId, OrderId, OrderStatus, TenantId};
use ponte_store::{StoreError, StoreResult};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

struct Touched {
    tenant: TenantId,
    id: OrderId,
    channel: ChannelId,
    external_id: String,
    data: OrderData,
    fulfilment: Fulfilment,
    debit_warehouse: Option<String>,
}

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
    let keys = pairs_json(orders.iter().map(|(t, o)| (t, o)))?;
    let touched = sqlx::query(
        "SELECT o.tenant_id, o.id, o.channel_id, o.external_id, o.data, o.fulfilment, cs.debit_warehouse \
         FROM json_each(?) j JOIN orders o ON o.tenant_id = json_extract(j.value, '$[0]') AND o.id = json_extract(j.value, '$[1]') \
         JOIN channel_stock cs ON cs.tenant_id = o.tenant_id AND cs.channel_id = o.channel_id",
    )
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(Touched {
            tenant: id(r.get("tenant_id"))?,
            id: id(r.get("id"))?,
            channel: id(r.get("channel_id"))?,
            external_id: r.get("external_id"),
            data: json(r.get("data"))?,
            fulfilment: json(r.get("fulfilment"))?,
            debit_warehouse: r.get("debit_warehouse"),
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    // Orders of channels whose sales move no stock are left as they are.
    let touched: Vec<Touched> = touched
        .into_iter()
        .filter(|t| t.debit_warehouse.is_some())
        .collect();
    if touched.is_empty() {
        return Ok(());
    }
    let mentioned: BTreeSet<SkuKey> = touched
        .iter()
        .flat_map(|t| {
            t.data
                .items
                .iter()
                .filter_map(|i| i.sku.clone().map(|s| (t.tenant, s)))
        })
        .collect();
    let products: HashSet<SkuKey> = sqlx::query(
        "SELECT p.tenant_id, p.sku FROM json_each(?) j JOIN products p \
         ON p.tenant_id = json_extract(j.value, '$[0]') AND p.sku = json_extract(j.value, '$[1]')",
    )
    .bind(pairs_json(mentioned.iter().map(|(t, s)| (t, s)))?)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| Ok((id(r.get("tenant_id"))?, r.get::<String, _>("sku"))))
    .collect::<StoreResult<_>>()?;
    let ids = pairs_json(touched.iter().map(|t| (t.tenant, t.id)))?;
    let mut applied: HashMap<(OrderId, String), (String, Effect)> = HashMap::new();
    for r in sqlx::query(
        "SELECT s.order_id, s.sku, s.warehouse, s.reserved, s.debited FROM json_each(?) j JOIN order_stock s \
         ON s.tenant_id = json_extract(j.value, '$[0]') AND s.order_id = json_extract(j.value, '$[1]')",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    {
        applied.insert(
            (id(r.get("order_id"))?, r.get("sku")),
            (
                r.get("warehouse"),
                Effect {
                    reserved: r.get("reserved"),
                    debited: r.get("debited"),
                },
            ),
        );
    }

    let mut entries = vec![];
    let mut effects: Vec<(TenantId, OrderId, String, String, Effect)> = vec![];
    let mut unmapped = vec![];
    let mut revealed = vec![];
    for t in &touched {
        let cancelled = t.data.status == OrderStatus::Cancelled;
        let invoiced = t.fulfilment.invoice.is_some();
        let mut quantities: BTreeMap<String, i64> = BTreeMap::new();
        for (n, item) in t.data.items.iter().enumerate() {
            match &item.sku {
                Some(sku) if products.contains(&(t.tenant, sku.clone())) => {
                    *quantities.entry(sku.clone()).or_default() += item.quantity;
                    if let (Some(p), Some(v)) = (&item.product_id, &item.variant_id) {
                        revealed.push((t.tenant, t.channel, sku.clone(), p.clone(), v.clone()));
                    }
                }
                _ => unmapped.push((t, n, item)),
            }
        }
        let gone: Vec<String> = applied
            .keys()
            .filter(|(o, s)| *o == t.id && !quantities.contains_key(s))
            .map(|(_, s)| s.clone())
            .collect();
        for s in gone {
            quantities.insert(s, 0);
        }
        for (sku, qty) in quantities {
            let (warehouse, from) =
                applied
                    .get(&(t.id, sku.clone()))
                    .cloned()
                    .unwrap_or_else(|| {
                        (
                            t.debit_warehouse.clone().unwrap_or_default(),
                            Effect::default(),
                        )
                    });
            let to = order_effect(cancelled, invoiced, qty);
            let changes = moves(from, to);
            if changes.is_empty() {
                continue;
            }
            for change in changes {
                entries.push(Entry {
                    tenant: t.tenant,
                    sku: sku.clone(),
                    warehouse: warehouse.clone(),
                    change,
                    reason: format!("order {} {}", t.external_id, t.data.status.as_str()),
                    order: Some(t.id),
                });
            }
            effects.push((t.tenant, t.id, sku, warehouse, to));
        }
    }
    write_effects(conn, &effects).await?;
    write_unmapped(conn, &touched, &unmapped, now).await?;
    let marked = reveal_listings(conn, &revealed, now).await?;
    apply_entries(conn, &entries, now).await?;
    mark_targets(conn, &marked, None, false, now).await
}

async fn write_effects(
    conn: &mut SqliteConnection,
    effects: &[(TenantId, OrderId, String, String, Effect)],
) -> StoreResult<()> {
    for chunk in pow2_chunks(effects) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO order_stock (tenant_id, order_id, sku, warehouse, reserved, debited) ",
        );
        q.push_values(chunk, |mut b, (t, o, sku, wh, e)| {
            b.push_bind(t.to_string())
                .push_bind(o.to_string())
                .push_bind(sku)
                .push_bind(wh)
                .push_bind(e.reserved)
                .push_bind(e.debited);
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
    touched: &[Touched],
    lines: &[(&Touched, usize, &ponte_core::order::OrderItem)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM unmapped_lines WHERE (tenant_id, order_id) IN \
         (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
    )
    .bind(pairs_json(touched.iter().map(|t| (t.tenant, t.id)))?)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    for chunk in pow2_chunks(lines) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO unmapped_lines (tenant_id, order_id, line, channel_id, sku, product_id, variant_id, quantity, seen_at) ",
        );
        q.push_values(chunk, |mut b, (t, n, item)| {
            b.push_bind(t.tenant.to_string())
                .push_bind(t.id.to_string())
                .push_bind(i64::try_from(*n).unwrap_or(i64::MAX))
                .push_bind(t.channel.to_string())
                .push_bind(&item.sku)
                .push_bind(&item.product_id)
                .push_bind(&item.variant_id)
                .push_bind(item.quantity)
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
    revealed: &[(TenantId, ChannelId, String, String, String)],
    now: DateTime<Utc>,
) -> StoreResult<BTreeSet<SkuKey>> {
    let mut out = BTreeSet::new();
    for chunk in pow2_chunks(revealed) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO listings (tenant_id, channel_id, sku, product_id, variant_id, source, created_at) ",
        );
        q.push_values(chunk, |mut b, (t, c, sku, p, v)| {
            b.push_bind(t.to_string())
                .push_bind(c.to_string())
                .push_bind(sku)
                .push_bind(p)
                .push_bind(v)
                .push_bind("order")
                .push_bind(ts(now));
        });
        q.push(" ON CONFLICT (tenant_id, channel_id, sku) DO NOTHING RETURNING tenant_id, sku");
        for r in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
            out.insert((id(r.get("tenant_id"))?, r.get("sku")));
        }
    }
    Ok(out)
}
