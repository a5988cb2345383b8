//! Rules a backend applies to its own rows, whatever their SQL: a stored name that no
//! longer parses is a corrupt record, and an update of a record that no row matched
//! did not find it.

use crate::{StoreError, StoreResult};

/// Parses the stored name `s` of a `what` (`"task kind"`, `"run state"`, ...) with
/// `parse`; a name it does not know is [`StoreError::Corrupt`].
pub fn parse_stored<T>(
    what: &str,
    s: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> StoreResult<T> {
    parse(s).ok_or_else(|| StoreError::Corrupt(format!("{what} {s}")))
}

/// The outcome of an update of one record by its key, from the rows it changed: none
/// is [`StoreError::NotFound`].
pub fn updated(rows: u64) -> StoreResult<()> {
    if rows == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunState;

    #[test]
    fn unknown_names_are_corrupt() {
        assert_eq!(
            parse_stored("run state", "queued", RunState::parse).ok(),
            Some(RunState::Queued)
        );
        assert!(matches!(
            parse_stored("run state", "lost", RunState::parse),
            Err(StoreError::Corrupt(m)) if m == "run state lost"
        ));
    }

    #[test]
    fn an_update_of_no_row_did_not_find_it() {
        assert!(updated(1).is_ok());
        assert!(matches!(updated(0), Err(StoreError::NotFound)));
    }
}
