//! `remap`: orders re-mapped per second when a new status row is applied to a
//! channel's stored orders (`POST /api/v1/channels/{id}/remap`: each stored payload
//! mapped again and applied through the import path, no platform call). A simulator
//! backlog of orders awaiting payment (`pending`, which the listing shows) is imported
//! by a manual sync first; then a row taking `pending` to `payment_in_review` is saved
//! and the remap followed to its end. Every order must move.

use crate::report::{emit, Row};
use crate::scenarios::{Setup, SetupSpec, Target};
use crate::server::TOKEN;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use ponte_sim::nuvemshop::{NewOrder, PaymentStatus};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The rate the issue asks for (orders per second, SQLite).
const TARGET_PER_SEC: f64 = 2_000.0;

/// Options of `remap`.
#[derive(Debug, clap::Args)]
pub struct RemapArgs {
    #[command(flatten)]
    pub target: Target,
    /// Orders in the channel.
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
}

impl RemapArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            orders: if quick { 2_000 } else { 100_000 },
        }
    }
}

/// Runs the scenario: prints the table, writes `bench-results/remap-<backend>.json`.
pub async fn remap(a: RemapArgs) -> anyhow::Result<Value> {
    if a.orders == 0 {
        bail!("--orders must be above 0");
    }
    let spec = SetupSpec {
        orders: a.orders,
        order: NewOrder {
            payment_status: PaymentStatus::Pending,
            ..NewOrder::default()
        },
        settings: json!({ "instant_events": false }),
        request_log: 1_000,
        env: vec![],
    };
    let (s, _) = Setup::with(spec, &a.target).await?;
    let out = measure(&s, a.orders).await;
    s.finish().await;
    let (import, remap) = out?;
    let wall = |r: &Value| -> anyhow::Result<f64> {
        let at = |k: &str| -> anyhow::Result<DateTime<Utc>> {
            Ok(r[k].as_str().with_context(|| format!("run {k}"))?.parse()?)
        };
        Ok((at("finished_at")? - at("started_at")?).num_milliseconds() as f64 / 1000.0)
    };
    let count = |r: &Value, k: &str| r["counts"][k].as_u64().unwrap_or(0);
    let (import_secs, remap_secs) = (wall(&import)?, wall(&remap)?);
    let rate = count(&remap, "seen") as f64 / remap_secs.max(1e-9);
    let mut wrong = vec![];
    if remap["state"] != "succeeded" {
        wrong.push(format!("remap {}: {}", remap["state"], remap["error"]));
    }
    if count(&remap, "updated") != a.orders as u64 {
        wrong.push(format!(
            "{} orders remapped of {}",
            count(&remap, "updated"),
            a.orders
        ));
    }
    for w in &wrong {
        eprintln!("remap: {w}");
    }
    let rows = vec![
        Row {
            name: "orders in the channel",
            value: a.orders.to_string(),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "import by manual sync (orders/s)",
            value: format!("{:.0}", a.orders as f64 / import_secs.max(1e-9)),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "remap wall time (s)",
            value: format!("{remap_secs:.1}"),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "remap (orders/s)",
            value: format!("{rate:.0}"),
            target: format!(">= {TARGET_PER_SEC:.0}"),
            ok: Some(rate >= TARGET_PER_SEC),
        },
    ];
    let figures = json!({
        "orders": a.orders,
        "import_secs": import_secs,
        "remap_secs": remap_secs,
        "remap_orders_per_sec": rate,
        "remap_counts": remap["counts"],
    });
    emit(
        "remap",
        &a.target.label(),
        &rows,
        figures.clone(),
        wrong.is_empty(),
    )?;
    Ok(figures)
}

/// Imports the backlog, saves the new row, remaps: both runs' final views.
async fn measure(s: &Setup, n: usize) -> anyhow::Result<(Value, Value)> {
    let base = &s.servers[0].base;
    let channels = s.get("/api/v1/channels").await?;
    let ch = channels["items"][0]["id"]
        .as_str()
        .context("no channel")?
        .to_owned();
    let deadline = Duration::from_secs(300 + n as u64 / 100);
    let post = |path: String, body: Value| async move {
        let r: Value = s
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::Ok(r)
    };
    let follow = |id: String| async move {
        let t0 = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let r = s.get(&format!("/api/v1/task-runs/{id}")).await?;
            if matches!(r["state"].as_str(), Some("succeeded" | "failed")) {
                return anyhow::Ok(r);
            }
            if t0.elapsed() > deadline {
                bail!("run {id} not finished after {deadline:?}: {r}");
            }
        }
    };
    let sync = post(
        format!("/api/v1/channels/{ch}/sync"),
        json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
    )
    .await?;
    let import = follow(sync["id"].as_str().context("sync id")?.to_owned()).await?;
    let map = s.get(&format!("/api/v1/channels/{ch}/status-map")).await?;
    let mut rows = map["rows"].as_array().context("rows")?.clone();
    rows.insert(
        0,
        json!({"payment_status": "pending", "to": "payment_in_review"}),
    );
    s.http
        .put(format!("{base}/api/v1/channels/{ch}/status-map"))
        .bearer_auth(TOKEN)
        .json(&json!({ "rows": rows }))
        .send()
        .await?
        .error_for_status()?;
    let run = post(
        format!("/api/v1/channels/{ch}/remap"),
        json!({"since": "2000-01-01T00:00:00Z"}),
    )
    .await?;
    let remap = follow(run["id"].as_str().context("remap id")?.to_owned()).await?;
    Ok((import, remap))
}
