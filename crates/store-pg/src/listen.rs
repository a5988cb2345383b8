//! Waking workers with LISTEN/NOTIFY: jobs added by another instance wake this one's
//! workers at once, by kind; polling stays the fallback.
//!
//! A notification's payload is the sending handle's id, then a space and the kinds
//! of the jobs added (comma-separated), or the id alone for jobs of any kind (jobs
//! returned to the queue). The id comes from a setting every connection of a handle
//! carries ([`INSTANCE_SETTING`]), so that a handle's listener skips its own
//! notifications: its engine already woke its workers in process, and hearing them
//! again made every worker loop look for jobs after each commit.

use crate::jobs::JOBS_CHANNEL;
use crate::{db_err, PgStore};
use ponte_store::{StoreError, StoreResult};
use sqlx::postgres::{PgConnection, PgListener, PgNotification, PgPool, PgPoolOptions};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Pause before listening again after the connection failed.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The session setting holding a handle's id on each of its connections.
pub(crate) const INSTANCE_SETTING: &str = "ponte.instance";

/// SQL for the notifying connection's handle id (empty if unset).
pub(crate) const NOTIFY_FROM: &str = "COALESCE(current_setting('ponte.instance', true), '')";

/// Notifies the jobs channel (delivered at commit) that jobs of `kind` (of any kind
/// with `None`) were added or returned to the queue.
pub(crate) async fn notify_jobs(conn: &mut PgConnection, kind: Option<&str>) -> StoreResult<()> {
    sqlx::query(&format!(
        "SELECT pg_notify($1, {NOTIFY_FROM} || COALESCE(' ' || $2::text, ''))"
    ))
    .bind(JOBS_CHANNEL)
    .bind(kind)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// What was added since the last wake-up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobsAdded {
    /// Kinds of the jobs other instances added.
    pub kinds: BTreeSet<String>,
    /// Kinds of the jobs this handle added (its engine woke the loops it knew of).
    pub own_kinds: BTreeSet<String>,
    /// Another instance added jobs of kinds not named (or returned some to the queue),
    /// or notifications may have been missed (a lost connection): every loop should look.
    pub any: bool,
}

impl JobsAdded {
    /// Adds what a notification's payload says; false when it says nothing new (this
    /// handle's own jobs of unnamed kinds: returned to the queue by its own engine,
    /// which woke its loops).
    fn hear(&mut self, payload: &str, own: &str) -> bool {
        let (from, kinds) = payload.split_once(' ').unwrap_or((payload, ""));
        let kinds = kinds
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        if from == own {
            let before = self.own_kinds.len();
            self.own_kinds.extend(kinds);
            return self.own_kinds.len() > before;
        }
        let before = self.kinds.len();
        self.kinds.extend(kinds);
        if self.kinds.len() == before {
            self.any = true;
        }
        true
    }
}

/// The wake-ups of a job listener ([`PgStore::job_listener`]).
pub struct JobWakes {
    signal: mpsc::Receiver<()>,
    added: Arc<Mutex<JobsAdded>>,
}

impl JobWakes {
    /// Waits for jobs added by another instance, then returns all that were heard
    /// since the last call (merged); `None` once the listener stopped.
    pub async fn recv(&mut self) -> Option<JobsAdded> {
        self.signal.recv().await?;
        let mut added = self.added.lock().unwrap_or_else(|e| e.into_inner());
        Some(std::mem::take(&mut added))
    }
}

impl PgStore {
    /// Listens on the jobs channel: [`JobWakes::recv`] returns when another instance
    /// added jobs (`accept_deliveries`, `enqueue`, actions) or returned some to the
    /// queue. After a lost connection the task reconnects (retrying every second) and
    /// reports `any`, since notifications may have been missed meanwhile.
    ///
    /// Uses its own connection, outside the pool. The task ends when the receiver is
    /// dropped or the store is closed.
    pub async fn job_listener(&self) -> Result<JobWakes, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(self.options.clone())
            .await
            .map_err(db_err)?;
        let first = listen(&pool).await.map_err(db_err)?;
        let (tx, signal) = mpsc::channel(1);
        let added = Arc::new(Mutex::new(JobsAdded::default()));
        let heard = added.clone();
        let own = self.id.to_string();
        let store = self.pool.clone();
        tokio::spawn(async move {
            let mut listener = Some(first);
            loop {
                // Ok: a notification, or (`None`) a fresh listener after a reconnection.
                let step = match listener.as_mut() {
                    Some(l) => tokio::select! {
                        () = stopped(&tx, &store) => break,
                        got = l.try_recv() => got.map(|n| (n, None)),
                    },
                    None => tokio::select! {
                        () = stopped(&tx, &store) => break,
                        l = relisten(&pool) => l.map(|l| (None, Some(l))),
                    },
                };
                match step {
                    Ok((note, fresh)) => {
                        if fresh.is_some() {
                            listener = fresh;
                        }
                        if !hear(&heard, note.as_ref(), &own) {
                            continue;
                        }
                        // One signal waiting unread is enough: what it reports is merged.
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
        Ok(JobWakes { signal, added })
    }
}

/// Records a notification (or, `None`, a reconnection: anything may have been
/// missed); false when there is nothing to report (this handle's own).
fn hear(added: &Mutex<JobsAdded>, note: Option<&PgNotification>, own: &str) -> bool {
    let mut added = added.lock().unwrap_or_else(|e| e.into_inner());
    match note {
        Some(n) => added.hear(n.payload(), own),
        None => {
            added.any = true;
            true
        }
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

#[cfg(test)]
mod tests {
    use super::JobsAdded;

    #[test]
    fn payloads_name_the_sender_and_the_kinds() {
        let mut a = JobsAdded::default();
        assert!(
            !a.hear("me", "me"),
            "own requeue: its engine woke its loops"
        );
        assert_eq!(a, JobsAdded::default());
        assert!(a.hear("me stock_push", "me"));
        assert!(!a.hear("me stock_push", "me"), "already reported");
        assert!(a.hear("other import_order,status_send", "me"));
        assert!(a.hear("other task_run", "me"));
        assert!(!a.any);
        assert_eq!(
            a.kinds.iter().map(String::as_str).collect::<Vec<_>>(),
            ["import_order", "status_send", "task_run"]
        );
        assert_eq!(a.own_kinds.len(), 1);
        assert!(a.hear("other", "me"), "returned jobs: any kind");
        assert!(a.any);
    }
}
