//! The shared store conformance suite, on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let dbs = common::Databases::default();
    ponte_store::conformance::run_all(|| dbs.store()).await;
}
