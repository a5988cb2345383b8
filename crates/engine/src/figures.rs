//! Database figures for `/metrics` and `/ready` (job counts, database size): read by a
//! background task every `figures_every` and served from memory, so a scrape or a
//! readiness probe never queries the database.

use ponte_core::Clock;
use ponte_store::{JobCounts, Store};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The figures of the last successful read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DbFigures {
    /// Jobs per state.
    pub(crate) jobs: JobCounts,
    /// The database's size in bytes.
    pub(crate) database_bytes: u64,
    /// When their read began (wall clock): they show every change committed before.
    pub(crate) read_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct State {
    last: Option<(DbFigures, Instant)>,
    /// The latest read failed (or took too long).
    failing: bool,
}

/// The cache and how often it is refreshed.
pub(crate) struct Figures {
    state: Mutex<State>,
    every: Duration,
}

impl Figures {
    /// Reads the figures once; [`crate::Workers`] refreshes them every `every`.
    pub(crate) async fn new(store: &dyn Store, clock: &dyn Clock, every: Duration) -> Self {
        let figures = Self {
            state: Mutex::new(State::default()),
            every: every.max(Duration::from_millis(10)),
        };
        figures.refresh(store, clock).await;
        figures
    }

    /// How often the figures are read.
    pub(crate) fn every(&self) -> Duration {
        self.every
    }

    /// Older than this, the figures are stale (`/ready` answers not ready).
    fn stale_after(&self) -> Duration {
        self.every * 3 + Duration::from_secs(1)
    }

    /// Reads the figures now.
    pub(crate) async fn refresh(&self, store: &dyn Store, clock: &dyn Clock) {
        let began = clock.now();
        let read = async {
            let jobs = store.job_counts().await?;
            let database_bytes = store.database_size().await?;
            Ok::<_, ponte_store::StoreError>((jobs, database_bytes))
        };
        let outcome = tokio::time::timeout(self.stale_after(), read).await;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(Ok((jobs, database_bytes))) => {
                let figures = DbFigures {
                    jobs,
                    database_bytes,
                    read_at: began,
                };
                state.last = Some((figures, Instant::now()));
                state.failing = false;
            }
            Ok(Err(e)) => {
                if !state.failing {
                    tracing::warn!(error = %e, "reading job counts and database size");
                }
                state.failing = true;
            }
            Err(_) => {
                if !state.failing {
                    tracing::warn!("reading job counts and database size timed out");
                }
                state.failing = true;
            }
        }
    }

    /// The last figures read, if any.
    pub(crate) fn latest(&self) -> Option<DbFigures> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.last.as_ref().map(|(f, _)| f.clone())
    }

    /// Whether the latest read succeeded and is recent.
    pub(crate) fn fresh(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        !state.failing
            && state
                .last
                .as_ref()
                .is_some_and(|(_, at)| at.elapsed() <= self.stale_after())
    }
}
