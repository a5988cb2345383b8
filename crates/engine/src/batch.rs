//! Group commit: requests queue up while the previous batch commits, and the next
//! batch takes all of them in one transaction.

use crate::EngineError;
use ponte_store::StoreError;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// One queued item and where to send its result.
pub(crate) type Item<T, R = Result<(), StoreError>> = (T, oneshot::Sender<R>);

/// Queues `item` for a committer and waits for its answer.
pub(crate) async fn ask<T, R>(
    tx: &mpsc::Sender<Item<T, Result<R, StoreError>>>,
    item: T,
) -> Result<R, EngineError> {
    let (otx, orx) = oneshot::channel();
    tx.send((item, otx))
        .await
        .map_err(|_| EngineError::ShuttingDown)?;
    orx.await
        .map_err(|_| EngineError::ShuttingDown)?
        .map_err(EngineError::Store)
}

/// Takes the next batch: waits for one item, then takes whatever else is queued,
/// up to `max`. `None` when the queue is closed and empty.
pub(crate) async fn next_batch<T, R>(
    rx: &mut mpsc::Receiver<Item<T, R>>,
    max: usize,
) -> Option<Vec<Item<T, R>>> {
    let first = rx.recv().await?;
    let mut batch = vec![first];
    batch.extend(queued(rx, max.saturating_sub(1)));
    Some(batch)
}

/// Whatever is queued, up to `max`, without waiting.
pub(crate) fn queued<T>(rx: &mut mpsc::Receiver<T>, max: usize) -> Vec<T> {
    let mut out = Vec::new();
    while out.len() < max {
        match rx.try_recv() {
            Ok(item) => out.push(item),
            Err(_) => break,
        }
    }
    out
}

/// Adds to a batch [`next_batch`] took: waits up to `linger` for `want` items in all,
/// then takes whatever else is queued, up to `max` (group commit under load: the
/// callers the previous batch just answered get time to come back, instead of the
/// first one or two each paying a whole commit). Not cancel-safe: await it to the end.
pub(crate) async fn top_up<T, R>(
    rx: &mut mpsc::Receiver<Item<T, R>>,
    batch: &mut Vec<Item<T, R>>,
    max: usize,
    want: usize,
    linger: Duration,
) {
    let deadline = Instant::now() + linger;
    while batch.len() < want.min(max) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(item)) => batch.push(item),
            Ok(None) | Err(_) => break,
        }
    }
    batch.extend(queued(rx, max.saturating_sub(batch.len())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn takes_everything_queued_up_to_max() {
        let (tx, mut rx) = mpsc::channel(100);
        for i in 0..10 {
            let (otx, _orx) = oneshot::channel::<Result<(), String>>();
            tx.send((i, otx)).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let b = next_batch(&mut rx, 4).await.unwrap_or_default();
        assert_eq!(b.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        let b = next_batch(&mut rx, 100).await.unwrap_or_default();
        assert_eq!(b.len(), 6);
        drop(tx);
        assert!(next_batch(&mut rx, 4).await.is_none());
    }

    type Queue = mpsc::Sender<Item<u32, Result<(), String>>>;
    type Batch = Vec<Item<u32, Result<(), String>>>;

    async fn push(tx: &Queue, i: u32) {
        let (otx, _orx) = oneshot::channel();
        tx.send((i, otx)).await.unwrap_or_else(|e| panic!("{e}"));
    }

    async fn gather(
        rx: &mut mpsc::Receiver<Item<u32, Result<(), String>>>,
        want: usize,
        linger: Duration,
    ) -> Batch {
        let mut b = next_batch(rx, 100).await.unwrap_or_default();
        top_up(rx, &mut b, 100, want, linger).await;
        b
    }

    #[tokio::test(start_paused = true)]
    async fn topping_up_waits_a_bounded_time_for_the_batch_it_wants() {
        let (tx, mut rx) = mpsc::channel(100);
        let linger = Duration::from_millis(2);
        push(&tx, 0).await;
        let late = tokio::spawn({
            let tx = tx.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                push(&tx, 1).await;
                push(&tx, 2).await;
            }
        });
        let start = Instant::now();
        let b = gather(&mut rx, 3, linger).await;
        assert_eq!(b.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1),
            "no longer than needed"
        );
        late.await.unwrap_or_else(|e| panic!("{e}"));
        push(&tx, 3).await;
        let start = Instant::now();
        let b = gather(&mut rx, 3, linger).await;
        assert_eq!(b.len(), 1, "what came within the linger");
        assert_eq!(start.elapsed(), linger);
        push(&tx, 4).await;
        let start = Instant::now();
        assert_eq!(gather(&mut rx, 1, linger).await.len(), 1);
        assert_eq!(start.elapsed(), Duration::ZERO, "one wanted: no wait");
    }
}
