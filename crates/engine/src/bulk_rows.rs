//! Refusing a bulk of rows (stock movements, prices, product data): the first problem
//! found names its rows, the first ten of them.

use crate::stock::StockError;
use crate::EngineError;
use ponte_core::ErrorCode;
use std::collections::BTreeMap;
use std::fmt::Display;

/// The rows of a refusal as text: the first ten, the rest counted.
pub(crate) fn rows_text<'a>(rows: impl ExactSizeIterator<Item = (usize, &'a str)>) -> String {
    let n = rows.len();
    let shown: Vec<String> = rows
        .take(10)
        .map(|(i, sku)| format!("row {i}: `{sku}`"))
        .collect();
    match n.saturating_sub(10) {
        0 => shown.join(", "),
        more => format!("{} (and {more} more)", shown.join(", ")),
    }
}

/// The rows of a refusal as the store names them (index and value), as text.
pub(crate) fn named_rows_text(rows: &[(usize, String)]) -> String {
    rows_text(rows.iter().map(|(i, s)| (*i, s.as_str())))
}

/// Refuses a bulk with the first problem found (in the problems' order), naming its
/// rows: each row's index, SKU and check.
pub(crate) fn check_rows<'a, P: Ord + Display>(
    rows: impl Iterator<Item = (usize, &'a str, Result<(), P>)>,
    code: impl Fn(&P) -> ErrorCode,
) -> Result<(), EngineError> {
    let mut problems: BTreeMap<P, Vec<(usize, &str)>> = BTreeMap::new();
    for (i, sku, checked) in rows {
        if let Err(p) = checked {
            problems.entry(p).or_default().push((i, sku));
        }
    }
    match problems.into_iter().next() {
        None => Ok(()),
        Some((problem, at)) => Err(EngineError::Refused(
            code(&problem),
            format!("{problem}: {}", rows_text(at.into_iter())),
        )),
    }
}

/// A bulk the store wrote, or its refusal naming the rows whose SKUs are not products.
pub(crate) fn written<T>(out: Result<T, Vec<(usize, String)>>) -> Result<T, EngineError> {
    out.map_err(|unknown| StockError::UnknownSku(named_rows_text(&unknown)).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_show_ten_rows_and_count_the_rest() {
        let rows: Vec<(usize, &str)> = (0..12).map(|i| (i, "S")).collect();
        let text = rows_text(rows.into_iter());
        assert!(text.starts_with("row 0: `S`"));
        assert!(text.ends_with("(and 2 more)"), "{text}");
        assert_eq!(named_rows_text(&[(3, "W".into())]), "row 3: `W`");
    }
}
