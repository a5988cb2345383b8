//! Conversions between Rust values and PostgreSQL columns, and error mapping.

use ponte_store::StoreError;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::Row;
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

/// Whether a driver error is a unique violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Reads a column; a value that does not decode is a corrupt record.
pub(crate) fn col<'r, T>(r: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    r.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
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

/// A stable 64-bit key for a transaction-level advisory lock on one platform order
/// (FNV-1a over tenant, channel and external id). Stable across processes and builds,
/// so every instance locks the same key for the same order.
pub(crate) fn order_lock_key(tenant: Uuid, channel: Uuid, external_id: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts: [&[u8]; 5] = [
        tenant.as_bytes(),
        b"/",
        channel.as_bytes(),
        b"/",
        external_id.as_bytes(),
    ];
    for b in parts.into_iter().flatten() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
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
    }

    #[test]
    fn bad_cursor_is_invalid() {
        assert!(matches!(cursor("nope"), Err(StoreError::Invalid(_))));
        assert!(cursor(&Uuid::from_u128(7).to_string()).is_ok());
    }
}
