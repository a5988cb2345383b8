//! The shared store conformance suite on PostgreSQL: one test per scenario, each on a
//! scratch database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

/// A store on a new, migrated database, dropped with the guard.
async fn fresh() -> (common::Databases, ponte_store_pg::PgStore) {
    let dbs = common::Databases::default();
    let store = dbs.store().await;
    (dbs, store)
}

ponte_store::conformance_tests!(fresh);
