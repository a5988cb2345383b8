//! Leaky bucket rate limiter, as Nuvemshop documents it: every request adds one
//! unit to the bucket, the bucket leaks `leak_per_sec` units per second, and a
//! request that would overflow `capacity` is refused (HTTP 429).

use std::time::Instant;

/// What the rate-limit headers report after a request was counted (or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    /// `X-Rate-Limit-Limit`: the bucket size.
    pub limit: u32,
    /// `X-Rate-Limit-Remaining`: requests left before the bucket is full.
    pub remaining: u32,
    /// `X-Rate-Limit-Reset`: milliseconds until the bucket is completely empty.
    pub reset_ms: u64,
}

/// A leaky bucket. Not synchronised: wrap it in a `Mutex`.
#[derive(Debug, Clone)]
pub struct LeakyBucket {
    capacity: f64,
    leak_per_sec: f64,
    level: f64,
    last: Instant,
}

impl LeakyBucket {
    /// An empty bucket holding `capacity` requests and leaking `leak_per_sec`.
    pub fn new(capacity: u32, leak_per_sec: f64) -> Self {
        Self {
            capacity: f64::from(capacity),
            leak_per_sec: leak_per_sec.max(0.0),
            level: 0.0,
            last: Instant::now(),
        }
    }

    fn leak(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level - dt * self.leak_per_sec).max(0.0);
        self.last = now;
    }

    /// Counts one request at `now`. `Err` when the bucket is full (the request is
    /// not counted); both carry the header values to send.
    pub fn try_acquire(&mut self, now: Instant) -> Result<RateInfo, RateInfo> {
        self.leak(now);
        if self.level + 1.0 <= self.capacity + 1e-9 {
            self.level += 1.0;
            Ok(self.info())
        } else {
            Err(self.info())
        }
    }

    /// Header values at `now` without counting a request.
    pub fn peek(&mut self, now: Instant) -> RateInfo {
        self.leak(now);
        self.info()
    }

    fn info(&self) -> RateInfo {
        let remaining = (self.capacity - self.level).floor().max(0.0);
        let reset_ms = if self.level <= 0.0 {
            0
        } else if self.leak_per_sec > 0.0 {
            (self.level / self.leak_per_sec * 1000.0).ceil() as u64
        } else {
            u64::MAX
        };
        RateInfo {
            limit: self.capacity as u32,
            remaining: remaining as u32,
            reset_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fills_refuses_and_leaks() {
        let t0 = Instant::now();
        let mut b = LeakyBucket::new(3, 2.0);
        assert_eq!(b.try_acquire(t0).unwrap().remaining, 2);
        assert_eq!(b.try_acquire(t0).unwrap().remaining, 1);
        let full = b.try_acquire(t0).unwrap();
        assert_eq!(full.remaining, 0);
        assert_eq!(full.reset_ms, 1500);
        let refused = b.try_acquire(t0).unwrap_err();
        assert_eq!(refused.remaining, 0);
        // Half a second later one unit has leaked.
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.try_acquire(t1).is_ok());
        assert!(b.try_acquire(t1).is_err());
        let later = b.peek(t1 + Duration::from_secs(10));
        assert_eq!((later.remaining, later.reset_ms), (3, 0));
    }
}
