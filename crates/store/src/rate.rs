//! Token buckets for every backend: what a bucket holds when its transaction reads
//! it ([`bucket_state`]), and the arithmetic that updates it ([`take`], [`spend`]).

use crate::RateGrant;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The `(tokens, elapsed_secs)` a bucket update starts from: the stored tokens and
/// the seconds since the stored update (negative when the clock went back: [`take`]
/// and [`spend`] count that as none); a bucket not stored yet starts full, now.
pub fn bucket_state(
    stored: Option<(f64, DateTime<Utc>)>,
    capacity: f64,
    now: DateTime<Utc>,
) -> (f64, f64) {
    let (tokens, at) = stored.unwrap_or((capacity, now));
    let elapsed = (now - at).num_microseconds().unwrap_or(0) as f64 / 1e6;
    (tokens, elapsed)
}

/// A bucket's state after refilling for `elapsed_secs` and taking up to `want`
/// tokens: (tokens left, grant).
pub fn take(
    tokens: f64,
    elapsed_secs: f64,
    want: u32,
    capacity: f64,
    per_sec: f64,
) -> (f64, RateGrant) {
    let per_sec = per_sec.max(f64::MIN_POSITIVE);
    let available = (tokens + elapsed_secs.max(0.0) * per_sec).min(capacity);
    let granted = (available.floor().max(0.0) as u32).min(want);
    let left = available - f64::from(granted);
    // Until the next token, after those granted (none waits when one is left).
    let retry_after = if left >= 1.0 {
        Duration::ZERO
    } else {
        ponte_core::wait::from_secs_f64((1.0 - left) / per_sec)
            .clamp(Duration::from_millis(1), Duration::from_secs(3600))
    };
    (
        left,
        RateGrant {
            granted,
            retry_after,
        },
    )
}

/// A bucket's level after refilling for `elapsed_secs` and spending `n` tokens on
/// calls already made: it may go below zero, and takers then wait until it refills.
pub fn spend(tokens: f64, elapsed_secs: f64, n: u32, capacity: f64, per_sec: f64) -> f64 {
    let per_sec = per_sec.max(f64::MIN_POSITIVE);
    (tokens + elapsed_secs.max(0.0) * per_sec).min(capacity) - f64::from(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_and_caps() {
        let (left, g) = take(40.0, 0.0, 50, 40.0, 2.0);
        assert_eq!((g.granted, left), (40, 0.0));
        let (left, g) = take(0.0, 0.25, 1, 40.0, 2.0);
        assert_eq!(g.granted, 0);
        assert!((left - 0.5).abs() < 1e-9);
        assert!((g.retry_after.as_secs_f64() - 0.25).abs() < 1e-6);
        let (left, g) = take(0.0, 100.0, 1, 40.0, 2.0);
        assert_eq!((g.granted, left), (1, 39.0));
    }

    #[test]
    fn nonsense_limits_never_panic() {
        for per_sec in [1e-300, 0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            for capacity in [0.0, 1.0, f64::NAN, f64::INFINITY] {
                for tokens in [0.0, -1e300, f64::NAN] {
                    let (_, g) = take(tokens, 1.0, 3, capacity, per_sec);
                    assert!(g.granted <= 3);
                    assert!(g.retry_after <= Duration::from_secs(3600));
                    let _ = spend(tokens, 1.0, u32::MAX, capacity, per_sec);
                }
            }
        }
    }

    #[test]
    fn a_new_bucket_starts_full_and_a_stored_one_counts_seconds() {
        let at = DateTime::UNIX_EPOCH;
        let now = at + chrono::Duration::microseconds(2_500_000);
        assert_eq!(bucket_state(None, 40.0, now), (40.0, 0.0));
        assert_eq!(bucket_state(Some((3.0, at)), 40.0, now), (3.0, 2.5));
        assert_eq!(bucket_state(Some((3.0, now)), 40.0, at), (3.0, -2.5));
    }

    #[test]
    fn spending_goes_into_debt_that_takers_wait_out() {
        let left = spend(5.0, 0.0, 11, 40.0, 2.0);
        assert!((left + 6.0).abs() < 1e-9);
        let (_, g) = take(left, 0.0, 1, 40.0, 2.0);
        assert_eq!(g.granted, 0);
        assert!((g.retry_after.as_secs_f64() - 3.5).abs() < 1e-6);
        let (_, g) = take(left, 3.5, 1, 40.0, 2.0);
        assert_eq!(g.granted, 1);
    }
}
