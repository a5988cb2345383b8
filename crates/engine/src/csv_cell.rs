//! CSV cells that a spreadsheet cannot run: platform error text lands in exports, and
//! a cell beginning with `=`, `+`, `-`, `@`, tab or carriage return would be read as a
//! formula (OWASP "CSV injection"). Such a cell is prefixed with `'`.

/// The text of one cell, neutralised.
pub(crate) fn cell(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_neutralised() {
        for bad in ["=1+1", "+55", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(cell(bad.into()), format!("'{bad}"));
        }
        for ok in ["HTTP 500: boom", "2026-12-05T00:00:00Z", "", "a=b"] {
            assert_eq!(cell(ok.into()), ok);
        }
    }
}
