//! Starting and stopping the whole application on a given listener.

use crate::backend::Backend;
use crate::config::Config;
use anyhow::{bail, Context};
use ponte_core::retry::RetryPolicy;
use ponte_core::webhook_schedule::WebhookSchedule;
use ponte_core::SystemClock;
use ponte_engine::{
    hash_token, verify_master_key, Cipher, Engine, EngineConfig, MasterKey, TokenSetup, Workers,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Least time between two wakes of the worker loops by PostgreSQL notifications.
const LISTENED_WAKE_SPACING: Duration = Duration::from_millis(20);

/// Runs ponte on `listener` until `shutdown` resolves, then stops gracefully: no new
/// requests, every accepted webhook committed, workers finish their batch and give
/// back their leases.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let metrics_listener =
        match config.metrics_listen {
            Some(at) => Some(TcpListener::bind(at).await.with_context(|| {
                format!("listening for /metrics on {at} (PONTE_METRICS_LISTEN)")
            })?),
            None => None,
        };
    let time_zone: chrono_tz::Tz = config.time_zone.parse().map_err(|_| {
        anyhow::anyhow!("PONTE_TIME_ZONE: unknown time zone `{}`", config.time_zone)
    })?;
    let Opened {
        backend,
        engine,
        key,
    } = open(&config, &format!("http://{addr}")).await?;
    if let Backend::Sqlite(..) = backend {
        // One process serves this database: whatever a previous (killed) process held is
        // ours to redo.
        let released = engine.store().release_leases(None).await?;
        if released > 0 {
            tracing::info!(
                jobs = released,
                "resuming jobs left running by a previous process"
            );
        }
    }
    if let Backend::Postgres(pg) = &backend {
        // New jobs wake the loops that run their kinds (polling stays the fallback):
        // other instances' jobs, and this one's of kinds its engine did not wake for.
        // Wakes are spaced out, so a stream of commits does not make every loop look
        // for jobs after each one.
        let mut rx = pg.job_listener().await?;
        let engine = engine.clone();
        tokio::spawn(async move {
            while let Some(added) = rx.recv().await {
                engine.wake_for(
                    added.kinds.iter().map(String::as_str),
                    added.own_kinds.iter().map(String::as_str),
                    added.any,
                );
                tokio::time::sleep(LISTENED_WAKE_SPACING).await;
            }
        });
    }
    let token = match &config.api_token {
        Some(t) => TokenSetup::Given(t.clone()),
        None => TokenSetup::GenerateInto(config.data_dir.join("api-token")),
    };
    if let Some(path) = engine.setup_token(&token).await? {
        // Shown once, on the terminal only (never logged): the console signs in with it.
        let token = std::fs::read_to_string(&path).unwrap_or_default();
        println!(
            "API token (shown once; also written to {}): {}",
            path.display(),
            token.trim()
        );
    }
    engine.ensure_all_tasks().await?;
    let workers = Workers::start(engine.clone());
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let metrics_server = match metrics_listener {
        Some(l) => {
            let at = l.local_addr()?;
            tracing::info!(%at, "metrics listening");
            println!("ponte metrics listening on http://{at}");
            let router = ponte_api::metrics_router(engine.clone());
            Some(tokio::spawn(async move {
                axum::serve(l, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            }))
        }
        None => None,
    };
    let api = if metrics_server.is_some() {
        ponte_api::router_without_metrics(engine.clone())
    } else {
        ponte_api::router(engine.clone())
    };
    let console = ponte_console::router(
        engine.clone(),
        ponte_console::ConsoleConfig {
            session_key: key.derive("console sessions"),
            secure_cookies: config
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            time_zone,
        },
    )?;
    let router = console.merge(api);
    tracing::info!(%addr, backend = backend.name(), "ponte listening");
    println!("ponte listening on http://{addr}");
    println!("console: http://{addr}/console");
    // The peer address reaches handlers (the console limits failed sign-ins per address).
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping.send(true);
        })
        .await?;
    if let Some(server) = metrics_server {
        server.await??;
    }
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
    backend.close().await;
    Ok(())
}

/// A backend and the engine over it, with the master key.
pub struct Opened {
    /// The database.
    pub backend: Backend,
    /// The engine (workers not started).
    pub engine: Arc<Engine>,
    /// The master key.
    pub key: MasterKey,
}

/// Opens the database (migrating it), checks the master key and builds the engine:
/// what `serve` and the administration commands share. `default_public_url` is the
/// base URL used when `PONTE_PUBLIC_URL` is unset.
pub async fn open(config: &Config, default_public_url: &str) -> anyhow::Result<Opened> {
    let backend = Backend::open(config).await?;
    let store = backend.store();
    let key = match (&config.master_key, &backend) {
        (Some(k), _) => MasterKey::parse(k).context("PONTE_MASTER_KEY")?,
        (None, Backend::Postgres(_)) => bail!(
            "PONTE_MASTER_KEY is required with PostgreSQL: every instance encrypts and reads \
             the channels' credentials with it, so all must be given the same key \
             (32 bytes, base64 or hex)"
        ),
        (None, Backend::Sqlite(..)) => {
            MasterKey::load_or_create(&config.data_dir.join("master.key"))
                .context("reading the master key")?
        }
    };
    verify_master_key(store.as_ref(), &key).await?;
    let engine_config = EngineConfig {
        public_url: config
            .public_url
            .clone()
            .unwrap_or_else(|| default_public_url.to_owned()),
        public_url_set: config.public_url.is_some(),
        workers: config.workers,
        lease: Duration::from_secs(config.job_lease_secs.max(1)),
        import_retry: RetryPolicy {
            base: Duration::from_millis(config.import_retry_base_ms),
            ..RetryPolicy::default()
        },
        send_retry: RetryPolicy {
            base: Duration::from_millis(config.send_retry_base_ms),
            ..RetryPolicy::default()
        },
        platform_timeout: Duration::from_millis(config.platform_timeout_ms),
        webhook_schedule: WebhookSchedule::default().compressed(config.webhook_retry_divisor),
        webhook_timeout: Duration::from_millis(config.webhook_timeout_ms.max(1)),
        webhook_concurrency: config.webhook_concurrency.max(1),
        allow_private_networks: config.allow_private_networks,
        min_task_interval: Duration::from_secs(config.min_task_interval_seconds),
        poll_overlap: Duration::from_secs(config.poll_overlap_seconds),
        retention_days: config.retention_days,
        retention_sweep: (config.retention_sweep_secs > 0)
            .then(|| Duration::from_secs(config.retention_sweep_secs)),
        figures_every: Duration::from_millis(config.metrics_refresh_ms),
        admin_token_hash: match config.admin_token.as_deref() {
            Some(t) if t.len() < 16 => bail!("PONTE_ADMIN_TOKEN must be at least 16 characters"),
            Some(t) => Some(hash_token(t)),
            None => None,
        },
        ..EngineConfig::default()
    };
    let engine = Engine::new(
        store,
        Arc::new(SystemClock),
        Cipher::new(&key),
        engine_config,
    )
    .await?;
    Ok(Opened {
        backend,
        engine,
        key,
    })
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
