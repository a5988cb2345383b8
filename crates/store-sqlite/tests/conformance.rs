//! The shared store conformance suite, on SQLite.

use ponte_store_sqlite::SqliteStore;

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let n = std::sync::atomic::AtomicU32::new(0);
    ponte_store::conformance::run_all(|| {
        let path = dir.path().join(format!(
            "db{}.sqlite",
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move {
            SqliteStore::open(&path)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    })
    .await;
}
