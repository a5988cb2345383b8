//! Retry policy: exponential backoff with jitter.

use std::time::Duration;

/// How failed work is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub base: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// Attempts allowed in total (the first try included).
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1 = after the first failure), with
    /// "equal jitter": half fixed, half scaled by `unit` (a random value in [0, 1)).
    /// Saturates: no policy, attempt or unit makes it panic.
    pub fn backoff(&self, attempt: u32, unit: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max);
        let half = exp / 2;
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let jitter = Duration::try_from_secs_f64(half.as_secs_f64() * unit).unwrap_or(half);
        half.saturating_add(jitter.min(half))
    }

    /// Whether another attempt is allowed after `attempts` have been made.
    pub fn allows_another(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(600),
            max_attempts: 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn backoff_is_bounded_and_grows(attempt in 1u32..40, unit in 0.0f64..1.0) {
            let p = RetryPolicy::default();
            let d = p.backoff(attempt, unit);
            prop_assert!(d <= p.max);
            prop_assert!(d >= p.backoff(attempt, 0.0));
            prop_assert!(p.backoff(attempt + 1, 0.0) >= p.backoff(attempt, 0.0));
        }
    }

    #[test]
    fn extreme_policies_and_units_never_panic() {
        let huge = RetryPolicy {
            base: Duration::MAX,
            max: Duration::MAX,
            max_attempts: u32::MAX,
        };
        for attempt in [0, 1, 2, 33, u32::MAX] {
            for unit in [0.0, 0.5, 1.0, f64::NAN, f64::INFINITY, -1.0] {
                assert!(huge.backoff(attempt, unit) <= Duration::MAX);
                assert!(RetryPolicy::default().backoff(attempt, unit) <= Duration::from_secs(600));
            }
        }
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(u32::MAX, 0.0), Duration::from_secs(300));
        assert_eq!(p.backoff(1, f64::NAN), Duration::from_secs(1));
    }

    #[test]
    fn attempts_limit() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(p.allows_another(2));
        assert!(!p.allows_another(3));
    }
}
