//! The `poll` tables and JSON figures.

use super::run::Measured;
use super::{PollArgs, PAGE, PLATFORM_REQ_PER_SEC};
use crate::report::Row;
use serde_json::{json, Value};

/// Orders per second the walk must reach.
const RATE: f64 = 1_000.0;
/// Peak RSS the server must stay under, MiB.
const RSS_MB: u64 = 200;

/// Orders per second polling can reach at the platform's documented request rate.
fn platform_cap() -> u64 {
    PLATFORM_REQ_PER_SEC * PAGE
}

/// CPU cores used over the run as this client saw it.
fn cores(cpu: f64, m: &Measured) -> f64 {
    cpu / m.observed_secs.max(1e-9)
}

fn mb(v: Option<u64>) -> String {
    v.map_or_else(|| "?".into(), |v| v.to_string())
}

/// One line per backlog size, the target and the notes.
pub(super) fn print(label: &str, runs: &[Measured]) {
    println!("\n== poll ({label}): manual sync of a simulator backlog, pages of {PAGE} ==");
    println!(
        "{:>8} {:>10} {:>8} {:>8} {:>6} {:>8} {:>9} {:>10} {:>12}  cores ponte/sim/pg",
        "backlog",
        "importable",
        "seen",
        "created",
        "calls",
        "wall s",
        "orders/s",
        "late/early",
        "peak RSS MB",
    );
    for m in runs {
        let halves = m
            .halves
            .map_or_else(|| "-".into(), |(a, b)| format!("{:.2}", b / a));
        println!(
            "{:>8} {:>10} {:>8} {:>8} {:>6} {:>8.1} {:>9.0} {:>10} {:>12}  {:.2}/{:.2}/{:.2}",
            m.backlog,
            m.importable,
            m.counts.seen,
            m.counts.created,
            m.counts.calls,
            m.wall_secs,
            m.rate(),
            halves,
            mb(m.rss_peak_mb),
            cores(m.cpu.ponte, m),
            cores(m.cpu.bench, m),
            cores(m.cpu.postgres, m),
        );
    }
    println!("target: >= 1,000 orders/s, peak RSS < {RSS_MB} MB, flat as the backlog grows");
    println!(
        "platform rate limits are OFF (simulator bucket 0, channel budget 1e6 req/s): at \
         Nuvemshop's documented {PLATFORM_REQ_PER_SEC} req/s, pages of {PAGE} cap polling at {} orders/s",
        platform_cap()
    );
    println!(
        "orders/s = orders read / (run started -> finished, server clock); late/early = orders/s \
         in the run's second half / first half; peak RSS = VmHWM of the ponte process at the end"
    );
}

/// The summary rows: the slowest rate and the highest memory against the target.
pub(super) fn rows(runs: &[Measured]) -> Vec<Row> {
    let slowest = runs
        .iter()
        .map(Measured::rate)
        .fold(f64::INFINITY, f64::min);
    let peak = runs.iter().filter_map(|m| m.rss_peak_mb).max();
    let (first, last) = (runs.first(), runs.last());
    let flat = match (first, last) {
        (Some(f), Some(l)) if runs.len() > 1 => format!("{:.2}", l.rate() / f.rate().max(1e-9)),
        _ => "-".into(),
    };
    let growth = match (
        first.and_then(|f| f.rss_peak_mb),
        last.and_then(|l| l.rss_peak_mb),
    ) {
        (Some(f), Some(l)) if runs.len() > 1 => format!("{:+} MB", l as i64 - f as i64),
        _ => "-".into(),
    };
    vec![
        Row {
            name: "orders/s (slowest backlog)",
            value: format!("{slowest:.0}"),
            target: ">= 1000".into(),
            ok: Some(slowest >= RATE),
        },
        Row {
            name: "peak RSS (highest)",
            value: format!("{} MB", mb(peak)),
            target: format!("< {RSS_MB} MB"),
            ok: peak.map(|p| p < RSS_MB),
        },
        Row {
            name: "orders/s largest / smallest backlog",
            value: flat,
            target: "flat".into(),
            ok: None,
        },
        Row {
            name: "peak RSS largest - smallest backlog",
            value: growth,
            target: "flat".into(),
            ok: None,
        },
        Row {
            name: "cap at 2 req/s (rate limits off)",
            value: format!("{} orders/s", platform_cap()),
            target: "-".into(),
            ok: None,
        },
    ]
}

/// The JSON figures: one entry per backlog size.
pub(super) fn figures(a: &PollArgs, runs: &[Measured]) -> Value {
    let sizes: Vec<Value> = runs
        .iter()
        .map(|m| {
            json!({
                "backlog": m.backlog,
                "importable": m.importable,
                "state": m.state,
                "counts": m.counts,
                "wall_secs": m.wall_secs,
                "orders_per_sec": m.rate(),
                "orders_per_sec_first_half": m.halves.map(|h| h.0),
                "orders_per_sec_second_half": m.halves.map(|h| h.1),
                "queued_ms": m.queued_ms,
                "observed_secs": m.observed_secs,
                "server_rss_before_mb": m.rss_start_mb,
                "server_peak_rss_mb": m.rss_peak_mb,
                "cpu_seconds": {
                    "ponte": m.cpu.ponte,
                    "bench_and_simulator": m.cpu.bench,
                    "postgres": m.cpu.postgres,
                },
                "cpu_cores_used": {
                    "ponte": cores(m.cpu.ponte, m),
                    "bench_and_simulator": cores(m.cpu.bench, m),
                    "postgres": cores(m.cpu.postgres, m),
                },
                "correct": m.wrong.is_empty(),
                "wrong": m.wrong,
            })
        })
        .collect();
    json!({
        "page_size": PAGE,
        "platform_rate_limits": "off",
        "platform_cap_orders_per_sec_at_documented_rate": platform_cap(),
        "seed": a.seed,
        "sizes": sizes,
    })
}
