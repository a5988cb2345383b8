//! Checking a status table (DE-PARA) a merchant edits: every row names values its
//! platform has and a ponte status that exists, or it is refused with the row named.

use crate::status::OrderStatus;
use crate::status_rules::StatusRule;
use serde::Deserialize;
use std::str::FromStr;

/// The values each platform status field takes, as the connector documents them. An
/// empty list means the platform has no such field: a row may not set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusVocabulary {
    /// Order `status` values.
    pub status: &'static [&'static str],
    /// `payment_status` values.
    pub payment_status: &'static [&'static str],
    /// `shipping_status` values.
    pub shipping_status: &'static [&'static str],
}

/// The platform values of the first `N` rows of a connector's `(value, ponte status)`
/// table (all of them: `N` is its length), in order: the vocabulary of one status
/// field (`const`, for [`StatusVocabulary`]).
pub const fn names<const N: usize>(table: &[(&'static str, OrderStatus)]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = table[i].0;
        i += 1;
    }
    names
}

/// A refused row of a DE-PARA table, named by its position (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("row {row}: {message}")]
pub struct RowError {
    /// Position of the row, from 1.
    pub row: usize,
    /// What is wrong with it.
    pub message: String,
}

impl RowError {
    /// A refusal of row `row` (1-based).
    pub fn new(row: usize, message: impl Into<String>) -> RowError {
        RowError {
            row,
            message: message.into(),
        }
    }
}

/// A row as sent, before its values are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowIn {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_status: Option<String>,
    #[serde(default)]
    shipping_status: Option<String>,
    to: String,
}

/// Reads and checks a status table sent as a JSON array of rows: each platform field
/// set must be one of `vocab`'s values, `to` a ponte status. The first bad row is
/// named.
pub fn check_status_rows(
    rows: &serde_json::Value,
    vocab: &StatusVocabulary,
) -> Result<Vec<StatusRule>, RowError> {
    let list = rows
        .as_array()
        .ok_or_else(|| RowError::new(0, "the table must be a list of rows"))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| check_row(i + 1, v, vocab))
        .collect()
}

fn check_row(
    n: usize,
    v: &serde_json::Value,
    vocab: &StatusVocabulary,
) -> Result<StatusRule, RowError> {
    let row = RowIn::deserialize(v).map_err(|e| RowError::new(n, e.to_string()))?;
    let to = OrderStatus::from_str(&row.to).map_err(|_| {
        RowError::new(
            n,
            format!(
                "`{}` is not a ponte status (one of: {})",
                row.to,
                OrderStatus::ALL.map(OrderStatus::as_str).join(", ")
            ),
        )
    })?;
    for (field, value, known) in [
        ("status", &row.status, vocab.status),
        ("payment_status", &row.payment_status, vocab.payment_status),
        (
            "shipping_status",
            &row.shipping_status,
            vocab.shipping_status,
        ),
    ] {
        let Some(value) = value else { continue };
        if known.is_empty() {
            return Err(RowError::new(
                n,
                format!("the platform has no `{field}` field"),
            ));
        }
        if !known.contains(&value.as_str()) {
            return Err(RowError::new(
                n,
                format!(
                    "`{value}` is not a platform {field} (one of: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(StatusRule {
        status: row.status,
        payment_status: row.payment_status,
        shipping_status: row.shipping_status,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VOCAB: StatusVocabulary = StatusVocabulary {
        status: &["open", "cancelled"],
        payment_status: &["paid", "pending"],
        shipping_status: &[],
    };

    #[test]
    fn good_rows_are_read_in_order() {
        let rows = json!([
            {"status": "cancelled", "to": "cancelled"},
            {"payment_status": "paid", "to": "approved"},
            {"to": "awaiting_payment"}
        ]);
        let t = check_status_rows(&rows, &VOCAB).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].to, OrderStatus::Approved);
    }

    #[test]
    fn bad_rows_are_named() {
        let bad = |rows: serde_json::Value| check_status_rows(&rows, &VOCAB).unwrap_err();
        let e = bad(
            json!([{"status": "open", "to": "approved"}, {"status": "lost", "to": "approved"}]),
        );
        assert_eq!(e.row, 2);
        assert!(e.message.contains("`lost` is not a platform status"), "{e}");
        let e = bad(json!([{"status": "open", "to": "paid"}]));
        assert_eq!(e.row, 1);
        assert!(e.message.contains("`paid` is not a ponte status"), "{e}");
        let e = bad(json!([{"shipping_status": "shipped", "to": "shipped"}]));
        assert!(e.message.contains("no `shipping_status`"), "{e}");
        let e = bad(json!([{"state": "open", "to": "approved"}]));
        assert!(e.message.contains("unknown field"), "{e}");
        assert_eq!(bad(json!({"to": "approved"})).row, 0);
    }
}
