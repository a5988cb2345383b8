//! The simulators' clock.
//!
//! Assumption (documented for users): platform timestamps have one-second
//! resolution, and tests need two quick changes to get *distinct*, strictly
//! increasing `updated_at` values. Every change therefore takes a tick
//! `max(now truncated to the second, previous tick + 1 s)`: it follows real
//! time when changes are rarer than one per second, and runs ahead of real
//! time by at most the number of changes made within the same seconds (e.g.
//! generating 1,000 orders at once moves the clock up to ~1,000 s ahead).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Strictly increasing, second-resolution clock. Not synchronised: keep it under
/// the store's lock.
#[derive(Debug, Clone)]
pub struct SimClock {
    last: Option<DateTime<Utc>>,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    /// A clock that has issued no tick yet.
    pub fn new() -> Self {
        Self { last: None }
    }

    /// The next tick (strictly greater than every previous one).
    pub fn tick(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        let now = now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now);
        let next = match self.last {
            Some(last) if now <= last => last + TimeDelta::seconds(1),
            _ => now,
        };
        self.last = Some(next);
        next
    }

    /// The last tick issued, or the current second if none was.
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        let now = now.duration_trunc(TimeDelta::seconds(1)).unwrap_or(now);
        match self.last {
            Some(last) if last > now => last,
            _ => now,
        }
    }

    /// Moves the clock forward so the next tick is at least `by` later than the
    /// last one (for tests of time windows).
    pub fn advance(&mut self, by: TimeDelta) {
        let base = self.now();
        self.last = Some(base + by - TimeDelta::seconds(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_strictly_increase() {
        let mut c = SimClock::new();
        let a = c.tick();
        let b = c.tick();
        let d = c.tick();
        assert!(a < b && b < d);
        assert_eq!((b - a).num_seconds(), 1);
        c.advance(TimeDelta::hours(1));
        assert!(c.tick() >= d + TimeDelta::hours(1));
    }
}
