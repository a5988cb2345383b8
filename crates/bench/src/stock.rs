//! `stock`: how fast stock changes reach the platforms, and at what cost in calls.
//! Three phases, each on a fresh ponte and fresh simulated Nuvemshop stores:
//!
//! 1. **idle**: one channel, single movements one at a time on an idle queue; latency
//!    from before the movement's POST to the store receiving the push
//!    (`PATCH /products/{id}/variants`, the request log's arrival time).
//! 2. **bulk**: several channels (one store each) listing the same catalogue, then many
//!    movements in bulk requests; time until every store got its last push, and calls
//!    per channel next to the coalesced minimum (one call per product whose value
//!    changed). Platform rate limits off.
//! 3. **limited**: the same with Nuvemshop's documented limit on both sides (store
//!    bucket 40 leaking 2/s, channel budget 2/s burst 40); time next to what the limit
//!    allows at best.
//!
//! Every store must show, for every variant, the value the movements give.

pub(crate) mod hub;
mod phases;
mod table;

use crate::report::emit;
use crate::scenarios::Target;
use anyhow::bail;
use phases::{Idle, Propagation, Size};
use serde_json::Value;
use std::time::Duration;

/// The phases of `stock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Single changes on an idle channel.
    Idle,
    /// Many changes to several channels, no rate limit.
    Bulk,
    /// The same with Nuvemshop's rate limit.
    Limited,
}

/// Options of `stock`.
#[derive(Debug, clap::Args)]
pub struct StockArgs {
    #[command(flatten)]
    pub target: Target,
    /// Phases to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "idle,bulk,limited"
    )]
    pub phases: Vec<Phase>,
    /// Bulk phase: products in each store's catalogue.
    #[arg(long, default_value_t = 400)]
    pub products: usize,
    /// Bulk phase: variants (SKUs) per product.
    #[arg(long, default_value_t = 5)]
    pub variants: usize,
    /// Movements posted (bulk and limited phases), spread over the SKUs.
    #[arg(long, default_value_t = 100_000)]
    pub changes: usize,
    /// Movements per request (at most 100,000: one transaction each). The coalesced
    /// minimum assumes one request: pushes made between requests count against it.
    #[arg(long, default_value_t = 100_000)]
    pub batch: usize,
    /// Channels, one simulated store each (bulk and limited phases).
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Limited phase: products in each store's catalogue (the floor is
    /// (products - 40) / 2 seconds when every product changes).
    #[arg(long, default_value_t = 200)]
    pub limited_products: usize,
    /// Limited phase: variants (SKUs) per product.
    #[arg(long, default_value_t = 10)]
    pub limited_variants: usize,
    /// Idle phase: single changes, one at a time.
    #[arg(long, default_value_t = 200)]
    pub idle_samples: usize,
    /// Idle phase: products listed (3 variants each).
    #[arg(long, default_value_t = 100)]
    pub idle_products: usize,
    /// Idle phase: milliseconds between a change's push and the next change (after
    /// the job queue is idle).
    #[arg(long, default_value_t = 20)]
    pub gap_ms: u64,
    /// Seed of the movements.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl StockArgs {
    /// Defaults, or a few-second smoke run (the limited phase on 50 products: 5 s).
    pub fn preset(quick: bool, target: Target) -> Self {
        let mut a = Self {
            target,
            phases: vec![Phase::Idle, Phase::Bulk, Phase::Limited],
            products: 400,
            variants: 5,
            changes: 100_000,
            batch: 100_000,
            channels: 3,
            limited_products: 200,
            limited_variants: 10,
            idle_samples: 200,
            idle_products: 100,
            gap_ms: 20,
            seed: 42,
        };
        if quick {
            a.products = 50;
            a.variants = 5;
            a.changes = 5_000;
            a.batch = 5_000;
            a.limited_products = 50;
            a.limited_variants = 2;
            a.idle_samples = 30;
            a.idle_products = 30;
        }
        a
    }

    fn size(&self, limited: bool) -> Size {
        Size {
            products: if limited {
                self.limited_products
            } else {
                self.products
            },
            variants: if limited {
                self.limited_variants
            } else {
                self.variants
            },
            changes: self.changes,
            batch: self.batch,
            channels: self.channels,
        }
    }
}

/// Runs the scenario: prints the table, writes `bench-results/stock-<backend>.json`.
pub async fn stock(a: StockArgs) -> anyhow::Result<Value> {
    if a.target.instances > 1 {
        bail!("stock measures one instance; drop --instances");
    }
    if a.batch == 0 || a.batch > 100_000 {
        bail!("--batch must be 1 to 100,000 (movements per request)");
    }
    if a.channels == 0 || a.changes == 0 {
        bail!("--channels and --changes must be above 0");
    }
    if a.products * a.variants == 0 || a.limited_products * a.limited_variants == 0 {
        bail!("catalogues need products and variants");
    }
    if a.phases.contains(&Phase::Idle) && (a.idle_products == 0 || a.idle_samples == 0) {
        bail!("--idle-products and --idle-samples must be above 0");
    }
    let idle: Option<Idle> = if a.phases.contains(&Phase::Idle) {
        Some(
            phases::idle(
                &a.target,
                a.idle_products,
                a.idle_samples,
                Duration::from_millis(a.gap_ms),
            )
            .await?,
        )
    } else {
        None
    };
    let mut runs: Vec<Propagation> = vec![];
    for (phase, limited) in [(Phase::Bulk, false), (Phase::Limited, true)] {
        if a.phases.contains(&phase) {
            let p = phases::propagate(&a.target, a.size(limited), limited, a.seed).await?;
            table::progress(&p);
            runs.push(p);
        }
    }
    table::print(&a.target.label(), idle.as_ref(), &runs);
    let mut correct = true;
    for (phase, wrong) in idle
        .iter()
        .map(|i| ("idle", &i.wrong))
        .chain(runs.iter().map(|p| (table::phase(p), &p.wrong)))
    {
        for w in wrong {
            eprintln!("stock ({phase}): {w}");
            correct = false;
        }
    }
    let figures = table::figures(&a, idle.as_ref(), &runs);
    emit(
        "stock",
        &a.target.label(),
        &table::rows(idle.as_ref(), &runs),
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}
