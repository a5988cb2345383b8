//! The `sends` table and JSON figures.

use super::phases::{Latency, Throughput};
use super::probe::Cpu;
use super::SendsArgs;
use crate::report::Row;
use crate::scenarios::ms;
use serde_json::{json, Value};
use std::time::Duration;

/// Milliseconds of a µs histogram quantile.
fn q_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Cores used: CPU seconds per wall second.
fn cores(cpu: f64, wall: Duration) -> f64 {
    cpu / wall.as_secs_f64().max(1e-9)
}

/// The JSON figures.
pub(super) fn figures(
    a: &SendsArgs,
    lat: &Latency,
    thr: &Throughput,
    import_time: Duration,
    rss_mb: Option<u64>,
) -> Value {
    let Cpu {
        ponte,
        bench,
        postgres,
    } = thr.cpu;
    json!({
        "shipping_api": a.shipping_api,
        "instances": a.target.instances,
        "orders_imported": a.orders,
        "import_ms": import_time.as_millis() as u64,
        "latency_orders": a.latency_orders,
        "gap_ms": a.gap_ms,
        "action_to_platform_p50_ms": q_ms(&lat.to_platform, 0.5),
        "action_to_platform_p99_ms": q_ms(&lat.to_platform, 0.99),
        "action_to_platform_max_ms": lat.to_platform.max() as f64 / 1000.0,
        "action_api_p50_ms": q_ms(&lat.api, 0.5),
        "action_api_p99_ms": q_ms(&lat.api, 0.99),
        "server_send_latency_mean_ms": lat.server_mean_ms,
        "throughput_orders": a.throughput_orders,
        "clients": a.clients,
        "actions_accepted_per_sec": thr.actions.rate(),
        "action_api_under_load_p50_ms": q_ms(&thr.actions.latency, 0.5),
        "action_api_under_load_p99_ms": q_ms(&thr.actions.latency, 0.99),
        "api_phase_ms": thr.actions.elapsed.as_millis() as u64,
        "first_action_to_last_send_ms": thr.wall.as_millis() as u64,
        "sends_per_sec": thr.sends_per_sec(),
        "sends_per_sec_during_api_phase": thr.during_api_per_sec(),
        "sends_per_sec_after_api_phase": thr.after_api_per_sec(),
        "platform_calls_per_sec": thr.calls_per_sec(),
        "platform_calls_per_send": thr.platform_calls as f64 / a.throughput_orders.max(1) as f64,
        "cpu_seconds": { "ponte": ponte, "bench_sim_and_load": bench, "postgres": postgres },
        "cpu_cores_used": {
            "ponte": cores(ponte, thr.wall),
            "bench_sim_and_load": cores(bench, thr.wall),
            "postgres": cores(postgres, thr.wall),
        },
        "server_peak_rss_mb": rss_mb,
    })
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
pub(super) fn rows(lat: &Latency, thr: &Throughput, postgres: bool) -> Vec<Row> {
    let p99 = lat.to_platform.value_at_quantile(0.99);
    let rate = thr.sends_per_sec();
    let mut rows = vec![
        row(
            "action -> platform request p50",
            ms(lat.to_platform.value_at_quantile(0.5)),
        ),
        Row {
            name: "action -> platform request p99",
            value: ms(p99),
            target: "<= 50 ms".into(),
            ok: Some(p99 <= 50_000),
        },
        row("action -> platform request max", ms(lat.to_platform.max())),
        row(
            "action API response p50",
            ms(lat.api.value_at_quantile(0.5)),
        ),
        row(
            "action API response p99",
            ms(lat.api.value_at_quantile(0.99)),
        ),
        row(
            "actions accepted/s (busy)",
            format!("{:.0}", thr.actions.rate()),
        ),
        row(
            "action API response p99 (busy)",
            ms(thr.actions.latency.value_at_quantile(0.99)),
        ),
        Row {
            name: "sends/s to the simulator",
            value: format!("{rate:.0}"),
            target: ">= 2000".into(),
            ok: Some(rate >= 2000.0),
        },
        row(
            "  while API calls were made",
            format!("{:.0}", thr.during_api_per_sec()),
        ),
        row(
            "  after (queue draining alone)",
            format!("{:.0}", thr.after_api_per_sec()),
        ),
        row("platform calls/s", format!("{:.0}", thr.calls_per_sec())),
        row("API phase", ms(thr.actions.elapsed.as_micros() as u64)),
        row("first action -> last send", ms(thr.wall.as_micros() as u64)),
        row(
            "CPU cores used: ponte",
            format!("{:.2}", cores(thr.cpu.ponte, thr.wall)),
        ),
        row(
            "CPU cores used: simulator + load",
            format!("{:.2}", cores(thr.cpu.bench, thr.wall)),
        ),
    ];
    if postgres {
        rows.push(row(
            "CPU cores used: PostgreSQL",
            format!("{:.2}", cores(thr.cpu.postgres, thr.wall)),
        ));
    }
    rows
}
