//! ponte's PostgreSQL store: the same storage traits and semantics as the SQLite
//! store, for several instances sharing one database. Jobs are claimed with
//! `FOR UPDATE SKIP LOCKED` and workers are woken with LISTEN/NOTIFY
//! ([`PgStore::job_listener`]).

mod carriers;
mod catalog;
mod channels;
mod claim;
mod codec;
mod connect;
mod events;
mod inbox;
mod jobs;
mod listen;
mod mappings;
mod orders;
mod people;
mod price_tx;
mod prices;
mod rate_limits;
mod retention;
mod sends;
mod sends_apply;
mod sends_begin;
mod sends_finish;
mod sends_list;
mod stock;
mod stock_marks;
mod stock_orders;
mod stock_push;
mod target_push;
mod tasks;
mod tenants;
mod tickets;
mod timeline;
mod webhook_rounds;
mod webhooks;

pub use listen::{JobWakes, JobsAdded};
use ponte_store::{Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPool};

pub(crate) use codec::db_err;

/// PostgreSQL implementation of every storage trait. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Kept to open the listener's own connection.
    options: PgConnectOptions,
    /// This handle's id: its connections' job notifications carry it, so that its own
    /// listener skips them (its engine wakes its own workers in process).
    id: uuid::Uuid,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl PgStore {
    /// The newest migration this binary knows.
    fn newest_known_migration() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Applies pending migrations; refuses a database whose newest applied migration is
    /// newer than this binary's ([`StoreError::SchemaTooNew`]).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let supported = Self::newest_known_migration();
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        if has_table {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_err)?;
            if let Some(found) = applied.filter(|v| *v > supported) {
                return Err(StoreError::SchemaTooNew { found, supported });
            }
        }
        // sqlx takes an advisory lock, so instances starting together migrate once.
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Database(e.to_string()))
    }

    /// Closes the pool, waiting for in-flight statements; job listeners stop too.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn single_writer(&self) -> bool {
        false
    }
}
