//! Conversions between Rust values and PostgreSQL columns, and error mapping.

use chrono::{DateTime, Utc};
use ponte_store::{Page, PageRequest, StoreError, StoreResult};
use sqlx::postgres::{PgArguments, PgExecutor, PgPool, PgRow, Postgres};
use sqlx::query::Query;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

/// Maps a driver error.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_owned())
        }
        _ => StoreError::Database(e.to_string()),
    }
}

/// Reads a column; a value that does not decode is a corrupt record.
pub(crate) fn col<'r, T>(r: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    r.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Decodes a row of `table`: a `Corrupt` error names the table (and the column).
pub(crate) fn in_table<T>(table: &str, decode: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    decode().map_err(|e| e.in_table(table))
}

/// Runs `q` and decodes the row it returns, if any.
pub(crate) async fn fetch_opt<'q, 'e, T>(
    q: Query<'q, Postgres, PgArguments>,
    on: impl PgExecutor<'e>,
    decode: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let row = q.fetch_optional(on).await.map_err(db_err)?;
    row.as_ref().map(decode).transpose()
}

/// Runs `q` and decodes every row it returns.
pub(crate) async fn fetch_rows<'q, 'e, T>(
    q: Query<'q, Postgres, PgArguments>,
    on: impl PgExecutor<'e>,
    decode: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = q.fetch_all(on).await.map_err(db_err)?;
    rows.iter().map(decode).collect()
}

/// Decodes stored JSON into a typed value.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Page size bounds.
pub(crate) fn limit(l: u32) -> i64 {
    i64::from(l.clamp(1, 500))
}

/// Parses a pagination cursor (the last id of the previous page).
pub(crate) fn cursor(c: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(c).map_err(|_| StoreError::Invalid(format!("cursor {c:?}")))
}

/// Finishes `q` (whose last condition is open to ` AND ...`) as a newest-first keyset page on `id`.
pub(crate) async fn newest_first<T>(
    mut q: QueryBuilder<'_, Postgres>,
    page: &PageRequest,
    pool: &PgPool,
    decode: impl Fn(&PgRow) -> StoreResult<T>,
    id: impl Fn(&T) -> String,
) -> StoreResult<Page<T>> {
    if let Some(c) = &page.cursor {
        q.push(" AND id < ").push_bind(cursor(c)?);
    }
    let n = limit(page.limit);
    q.push(" ORDER BY id DESC LIMIT ").push_bind(n);
    let items = q
        .build()
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(decode)
        .collect::<StoreResult<Vec<_>>>()?;
    let next_cursor = (items.len() as i64 == n)
        .then(|| items.last().map(id))
        .flatten();
    Ok(Page { items, next_cursor })
}

/// A stable 64-bit key for a transaction-level advisory lock on one platform order
/// (FNV-1a over tenant, channel and external id). Stable across processes and builds,
/// so every instance locks the same key for the same order.
pub(crate) fn order_lock_key(tenant: Uuid, channel: Uuid, external_id: &str) -> i64 {
    fnv_key(&[
        tenant.as_bytes(),
        b"/",
        channel.as_bytes(),
        b"/",
        external_id.as_bytes(),
    ])
}

/// FNV-1a over byte strings, as a signed advisory-lock key.
fn fnv_key(parts: &[&[u8]]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().copied().flatten() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// A stable 64-bit key for a transaction-level advisory lock on one SKU's stock (its
/// balances, targets and listings), like [`order_lock_key`] for orders.
pub(crate) fn sku_lock_key(tenant: Uuid, sku: &str) -> i64 {
    fnv_key(&[b"sku/", tenant.as_bytes(), b"/", sku.as_bytes()])
}

/// The key of a tenant's writers of one kind of target push (`prices`, `catalog`):
/// every writer of the kind holds it.
pub(crate) fn tenant_lock_key(kind: &str, tenant: Uuid) -> i64 {
    fnv_key(&[kind.as_bytes(), b"/", tenant.as_bytes()])
}

/// The key of a tenant's whole stock: SKU writers hold it shared, work on more SKUs than
/// is reasonable to lock one by one holds it exclusive.
pub(crate) fn stock_lock_key(tenant: Uuid) -> i64 {
    fnv_key(&[b"stock/", tenant.as_bytes()])
}

/// `AND <col> >= from AND <col> < to` for a list newest first, with the id bounds the
/// period implies: without them the planner walks the primary key from the newest row
/// and filters (a week in the middle of a million rows: half a second); with them it
/// starts at the period's newest id and stops at its oldest. The bounds come from the
/// `(tenant_id, <col>, id)` index and change no result.
pub(crate) fn push_period(
    q: &mut QueryBuilder<'_, Postgres>,
    table: &str,
    col: &str,
    tenant: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    if from.is_none() && to.is_none() {
        return;
    }
    let range = |q: &mut QueryBuilder<'_, Postgres>| {
        if let Some(t) = from {
            q.push(format!(" AND {col} >= ")).push_bind(t);
        }
        if let Some(t) = to {
            q.push(format!(" AND {col} < ")).push_bind(t);
        }
    };
    range(q);
    // `max(id::text)`: PostgreSQL 15 has no `max(uuid)`, and `ORDER BY id LIMIT 1` is
    // planned along the primary key (the walk these bounds avoid). Text order is uuid
    // order (lower-case hex); the aggregate reads the period's index range only.
    for (op, agg) in [("<=", "max"), (">=", "min")] {
        q.push(format!(
            " AND id {op} (SELECT {agg}(id::text)::uuid FROM {table} WHERE tenant_id = "
        ))
        .push_bind(tenant);
        range(q);
        q.push(")");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        let t = Uuid::from_u128(1);
        let c = Uuid::from_u128(2);
        assert_eq!(order_lock_key(t, c, "42"), order_lock_key(t, c, "42"));
        assert_ne!(order_lock_key(t, c, "42"), order_lock_key(t, c, "43"));
        assert_ne!(order_lock_key(t, c, "42"), order_lock_key(c, t, "42"));
        assert_eq!(sku_lock_key(t, "S1"), sku_lock_key(t, "S1"));
        assert_ne!(sku_lock_key(t, "S1"), sku_lock_key(t, "S2"));
        assert_ne!(sku_lock_key(t, "S1"), sku_lock_key(c, "S1"));
        assert_ne!(stock_lock_key(t), stock_lock_key(c));
        assert_ne!(stock_lock_key(t), sku_lock_key(t, ""));
        assert_eq!(
            tenant_lock_key("prices", t),
            fnv_key(&[b"prices/", t.as_bytes()])
        );
    }

    #[test]
    fn order_lock_keys_did_not_change() {
        // The keys running instances take: an upgrade must keep them.
        let (t, c) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in [t.as_bytes().as_slice(), b"/", c.as_bytes(), b"/", b"42"]
            .into_iter()
            .flatten()
        {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(
            order_lock_key(t, c, "42"),
            i64::from_ne_bytes(h.to_ne_bytes())
        );
    }

    #[test]
    fn bad_cursor_is_invalid() {
        assert!(matches!(cursor("nope"), Err(StoreError::Invalid(_))));
        assert!(cursor(&Uuid::from_u128(7).to_string()).is_ok());
    }
}
