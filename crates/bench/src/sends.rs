//! `sends`: ERP action to platform request. Paid orders are imported, then
//! separations go through the API: first one at a time on an idle queue (latency
//! from before the API call to the simulator receiving the change request), then
//! many at once (sends per second reaching the simulator). Every send must reach
//! the simulator exactly once.

mod phases;
pub(crate) mod probe;
mod table;

use crate::report::emit;
use crate::scenarios::{Setup, SetupSpec, Target};
use anyhow::{bail, Context};
use phases::{Latency, Throughput};
use ponte_sim::nuvemshop::{NewOrder, PaymentStatus};
use probe::Api;
use serde_json::{json, Value};
use std::time::Duration;

/// Options of `sends`.
#[derive(Debug, clap::Args)]
pub struct SendsArgs {
    #[command(flatten)]
    pub target: Target,
    /// How separations reach Nuvemshop: `fulfillment_orders` (list the order's
    /// fulfillment orders, PATCH each to PACKED) or `legacy` (`POST /orders/{id}/pack`).
    #[arg(long, default_value = "fulfillment_orders", value_parser = ["fulfillment_orders", "legacy"])]
    pub shipping_api: String,
    /// Paid orders imported first (at least latency plus throughput orders).
    #[arg(long, default_value_t = 6_000)]
    pub orders: usize,
    /// Separations of the latency phase, one at a time.
    #[arg(long, default_value_t = 300)]
    pub latency_orders: usize,
    /// Milliseconds between latency-phase separations (after the previous send arrived).
    #[arg(long, default_value_t = 20)]
    pub gap_ms: u64,
    /// Separations of the throughput phase.
    #[arg(long, default_value_t = 5_000)]
    pub throughput_orders: usize,
    /// Concurrent API clients in the throughput phase (and for the import).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
}

impl SendsArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        let (orders, latency_orders, throughput_orders) = if quick {
            (400, 40, 300)
        } else {
            (6_000, 300, 5_000)
        };
        Self {
            target,
            shipping_api: "fulfillment_orders".into(),
            orders,
            latency_orders,
            gap_ms: 20,
            throughput_orders,
            clients: 64,
        }
    }
}

/// Runs the scenario: prints the table, writes `bench-results/sends-<backend>.json`.
pub async fn sends(a: SendsArgs) -> anyhow::Result<Value> {
    let api = Api::parse(&a.shipping_api)?;
    let (k, m) = (a.latency_orders, a.throughput_orders);
    if a.orders < k + m {
        bail!("--orders must be at least --latency-orders + --throughput-orders");
    }
    let spec = SetupSpec {
        orders: a.orders,
        order: NewOrder {
            payment_status: PaymentStatus::Paid,
            ..NewOrder::default()
        },
        settings: json!({ "shipping_api": a.shipping_api }),
        request_log: (4 * a.orders).max(100_000),
        env: vec![],
    };
    let (s, ids) = Setup::with(spec, &a.target).await?;
    let (imported, import_time) = phases::import(&s, &ids, a.clients).await?;
    let pick = |range: std::ops::Range<usize>| -> anyhow::Result<Vec<(u64, String)>> {
        ids[range]
            .iter()
            .map(|ext| {
                let id = imported.get(ext).context("order not imported")?;
                Ok((*ext, id.clone()))
            })
            .collect()
    };
    let (idle, busy) = (pick(0..k)?, pick(k..k + m)?);
    let lat = phases::latency(&s, api, &idle, Duration::from_millis(a.gap_ms)).await?;
    let postgres = a.target.backend == "postgres";
    let thr = phases::throughput(&s, api, &busy, a.clients, Duration::from_secs(600)).await?;
    let history = history(&s).await?;
    let correct = check(&lat, &thr, history, k, m);
    let figures = table::figures(&a, &lat, &thr, import_time, s.rss_mb());
    s.finish().await;
    let label = match api {
        Api::FulfillmentOrders => a.target.label(),
        Api::Legacy => format!("{}-legacy", a.target.label()),
    };
    emit(
        "sends",
        &label,
        &table::rows(&lat, &thr, postgres),
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}

/// Status sends in the history: (succeeded, pending + failed + blocked), once none
/// is pending (ponte counts a send in its metrics just before storing its outcome).
async fn history(s: &Setup) -> anyhow::Result<(usize, usize)> {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let page = s.get("/api/v1/status-sends?state=pending&limit=1").await?;
        if page["items"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut succeeded = 0;
    let mut cursor = String::new();
    loop {
        let page = s
            .get(&format!(
                "/api/v1/status-sends?state=succeeded&limit=500{cursor}"
            ))
            .await?;
        succeeded += page["items"].as_array().context("items")?.len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut other = 0;
    for state in ["pending", "failed", "blocked"] {
        let page = s
            .get(&format!("/api/v1/status-sends?state={state}&limit=500"))
            .await?;
        other += page["items"].as_array().context("items")?.len();
    }
    Ok((succeeded, other))
}

/// Every action accepted, every send succeeded once and reached the simulator
/// exactly once; prints what is wrong.
fn check(lat: &Latency, thr: &Throughput, history: (usize, usize), k: usize, m: usize) -> bool {
    let mut wrong = vec![];
    if lat.errors + thr.actions.errors > 0 {
        wrong.push(format!(
            "actions refused: {} idle, {} busy",
            lat.errors, thr.actions.errors
        ));
    }
    if lat.timeouts > 0 {
        wrong.push(format!("{} idle sends not seen within 10 s", lat.timeouts));
    }
    for (phase, (missing, duplicated, stray)) in [("idle", lat.check), ("busy", thr.check)] {
        if missing + duplicated + stray > 0 {
            wrong.push(format!(
                "{phase}: {missing} orders without a change request, {duplicated} with several, {stray} stray"
            ));
        }
    }
    if thr.refused > 0 {
        wrong.push(format!(
            "{} change requests refused by the simulator",
            thr.refused
        ));
    }
    if thr.succeeded != m as u64 {
        wrong.push(format!("{} of {m} sends succeeded (metric)", thr.succeeded));
    }
    if history != (k + m, 0) {
        wrong.push(format!(
            "history: {} succeeded of {}, {} pending/failed/blocked",
            history.0,
            k + m,
            history.1
        ));
    }
    for w in &wrong {
        eprintln!("sends: {w}");
    }
    wrong.is_empty()
}
