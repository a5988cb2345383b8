//! Waits that never panic: durations built from untrusted numbers (a platform's
//! hint, a channel's rate limit) are bounded, and the times computed from them
//! saturate instead of overflowing.

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// The longest any job waits before running again; a longer wait is capped.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `secs` seconds, within `0..=MAX_WAIT`; negative values and NaN are no wait.
pub fn from_secs_f64(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs.min(MAX_WAIT.as_secs_f64())).unwrap_or(MAX_WAIT)
}

/// The time `wait` (capped at [`MAX_WAIT`]) after `now`.
pub fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(wait.min(MAX_WAIT))
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn out_of_range_seconds_are_bounded() {
        assert_eq!(from_secs_f64(1.5), Duration::from_millis(1500));
        assert_eq!(from_secs_f64(1e300), MAX_WAIT);
        assert_eq!(from_secs_f64(f64::INFINITY), MAX_WAIT);
        assert_eq!(from_secs_f64(f64::NAN), Duration::ZERO);
        assert_eq!(from_secs_f64(-3.0), Duration::ZERO);
        assert_eq!(from_secs_f64(f64::NEG_INFINITY), Duration::ZERO);
        assert_eq!(from_secs_f64(1.0 / 1e-300), MAX_WAIT);
    }

    #[test]
    fn times_saturate() {
        let now = DateTime::<Utc>::MAX_UTC - TimeDelta::seconds(5);
        assert_eq!(after(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(after(t0, Duration::MAX), t0 + TimeDelta::seconds(24 * 3600));
        assert_eq!(
            after(t0, Duration::from_secs(2)),
            t0 + TimeDelta::seconds(2)
        );
    }

    proptest! {
        #[test]
        fn any_number_is_a_bounded_wait(secs in proptest::num::f64::ANY) {
            prop_assert!(from_secs_f64(secs) <= MAX_WAIT);
        }

        #[test]
        fn any_wait_is_a_time(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
            let now = DateTime::<Utc>::UNIX_EPOCH;
            let at = after(now, Duration::new(secs, nanos));
            prop_assert!(at >= now);
            prop_assert!(at - now <= TimeDelta::seconds(24 * 3600));
        }
    }
}
