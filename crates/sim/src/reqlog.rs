//! Log of the requests a simulator answered, so tests can count calls.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::Method;

/// One answered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: Method,
    /// Path, e.g. `/v1/123456/orders/7`.
    pub path: String,
    /// Raw query string without `?` (empty when none).
    pub query: String,
    /// Status code sent.
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
}

/// Bounded log (oldest entries dropped past `capacity`, so long benchmarks do not
/// grow memory without bound).
#[derive(Debug)]
pub struct RequestLog {
    capacity: usize,
    entries: Mutex<VecDeque<RequestRecord>>,
}

impl RequestLog {
    /// A log keeping at most `capacity` entries (0 keeps none).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Appends a record.
    pub fn push(&self, rec: RequestRecord) {
        if self.capacity == 0 {
            return;
        }
        let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if e.len() >= self.capacity {
            e.pop_front();
        }
        e.push_back(rec);
    }

    /// A copy of the kept records, oldest first.
    pub fn snapshot(&self) -> Vec<RequestRecord> {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        e.iter().cloned().collect()
    }

    /// Number of kept records with this method whose path starts with `prefix`.
    pub fn count(&self, method: &Method, prefix: &str) -> usize {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        e.iter()
            .filter(|r| r.method == *method && r.path.starts_with(prefix))
            .count()
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
