//! Conversions between Rust values and SQLite columns.

use chrono::{DateTime, Utc};
use ponte_store::{Page, PageRequest, StoreError, StoreResult};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteExecutor, SqlitePool, SqliteRow};
use sqlx::{QueryBuilder, Sqlite};
use std::str::FromStr;

/// Maps a driver error.
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.message().to_owned())
        }
        _ => StoreError::Database(e.to_string()),
    }
}

/// Reads a column; a value that does not decode is a corrupt record naming the
/// column (never a panic, as `Row::get` would).
pub(crate) fn col<'r, T>(r: &'r SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    use sqlx::Row;
    r.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Decodes a row of `table`: a `Corrupt` error names the table (and the column).
pub(crate) fn in_table<T>(table: &str, decode: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    decode().map_err(|e| e.in_table(table))
}

/// Runs `q` and decodes the row it returns, if any.
pub(crate) async fn fetch_opt<'q, 'e, T>(
    q: Query<'q, Sqlite, SqliteArguments<'q>>,
    on: impl SqliteExecutor<'e>,
    decode: impl Fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let row = q.fetch_optional(on).await.map_err(db_err)?;
    row.as_ref().map(decode).transpose()
}

/// Runs `q` and decodes every row it returns.
pub(crate) async fn fetch_rows<'q, 'e, T>(
    q: Query<'q, Sqlite, SqliteArguments<'q>>,
    on: impl SqliteExecutor<'e>,
    decode: impl Fn(&SqliteRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = q.fetch_all(on).await.map_err(db_err)?;
    rows.iter().map(decode).collect()
}

/// A timestamp as unix microseconds.
pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Unix microseconds back to a timestamp.
pub(crate) fn from_ts(v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| StoreError::Corrupt(format!("timestamp {v}")))
}

/// Optional timestamp.
pub(crate) fn from_opt_ts(v: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    v.map(from_ts).transpose()
}

/// Parses a stored id.
pub(crate) fn id<T: FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {s}")))
}

/// Parses stored JSON.
pub(crate) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `columns` (a comma-separated list) read from the table aliased `alias`, each under
/// its own name.
pub(crate) fn qualified(columns: &str, alias: &str) -> String {
    let cols: Vec<String> = columns
        .split(',')
        .map(|c| format!("{alias}.{0} AS {0}", c.trim()))
        .collect();
    cols.join(", ")
}

/// Keeps JSON text as it is (checked, not parsed into a tree).
pub(crate) fn raw_json(s: String) -> Result<Box<serde_json::value::RawValue>, StoreError> {
    serde_json::value::RawValue::from_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Serialises to JSON text.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Page size bounds.
pub(crate) fn limit(l: u32) -> i64 {
    i64::from(l.clamp(1, 500))
}

/// Finishes `q` (whose last condition is open to ` AND ...`) as a newest-first keyset page on `id`.
pub(crate) async fn newest_first<T>(
    mut q: QueryBuilder<'_, Sqlite>,
    page: &PageRequest,
    pool: &SqlitePool,
    decode: impl Fn(&SqliteRow) -> StoreResult<T>,
    id: impl Fn(&T) -> String,
) -> StoreResult<Page<T>> {
    if let Some(c) = &page.cursor {
        q.push(" AND id < ").push_bind(c.clone());
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

/// Splits rows for multi-row statements into power-of-two chunks (at most 512), so
/// that only a handful of distinct SQL texts exist and all stay prepared in the
/// statement cache instead of being parsed again for every batch size.
pub(crate) fn pow2_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = rows.len().min(512);
        let size = 1 << (usize::BITS - 1 - n.leading_zeros());
        let (head, tail) = rows.split_at(size);
        rows = tail;
        Some(head)
    })
}

/// `AND <col> >= from AND <col> < to` for a list newest first, with the id bounds the
/// period implies: without them the planner walks the primary key from the newest row
/// and filters (a week in the middle of a million rows: seconds); with them it starts
/// at the period's newest id and stops at its oldest. The bounds come from the
/// `(tenant_id, <col>, id)` index and change no result.
pub(crate) fn push_period(
    q: &mut QueryBuilder<'_, Sqlite>,
    table: &str,
    col: &str,
    tenant: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    if from.is_none() && to.is_none() {
        return;
    }
    let range = |q: &mut QueryBuilder<'_, Sqlite>| {
        if let Some(t) = from {
            q.push(format!(" AND {col} >= ")).push_bind(ts(t));
        }
        if let Some(t) = to {
            q.push(format!(" AND {col} < ")).push_bind(ts(t));
        }
    };
    range(q);
    for (op, agg) in [("<=", "max"), (">=", "min")] {
        q.push(format!(
            " AND id {op} (SELECT {agg}(id) FROM {table} WHERE tenant_id = "
        ))
        .push_bind(tenant.to_owned());
        range(q);
        q.push(")");
    }
}

#[cfg(test)]
mod tests {
    use super::pow2_chunks;

    #[test]
    fn chunks_are_powers_of_two_covering_everything() {
        for n in 0..1500usize {
            let v: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = pow2_chunks(&v).collect();
            assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), n);
            assert!(chunks
                .iter()
                .all(|c| c.len().is_power_of_two() && c.len() <= 512));
            assert_eq!(chunks.concat(), v);
        }
    }
}
