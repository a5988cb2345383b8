//! Choosing the storage backend: the embedded SQLite file in the data directory by
//! default, PostgreSQL when a database URL is configured.

use crate::config::Config;
use anyhow::{bail, Context};
use ponte_store::Store;
use ponte_store_pg::PgStore;
use ponte_store_sqlite::SqliteStore;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

/// An open, migrated store.
pub enum Backend {
    /// Embedded; `File` holds the data directory's lock while the store is open.
    Sqlite(Arc<SqliteStore>, File),
    /// Shared by any number of instances.
    Postgres(Arc<PgStore>),
}

impl Backend {
    /// Opens and migrates the configured backend. PostgreSQL is retried for
    /// `database_connect_timeout_secs` before giving up, so a server started before
    /// its database does not crash in a loop.
    pub async fn open(config: &Config) -> anyhow::Result<Backend> {
        match config.database_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let wait = Duration::from_secs(config.database_connect_timeout_secs);
                let store = PgStore::connect_with_retry(url, config.database_max_connections, wait)
                    .await
                    .context("connecting to PostgreSQL")?;
                store.migrate().await.context("migrating PostgreSQL")?;
                Ok(Backend::Postgres(Arc::new(store)))
            }
            Some(other) => bail!(
                "unsupported database URL `{}`: use postgres://... or leave it unset for the embedded database",
                other.split(':').next().unwrap_or_default()
            ),
            None => open_sqlite(config).await,
        }
    }

    /// The store behind the traits.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(s, _) => s.clone(),
            Backend::Postgres(s) => s.clone(),
        }
    }

    /// Backend name.
    pub fn name(&self) -> &'static str {
        self.store().backend()
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match self {
            Backend::Sqlite(s, _) => s.close().await,
            Backend::Postgres(s) => s.close().await,
        }
    }
}

/// Opens the embedded store in the data directory, holding its lock: one process per
/// data directory (SQLite has one writer; scale out with PostgreSQL).
async fn open_sqlite(config: &Config) -> anyhow::Result<Backend> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let lock_path = config.data_dir.join("ponte.lock");
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "another ponte is already using {} (one process per data directory; scale out with PostgreSQL)",
            config.data_dir.display()
        );
    }
    let store = SqliteStore::open(&config.data_dir.join("ponte.db"))
        .await
        .context("opening the embedded database")?;
    Ok(Backend::Sqlite(Arc::new(store), lock))
}
