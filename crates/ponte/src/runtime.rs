//! The async runtime ponte runs on (the binary's and the benchmarks' server alike).

use tokio::runtime::{Builder, Runtime};

/// Scheduler ticks between a worker's looks at sockets and timers (tokio's default is
/// 61). Under load each worker has many tasks ready (API requests, platform calls),
/// and a group committer waiting for the database's answer waited behind up to 61 of
/// them at every statement; looking more often answers it sooner. Measured with
/// `ponte-bench sends` (README, Performance).
const EVENT_INTERVAL: u32 = 7;

/// A multi-threaded runtime, one worker per core, with I/O and timers.
pub fn runtime() -> std::io::Result<Runtime> {
    Builder::new_multi_thread()
        .event_interval(EVENT_INTERVAL)
        .enable_all()
        .build()
}
