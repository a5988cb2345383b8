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

/// Five sends on a channel allowed a burst of two and one a second, claimed with or
/// without the channel's budget known to the claim.
async fn five_sends_on_a_small_budget(unbudgeted: bool) {
    let mut h = harness(RateLimit {
        burst: 2.0,
        per_sec: 1.0,
    })
    .await;
    h.unbudgeted = unbudgeted;
    let mut orders = vec![];
    for ext in ["1", "2", "3", "4", "5"] {
        let o = h.order(ext).await;
        h.act(o, invoice()).await;
        orders.push(o);
    }
    let t0 = h.clock.now();
    let deferred = h.round().await;
    assert_eq!(deferred, if unbudgeted { 0 } else { 3 }, "by the claim");
    assert_eq!(h.fake.sent().len(), 2, "two tokens for five sends");
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

#[tokio::test]
async fn sends_beyond_the_grant_wait_for_tokens_without_using_an_attempt() {
    five_sends_on_a_small_budget(false).await;
}

#[tokio::test]
async fn sends_of_a_channel_the_claim_did_not_know_are_budgeted_alike() {
    five_sends_on_a_small_budget(true).await;
}

/// A send that took three calls used its claim's token and is charged the other two
/// as its attempt is recorded: the next send waits for the bucket to refill.
#[tokio::test]
async fn calls_beyond_a_sends_first_are_charged_to_the_budget() {
    let h = harness(RateLimit {
        burst: 3.0,
        per_sec: 1.0,
    })
    .await;
    h.fake
        .extra_calls
        .store(2, std::sync::atomic::Ordering::Relaxed);
    let first = h.order("1").await;
    h.act(first, invoice()).await;
    assert_eq!(h.round().await, 0);
    assert_eq!(h.fake.sent().len(), 1);
    let second = h.order("2").await;
    h.act(second, invoice()).await;
    assert_eq!(h.round().await, 1, "three calls spent the three tokens");
    let next = at(h.clock.now(), Duration::from_secs(1));
    assert_eq!(h.next_run_at().await, Some(next), "one token a second");
}
