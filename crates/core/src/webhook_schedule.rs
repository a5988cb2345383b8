//! When a webhook delivery is tried again: a fixed schedule spanning about a day and
//! a half (the Standard Webhooks recommendation), each wait with jitter.

use std::time::Duration;

/// The waits between a delivery's attempts; the first attempt goes at once.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSchedule {
    /// Wait before retry 1, 2, ...; after the last one the delivery is failed.
    pub waits: Vec<Duration>,
    /// Each wait varies by up to this fraction either way (0.1: ±10%).
    pub jitter: f64,
}

impl Default for WebhookSchedule {
    /// At once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
    fn default() -> Self {
        let m = 60;
        let h = 60 * m;
        let waits = [5, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h];
        Self {
            waits: waits.into_iter().map(Duration::from_secs).collect(),
            jitter: 0.1,
        }
    }
}

impl WebhookSchedule {
    /// The same schedule with every wait divided by `factor` (tests, benchmarks).
    pub fn compressed(&self, factor: u32) -> Self {
        Self {
            waits: self.waits.iter().map(|w| *w / factor.max(1)).collect(),
            jitter: self.jitter,
        }
    }

    /// Attempts in total (the first included).
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.waits.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The wait after attempt number `made` (1 = the first) failed, jittered by `unit`
    /// (a random value in [0, 1)); `None` when it was the last attempt.
    pub fn after(&self, made: u32, unit: f64) -> Option<Duration> {
        let i = usize::try_from(made.checked_sub(1)?).ok()?;
        let wait = *self.waits.get(i)?;
        let unit = if unit.is_nan() {
            0.5
        } else {
            unit.clamp(0.0, 1.0)
        };
        let factor = 1.0 + self.jitter.clamp(0.0, 1.0) * (2.0 * unit - 1.0);
        Some(Duration::try_from_secs_f64(wait.as_secs_f64() * factor).unwrap_or(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_attempts_spanning_a_day_and_a_half() {
        let s = WebhookSchedule::default();
        assert_eq!(s.attempts(), 8);
        assert_eq!(s.after(1, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(s.after(7, 0.5), Some(Duration::from_secs(36_000)));
        assert_eq!(s.after(8, 0.5), None);
        assert_eq!(s.after(0, 0.5), None);
        let total: Duration = (1..8).filter_map(|n| s.after(n, 0.5)).sum();
        assert_eq!(total.as_secs(), 5 + 300 + 1800 + 7200 + 18_000 + 72_000);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_compression_scales() {
        let s = WebhookSchedule::default();
        assert_eq!(s.after(2, 0.0), Some(Duration::from_secs(270)));
        assert_eq!(s.after(2, 1.0), Some(Duration::from_secs(330)));
        assert_eq!(s.after(2, f64::NAN), Some(Duration::from_secs(300)));
        let fast = s.compressed(1000);
        assert_eq!(fast.after(2, 0.5), Some(Duration::from_millis(300)));
        assert_eq!(fast.attempts(), 8);
    }
}
