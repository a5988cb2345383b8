//! `poll`: orders imported per second when a manual sync walks a simulator backlog
//! (`GET /orders`, pages of 200), and the server's peak memory. One measurement per
//! backlog size, each on a fresh simulator, server and data directory, so the rate
//! and the memory can be compared as the backlog grows. Platform rate limits are off
//! on both sides (simulator bucket 0, channel budget 1e6/s). Each run must succeed,
//! read every order, and leave ponte holding exactly the orders importable when
//! first seen, each once, with the simulator's status.

mod run;
mod table;

use crate::report::emit;
use crate::scenarios::Target;
use anyhow::bail;
use serde_json::Value;

/// Page size of the walk (Nuvemshop's documented maximum).
pub const PAGE: u64 = 200;
/// Nuvemshop's documented request rate (leaky bucket leak, requests per second).
pub const PLATFORM_REQ_PER_SEC: u64 = 2;

/// Options of `poll`.
#[derive(Debug, clap::Args)]
pub struct PollArgs {
    #[command(flatten)]
    pub target: Target,
    /// Backlog sizes (orders in the simulator), one fresh measurement each.
    #[arg(long, value_delimiter = ',', default_value = "25000,50000,100000")]
    pub orders: Vec<usize>,
    /// Seed of the generated orders (customers, products, statuses).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl PollArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            orders: if quick {
                vec![2_000, 4_000]
            } else {
                vec![25_000, 50_000, 100_000]
            },
            seed: 42,
        }
    }
}

/// Runs the scenario: prints the table, writes `bench-results/poll-<backend>.json`.
pub async fn poll(a: PollArgs) -> anyhow::Result<Value> {
    if a.target.instances > 1 {
        bail!("poll measures one instance (a sync runs on one); drop --instances");
    }
    if a.orders.is_empty() || a.orders.contains(&0) {
        bail!("--orders needs backlog sizes above 0");
    }
    let mut runs = Vec::with_capacity(a.orders.len());
    for &n in &a.orders {
        let m = run::measure(&a.target, n, a.seed).await?;
        eprintln!(
            "poll: {n} orders in {:.1} s ({:.0}/s), peak RSS {} MB",
            m.wall_secs,
            m.rate(),
            m.rss_peak_mb.unwrap_or(0)
        );
        runs.push(m);
    }
    table::print(&a.target.label(), &runs);
    let correct = runs.iter().all(|m| m.wrong.is_empty());
    for m in &runs {
        for w in &m.wrong {
            eprintln!("poll ({} orders): {w}", m.backlog);
        }
    }
    let figures = table::figures(&a, &runs);
    emit(
        "poll",
        &a.target.label(),
        &table::rows(&runs),
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}
