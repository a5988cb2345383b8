//! Connecting: clear errors for the usual failures, and a retry loop for a database
//! that starts after ponte (containers, restarts).

use crate::PgStore;
use ponte_store::StoreError;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::Connection;
use std::time::Duration;
use tokio::time::Instant;

/// Pause between connection attempts in [`PgStore::connect_with_retry`].
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a statement waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed connection attempt.
struct Failure {
    error: StoreError,
    /// The server may become reachable later (down, starting, overloaded).
    retryable: bool,
}

impl PgStore {
    /// Connects a pool of up to `max_connections` to `url` (a `postgres://` URL),
    /// without migrating. One connection is opened first, so an unreachable server or
    /// bad credentials fail here with a clear [`StoreError::Database`] message.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::try_connect(url, max_connections, CONNECT_TIMEOUT)
            .await
            .map_err(|f| f.error)
    }

    /// Like [`PgStore::connect`], but retries every second while the server is
    /// unreachable or starting, until `give_up_after` has passed; each failure is
    /// logged (never the password). Errors that waiting cannot fix (authentication,
    /// a missing database, a bad URL) are returned at once.
    pub async fn connect_with_retry(
        url: &str,
        max_connections: u32,
        give_up_after: Duration,
    ) -> Result<Self, StoreError> {
        // Measured from the start, so that no `give_up_after` can overflow an instant.
        let started = Instant::now();
        let mut attempt: u32 = 1;
        loop {
            let left = give_up_after.saturating_sub(started.elapsed());
            let timeout = left.clamp(RETRY_EVERY, CONNECT_TIMEOUT);
            let failure = match Self::try_connect(url, max_connections, timeout).await {
                Ok(store) => return Ok(store),
                Err(f) => f,
            };
            let retry =
                failure.retryable && started.elapsed().saturating_add(RETRY_EVERY) <= give_up_after;
            tracing::warn!(
                attempt,
                retry,
                error = %failure.error,
                "cannot connect to PostgreSQL"
            );
            if !retry {
                return Err(failure.error);
            }
            tokio::time::sleep(RETRY_EVERY).await;
            attempt = attempt.saturating_add(1);
        }
    }

    async fn try_connect(
        url: &str,
        max_connections: u32,
        timeout: Duration,
    ) -> Result<Self, Failure> {
        let options: PgConnectOptions = url.parse().map_err(|e| Failure {
            error: StoreError::Invalid(format!("PostgreSQL URL: {e}")),
            retryable: false,
        })?;
        // One direct connection first: it reports the real cause at once, where the pool
        // would keep retrying a refused connection until its acquire timeout.
        match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => return Err(classify(&options, e)),
            Err(_) => {
                return Err(Failure {
                    error: StoreError::Database(format!(
                        "database unreachable: no answer from {} within {}s",
                        target(&options),
                        timeout.as_secs()
                    )),
                    retryable: true,
                })
            }
        }
        // No ping before each use (one round trip per transaction on the hot paths):
        // a connection the server dropped fails its next statement and is discarded,
        // and the work it carried is retried as any failed store call is.
        // Every connection carries this handle's id (see `crate::listen`).
        let id = uuid::Uuid::now_v7();
        let options = options.options([(crate::listen::INSTANCE_SETTING, id.to_string())]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        Ok(Self { pool, options, id })
    }
}

/// `user@host:port/database`, for messages: never the password.
fn target(o: &PgConnectOptions) -> String {
    let host = match o.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => format!("{}:{}", o.get_host(), o.get_port()),
    };
    format!(
        "{}@{}/{}",
        o.get_username(),
        host,
        o.get_database().unwrap_or(o.get_username())
    )
}

/// Turns a connection error into a clear message, and says whether waiting may help.
fn classify(o: &PgConnectOptions, e: sqlx::Error) -> Failure {
    let at = target(o);
    let (text, retryable) = match &e {
        sqlx::Error::Io(io) => (format!("database unreachable: {at}: {io}"), true),
        sqlx::Error::PoolTimedOut => (format!("database unreachable: {at}: timed out"), true),
        sqlx::Error::Tls(t) => (format!("TLS with {at} failed: {t}"), false),
        sqlx::Error::Database(d) => match d.code().as_deref() {
            // invalid_password, invalid_authorization_specification (no pg_hba entry).
            Some("28P01" | "28000") => (
                format!("authentication failed for {at}: {}", d.message()),
                false,
            ),
            Some("3D000") => (
                format!("database does not exist: {at}: {}", d.message()),
                false,
            ),
            // cannot_connect_now (starting up), too_many_connections.
            Some("57P03" | "53300") => {
                (format!("database unavailable: {at}: {}", d.message()), true)
            }
            _ => (format!("cannot connect to {at}: {}", d.message()), false),
        },
        other => (format!("cannot connect to {at}: {other}"), false),
    };
    Failure {
        error: StoreError::Database(text),
        retryable,
    }
}
