//! Waking workers with LISTEN/NOTIFY: jobs added by any instance wake the others
//! at once; polling stays the fallback.

use crate::jobs::JOBS_CHANNEL;
use crate::{db_err, PgStore};
use ponte_store::StoreError;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use std::time::Duration;
use tokio::sync::mpsc;

/// Pause before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

impl PgStore {
    /// Listens on the jobs channel and sends a `()` for each notification that jobs were
    /// added (by `accept_deliveries` or `enqueue`, from any instance) or returned to the
    /// queue. It is a wake-up signal: while one `()` waits unread, further ones are
    /// merged into it. After a lost connection the task reconnects (retrying every
    /// second) and sends a `()`, since notifications may have been missed meanwhile.
    ///
    /// Uses its own connection, outside the pool. The task ends when the receiver is
    /// dropped or the store is closed.
    pub async fn job_listener(&self) -> Result<mpsc::Receiver<()>, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(self.options.clone())
            .await
            .map_err(db_err)?;
        let first = listen(&pool).await.map_err(db_err)?;
        let (tx, rx) = mpsc::channel(1);
        let store = self.pool.clone();
        tokio::spawn(async move {
            let mut listener = Some(first);
            loop {
                // Ok: wake the receiver, with a fresh listener after a reconnection.
                let step = match listener.as_mut() {
                    // A notification, or (`None`) a lost connection that the listener
                    // re-established: notifications may have been missed.
                    Some(l) => tokio::select! {
                        () = stopped(&tx, &store) => break,
                        got = l.try_recv() => got.map(|_| None),
                    },
                    None => tokio::select! {
                        () = stopped(&tx, &store) => break,
                        l = relisten(&pool) => l.map(Some),
                    },
                };
                match step {
                    Ok(fresh) => {
                        if fresh.is_some() {
                            listener = fresh;
                        }
                        if let Err(mpsc::error::TrySendError::Closed(())) = tx.try_send(()) {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "job listener: PostgreSQL connection failed; reconnecting");
                        // A fresh listener: the old connection may be unusable.
                        listener = None;
                    }
                }
            }
            drop(listener);
            pool.close().await;
        });
        Ok(rx)
    }
}

/// A listener on the jobs channel, on the given (private, one-connection) pool.
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(JOBS_CHANNEL).await?;
    Ok(listener)
}

/// A new listener after a pause.
async fn relisten(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    tokio::time::sleep(RECONNECT_AFTER).await;
    listen(pool).await
}

/// Completes when the receiver is dropped or the store closed.
async fn stopped(tx: &mpsc::Sender<()>, store: &PgPool) {
    tokio::select! {
        () = tx.closed() => {}
        () = store.close_event() => {}
    }
}
