//! A channel's budget: claimed sends beyond the tokens its bucket grants go back to
//! the queue without using an attempt, and go out as tokens come (one a second here).

use super::*;

/// Runs claim rounds until no job is due now (at most ten).
async fn drain(h: &Harness) {
    for _ in 0..10 {
        match h.next_run_at().await {
            Some(due) if due <= h.clock.now() => h.round().await,
            _ => return,
        };
    }
    panic!("jobs still due after ten rounds");
}

#[tokio::test]
async fn sends_beyond_the_grant_wait_for_tokens_without_using_an_attempt() {
    let h = harness(RateLimit {
        burst: 2.0,
        per_sec: 1.0,
    })
    .await;
    let mut orders = vec![];
    for ext in ["1", "2", "3", "4", "5"] {
        let o = h.order(ext).await;
        h.act(o, invoice()).await;
        orders.push(o);
    }
    let t0 = h.clock.now();
    assert_eq!(h.round().await, 3, "two tokens for five sends");
    assert_eq!(h.fake.sent().len(), 2);
    let counts = h.engine.store.job_counts().await;
    let pending = counts.map(|c| (c.pending, c.running, c.failed));
    assert_eq!(pending.ok(), Some((3, 0, 0)), "put back, not failed");
    drain(&h).await;
    assert_eq!(h.fake.sent().len(), 2, "no token before a second passed");
    for n in 1..=3 {
        let due = at(t0, Duration::from_secs(n));
        let next = h.next_run_at().await;
        assert_eq!(next, Some(due), "waiting for the next token");
        h.clock.advance(Duration::from_millis(999));
        drain(&h).await;
        assert_eq!(h.fake.sent().len(), 1 + n as usize, "not before its token");
        h.clock.advance(Duration::from_millis(1));
        drain(&h).await;
        assert_eq!(h.fake.sent().len(), 2 + n as usize, "one token, one send");
    }
    assert_eq!(h.next_run_at().await, None);
    for o in orders {
        let s = &h.sends(o).await[0];
        assert_eq!(s.state, SendState::Succeeded);
        assert_eq!(s.attempts_used, 1, "waiting for a token used no attempt");
        assert_eq!(outcomes(s), [AttemptOutcome::Succeeded]);
    }
}
