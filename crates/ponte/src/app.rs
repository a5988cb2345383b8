//! Starting and stopping the whole application on a given listener.

use crate::config::Config;
use anyhow::{bail, Context};
use ponte_core::SystemClock;
use ponte_engine::{Cipher, Engine, EngineConfig, MasterKey, TokenSetup, Workers};
use ponte_store::JobStore;
use ponte_store_sqlite::SqliteStore;
use std::fs::File;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Opens the embedded store in the data directory, holding its lock: one process per
/// data directory (SQLite has one writer; scale out with PostgreSQL).
pub async fn open_store(config: &Config) -> anyhow::Result<(SqliteStore, File)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let lock_path = config.data_dir.join("ponte.lock");
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        bail!(
            "another ponte is already using {} (one process per data directory)",
            config.data_dir.display()
        );
    }
    let store = SqliteStore::open(&config.data_dir.join("ponte.db"))
        .await
        .context("opening the embedded database")?;
    Ok((store, lock))
}

/// Runs ponte on `listener` until `shutdown` resolves, then stops gracefully: no new
/// requests, every accepted webhook committed, workers finish their batch and give
/// back their leases.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (store, _lock) = open_store(&config).await?;
    // One process owns this database: whatever a previous (killed) process held is ours to redo.
    let released = store.release_leases(None).await?;
    if released > 0 {
        tracing::info!(
            jobs = released,
            "resuming jobs left running by a previous process"
        );
    }
    let key = match &config.master_key {
        Some(k) => MasterKey::parse(k)?,
        None => MasterKey::load_or_create(&config.data_dir.join("master.key"))
            .context("reading the master key")?,
    };
    let addr = listener.local_addr()?;
    let engine_config = EngineConfig {
        public_url: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
        workers: config.workers,
        ..EngineConfig::default()
    };
    let store = Arc::new(store);
    let engine = Engine::new(
        store.clone(),
        Arc::new(SystemClock),
        Cipher::new(&key),
        engine_config,
    )
    .await?;
    let token = match &config.api_token {
        Some(t) => TokenSetup::Given(t.clone()),
        None => TokenSetup::GenerateInto(config.data_dir.join("api-token")),
    };
    if let Some(path) = engine.setup_token(&token).await? {
        println!(
            "API token generated and written to {} (shown once; keep it safe)",
            path.display()
        );
    }
    let workers = Workers::start(engine.clone());
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "ponte listening");
    println!("ponte listening on http://{addr}");
    axum::serve(listener, ponte_api::router(engine.clone()))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("shutting down: committing accepted webhooks");
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let stopped = async {
        engine.drain_ingest().await;
        workers.stop().await;
    };
    if tokio::time::timeout(grace, stopped).await.is_err() {
        tracing::warn!(
            "workers did not stop in time; their jobs return to the queue on the next start"
        );
    }
    store.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
