//! On a single writer, the sends an action batch starts are run by the direct-sends
//! loop and recorded with the action committer's next batch: a full loop, whose
//! running sends wait on that record, still gets them recorded.

use super::*;
use crate::direct_sends::{direct_sends_loop, QUEUE};

#[tokio::test]
async fn a_full_direct_sends_loop_still_gets_its_sends_recorded() {
    let h = harness(UNLIMITED).await;
    let e = h.engine.clone();
    e.cached_channel(h.channel)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!e.channel_cache.budgets().is_empty(), "budget known");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(direct_sends_loop(e.clone(), stop, "test/direct".into()));
    while e.direct.runner().is_none() {
        tokio::task::yield_now().await;
    }
    // Every batch the loop can take (running, in hand, queued), and one more that the
    // committer waits to hand over: one action per batch, their calls held.
    let hold = h.fake.hold.write().await;
    let n = e.config.workers + 1 + QUEUE + 1;
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        let o = h.order(&i.to_string()).await;
        h.act(o, invoice()).await;
        orders.push(o);
    }
    drop(hold);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for o in orders {
        while h.sends(o).await[0].state != SendState::Succeeded {
            assert!(tokio::time::Instant::now() < deadline, "order {o} not sent");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(h.fake.sent().len(), n, "each once");
    let _ = stop_tx.send(true);
    runner.await.unwrap_or_else(|e| panic!("{e}"));
}
