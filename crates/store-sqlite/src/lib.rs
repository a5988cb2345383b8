//! The embedded default store: one SQLite file in WAL mode, a single writer
//! connection (so writes never contend) and a pool of readers.

mod carriers;
mod catalog;
mod channels;
mod claim;
mod codec;
mod events;
mod inbox;
mod jobs;
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
mod webhooks;

use ponte_store::{Store, StoreError};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use codec::db_err;

/// SQLite implementation of every storage trait.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The database file (its WAL is counted in the database size).
    path: PathBuf,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let store = Self::connect(path).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database file without migrating.
    pub async fn connect(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every commit is fsynced: an acknowledged delivery survives a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts.clone())
            .await
            .map_err(db_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(opts.read_only(true))
            .await
            .map_err(db_err)?;
        Ok(Self {
            writer,
            reader,
            path: path.to_owned(),
        })
    }

    /// Applies pending migrations; refuses a database newer than this binary.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let newest_known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&self.writer)
            .await
            .unwrap_or(None);
        if let Some(found) = applied.filter(|v| *v > newest_known) {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: newest_known,
            });
        }
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Database(e.to_string()))
    }

    /// Closes both pools, waiting for in-flight statements.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    /// One writer connection.
    fn single_writer(&self) -> bool {
        true
    }
}
