//! Errors of the storage layer.

/// A storage failure (cloneable: a group commit hands one failure to every caller of
/// its batch, typed).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(String),
    /// A stored value could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database schema is newer than this binary.
    #[error("database schema version {found} is newer than this binary supports ({supported})")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this binary knows.
        supported: i64,
    },
    /// A bad cursor or argument.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl StoreError {
    /// The same error met decoding a row of `table`: a `Corrupt` error names it.
    pub fn in_table(self, table: &str) -> Self {
        match self {
            Self::Corrupt(m) => Self::Corrupt(format!("table {table}, {m}")),
            other => other,
        }
    }
}
