//! The shared store conformance suite on SQLite: one test per scenario.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ponte_store_sqlite::SqliteStore;

/// A fresh store in its own temporary directory (kept for the test's duration).
async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ponte.db"))
        .await
        .unwrap();
    (dir, store)
}

ponte_store::conformance_tests!(fresh);
