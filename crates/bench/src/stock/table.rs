//! The `stock` tables and JSON figures.

use super::hub::{BUCKET, LEAK_PER_SEC};
use super::phases::{Idle, Propagation, IDLE_VARIANTS};
use super::StockArgs;
use crate::report::Row;
use crate::scenarios::ms;
use serde_json::{json, Value};
use std::time::Duration;

/// Change to push p99 on an idle channel, µs.
const IDLE_P99_US: u64 = 1_000_000;
/// Calls per coalesced minimum.
const CALLS_RATIO: f64 = 1.05;
/// Time per what the rate limit allows.
const FLOOR_RATIO: f64 = 1.10;

/// The phase's name.
pub(super) fn phase(p: &Propagation) -> &'static str {
    if p.limited {
        "limited"
    } else {
        "bulk"
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Cores used: CPU seconds per wall second.
fn cores(cpu: f64, wall: Duration) -> f64 {
    cpu / wall.as_secs_f64().max(1e-9)
}

/// Time per floor (none when the limit allows everything at once).
fn floor_ratio(p: &Propagation) -> Option<f64> {
    let floor = p.floor().as_secs_f64();
    (p.limited && floor > 0.0).then(|| p.wall.as_secs_f64() / floor)
}

/// A line as soon as a propagation ends.
pub(super) fn progress(p: &Propagation) {
    eprintln!(
        "stock {}: {} changes over {} SKUs x {} channels in {:.1} s (setup {:.1} s), calls/minimum {:.3}",
        phase(p),
        p.size.changes,
        p.size.products * p.size.variants,
        p.size.channels,
        p.wall.as_secs_f64(),
        p.setup.as_secs_f64(),
        p.worst_call_ratio()
    );
}

/// The details: one line per channel.
pub(super) fn print(label: &str, idle: Option<&Idle>, runs: &[Propagation]) {
    println!("\n== stock ({label}) ==");
    if let Some(i) = idle {
        println!(
            "idle: {} single movements on 1 channel listing {} SKUs ({} variants per product), \
             each after the job queue is idle; {} push calls",
            i.samples, i.skus, IDLE_VARIANTS, i.calls
        );
    }
    for p in runs {
        println!(
            "{}: {} products x {} variants = {} SKUs listed on {} channels (one store each); \
             {} movements in {} request(s); platform rate limit {}",
            phase(p),
            p.size.products,
            p.size.variants,
            p.size.products * p.size.variants,
            p.size.channels,
            p.size.changes,
            p.requests,
            if p.limited {
                format!("ON (store bucket {BUCKET} leaking {LEAK_PER_SEC}/s, channel budget {LEAK_PER_SEC}/s burst {BUCKET})")
            } else {
                "off".into()
            }
        );
        println!(
            "  {:>7} {:>7} {:>7} {:>8} {:>6} {:>13} {:>12} {:>10} {:>7}",
            "channel",
            "minimum",
            "calls",
            "refused",
            "other",
            "first push s",
            "last push s",
            "mismatched",
            "failed"
        );
        let at = |d: Option<Duration>| {
            d.map_or_else(|| "-".into(), |d| format!("{:.2}", d.as_secs_f64()))
        };
        for (n, c) in p.channels.iter().enumerate() {
            println!(
                "  {:>7} {:>7} {:>7} {:>8} {:>6} {:>13} {:>12} {:>10} {:>7}",
                n,
                p.minimum,
                c.calls,
                c.refused,
                c.other,
                at(c.first),
                at(c.last),
                c.mismatched,
                c.failed
            );
        }
        println!(
            "  movements POST {:.2} s, first POST -> last push {:.2} s, -> nothing pending seen {:.2} s; \
             CPU cores ponte/bench+sim/pg {:.2}/{:.2}/{:.2}; setup {:.1} s; peak RSS {} MB",
            p.api.as_secs_f64(),
            p.wall.as_secs_f64(),
            p.observed.as_secs_f64(),
            cores(p.cpu.ponte, p.observed),
            cores(p.cpu.bench, p.observed),
            cores(p.cpu.postgres, p.observed),
            p.setup.as_secs_f64(),
            p.rss_mb.map_or_else(|| "?".into(), |m| m.to_string()),
        );
    }
    println!(
        "minimum = products with a changed value (one PATCH /products/{{id}}/variants each), per channel; \
         floor = max(0, minimum - {BUCKET}) / {LEAK_PER_SEC} s (stores in parallel); \
         the movements POST is inside the measured time"
    );
}

/// A row without a target.
fn row(name: &'static str, value: String) -> Row {
    Row {
        name,
        value,
        target: "-".into(),
        ok: None,
    }
}

/// The printed table.
pub(super) fn rows(idle: Option<&Idle>, runs: &[Propagation]) -> Vec<Row> {
    let mut rows = vec![];
    if let Some(i) = idle {
        let p99 = i.to_platform.value_at_quantile(0.99);
        rows.push(row(
            "idle: change -> push p50",
            ms(i.to_platform.value_at_quantile(0.5)),
        ));
        rows.push(Row {
            name: "idle: change -> push p99",
            value: ms(p99),
            target: "<= 1 s".into(),
            ok: Some(p99 <= IDLE_P99_US),
        });
        rows.push(row("idle: change -> push max", ms(i.to_platform.max())));
        rows.push(row(
            "idle: movement API p50",
            ms(i.api.value_at_quantile(0.5)),
        ));
    }
    for p in runs {
        let name =
            |bulk: &'static str, limited: &'static str| if p.limited { limited } else { bulk };
        let calls_min = p.channels.iter().map(|c| c.calls).min().unwrap_or(0);
        let calls_max = p.channels.iter().map(|c| c.calls).max().unwrap_or(0);
        let ratio = p.worst_call_ratio();
        rows.push(row(
            name("bulk: SKUs x channels", "limited: SKUs x channels"),
            format!(
                "{} x {}",
                p.size.products * p.size.variants,
                p.size.channels
            ),
        ));
        rows.push(row(
            name(
                "bulk: movements (requests)",
                "limited: movements (requests)",
            ),
            format!("{} ({})", p.size.changes, p.requests),
        ));
        rows.push(row(
            name("bulk: movements POST", "limited: movements POST"),
            secs(p.api),
        ));
        rows.push(row(
            name(
                "bulk: first POST -> last push",
                "limited: first POST -> last push",
            ),
            secs(p.wall),
        ));
        rows.push(row(
            name(
                "bulk: calls per channel / minimum",
                "limited: calls per channel / minimum",
            ),
            if calls_min == calls_max {
                format!("{calls_max} / {}", p.minimum)
            } else {
                format!("{calls_min}-{calls_max} / {}", p.minimum)
            },
        ));
        rows.push(Row {
            name: name(
                "bulk: calls / minimum (worst)",
                "limited: calls / minimum (worst)",
            ),
            value: format!("{ratio:.3}"),
            target: format!("<= {CALLS_RATIO:.2}"),
            ok: Some(ratio <= CALLS_RATIO),
        });
        if p.limited {
            let refused: usize = p.channels.iter().map(|c| c.refused).sum();
            rows.push(row("limited: floor allowed by the limit", secs(p.floor())));
            let r = floor_ratio(p);
            rows.push(Row {
                name: "limited: time / floor",
                value: r.map_or_else(|| "-".into(), |r| format!("{r:.3}")),
                target: format!("<= {FLOOR_RATIO:.2}"),
                ok: r.map(|r| r <= FLOOR_RATIO),
            });
            rows.push(row("limited: pushes refused (429)", refused.to_string()));
        } else {
            rows.push(row(
                "bulk: pushes/s (all stores)",
                format!("{:.0}", p.calls_per_sec()),
            ));
            rows.push(row(
                "bulk: CPU cores used by ponte",
                format!("{:.2}", cores(p.cpu.ponte, p.observed)),
            ));
        }
    }
    rows
}

/// The JSON figures.
pub(super) fn figures(a: &StockArgs, idle: Option<&Idle>, runs: &[Propagation]) -> Value {
    let q = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let idle = idle.map(|i| {
        json!({
            "samples": i.samples,
            "skus": i.skus,
            "variants_per_product": IDLE_VARIANTS,
            "gap_ms": a.gap_ms,
            "change_to_push_p50_ms": q(&i.to_platform, 0.5),
            "change_to_push_p99_ms": q(&i.to_platform, 0.99),
            "change_to_push_max_ms": i.to_platform.max() as f64 / 1000.0,
            "movement_api_p50_ms": q(&i.api, 0.5),
            "movement_api_p99_ms": q(&i.api, 0.99),
            "push_calls": i.calls,
            "target_p99_ms": IDLE_P99_US / 1000,
            "correct": i.wrong.is_empty(),
            "wrong": i.wrong,
        })
    });
    let mut out = json!({ "idle": idle, "seed": a.seed });
    for p in runs {
        let channels: Vec<Value> = p
            .channels
            .iter()
            .map(|c| {
                json!({
                    "calls": c.calls,
                    "refused": c.refused,
                    "other_requests": c.other,
                    "first_push_secs": c.first.map(|d| d.as_secs_f64()),
                    "last_push_secs": c.last.map(|d| d.as_secs_f64()),
                    "mismatched_variants": c.mismatched,
                    "failed_values": c.failed,
                })
            })
            .collect();
        out[phase(p)] = json!({
            "rate_limited": p.limited,
            "products": p.size.products,
            "variants_per_product": p.size.variants,
            "skus": p.size.products * p.size.variants,
            "channels": p.size.channels,
            "movements": p.size.changes,
            "movements_per_request": p.size.batch,
            "requests": p.requests,
            "movements_post_secs": p.api.as_secs_f64(),
            "first_post_to_last_push_secs": p.wall.as_secs_f64(),
            "first_post_to_nothing_pending_secs": p.observed.as_secs_f64(),
            "coalesced_minimum_calls_per_channel": p.minimum,
            "worst_calls_per_minimum": p.worst_call_ratio(),
            "target_calls_per_minimum": CALLS_RATIO,
            "pushes_per_sec_all_stores": p.calls_per_sec(),
            "floor_secs": p.limited.then(|| p.floor().as_secs_f64()),
            "time_per_floor": floor_ratio(p),
            "target_time_per_floor": p.limited.then_some(FLOOR_RATIO),
            "store_bucket": p.limited.then_some(BUCKET),
            "store_leak_per_sec": p.limited.then_some(LEAK_PER_SEC),
            "per_channel": channels,
            "cpu_seconds": {"ponte": p.cpu.ponte, "bench_and_simulators": p.cpu.bench, "postgres": p.cpu.postgres},
            "cpu_cores_used": {
                "ponte": cores(p.cpu.ponte, p.observed),
                "bench_and_simulators": cores(p.cpu.bench, p.observed),
                "postgres": cores(p.cpu.postgres, p.observed),
            },
            "setup_secs": p.setup.as_secs_f64(),
            "server_peak_rss_mb": p.rss_mb,
            "correct": p.wrong.is_empty(),
            "wrong": p.wrong,
        });
    }
    out
}
