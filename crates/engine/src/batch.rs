//! Group commit: requests queue up while the previous batch commits, and the next
//! batch takes all of them in one transaction.

use crate::EngineError;
use ponte_store::StoreError;
use tokio::sync::{mpsc, oneshot};

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
    let mut batch = Vec::with_capacity(max.min(256));
    batch.push(first);
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
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
}
