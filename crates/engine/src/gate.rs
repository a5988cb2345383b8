//! Write priority: webhook acknowledgements wait on the inbox commit, background
//! jobs do not. While the inbox committer has work, background writers step aside
//! (for a bounded time, so they are never starved).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Longest a background writer yields to the inbox in one go.
const MAX_YIELD: Duration = Duration::from_millis(10);

/// Tracks whether the inbox committer is busy.
#[derive(Default)]
pub(crate) struct WriteGate {
    inbox_busy: AtomicUsize,
    /// Inbox commits begun so far.
    inbox_turns: AtomicU64,
    idle: Notify,
}

/// Held by the inbox committer while it has deliveries in hand.
pub(crate) struct InboxTurn<'a>(&'a WriteGate);

impl Drop for InboxTurn<'_> {
    fn drop(&mut self) {
        if self.0.inbox_busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl WriteGate {
    /// Marks the inbox busy until the guard drops.
    pub(crate) fn inbox_turn(&self) -> InboxTurn<'_> {
        self.inbox_turns.fetch_add(1, Ordering::Relaxed);
        self.inbox_busy.fetch_add(1, Ordering::AcqRel);
        InboxTurn(self)
    }

    /// How many inbox commits have begun (a change means webhooks are coming in).
    pub(crate) fn inbox_turns(&self) -> u64 {
        self.inbox_turns.load(Ordering::Relaxed)
    }

    /// Waits (at most [`MAX_YIELD`]) while the inbox is busy.
    pub(crate) async fn background_turn(&self) {
        let idle = self.idle.notified();
        if self.inbox_busy.load(Ordering::Acquire) == 0 {
            return;
        }
        let _ = tokio::time::timeout(MAX_YIELD, idle).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn background_waits_for_the_inbox_but_not_forever() {
        let gate = Arc::new(WriteGate::default());
        let start = tokio::time::Instant::now();
        gate.background_turn().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "free gate: no wait");
        let turn = gate.inbox_turn();
        let g = gate.clone();
        let waiter = tokio::spawn(async move {
            let t = tokio::time::Instant::now();
            g.background_turn().await;
            t.elapsed()
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(turn);
        let waited = waiter.await.unwrap_or_default();
        assert_eq!(
            waited,
            Duration::from_millis(5),
            "released when the inbox is done"
        );
        let _busy = gate.inbox_turn();
        let t = tokio::time::Instant::now();
        gate.background_turn().await;
        assert_eq!(t.elapsed(), MAX_YIELD, "bounded wait");
    }
}
