//! `americanas`: orders imported per second from the Americanas (SkyHub) order queue.
//!
//! A backlog of orders waits in the simulator's queue; one scheduled run (`run now`)
//! drains it: lots of `GET /queues/orders` (one order per call), each page stored,
//! then each order deleted. Measured twice on fresh simulators, servers and data
//! directories: with the documented limits (queues 9/s per method at the simulator,
//! the channel's default budget of 9/s, burst 3) and without (limits off on both
//! sides). Each run must succeed, hold every order once and leave the queue empty.

use crate::report::{emit, Row};
use crate::scenarios::Target;
use crate::stock::hub::Hub;
use anyhow::{bail, Context};
use ponte_sim::americanas::{AmConfig, AmSim, NewAmOrder};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Options of `americanas`.
#[derive(Debug, clap::Args)]
pub struct AmArgs {
    #[command(flatten)]
    pub target: Target,
    /// Orders waiting in the queue with the documented limits (about 9/s: keep it small).
    #[arg(long, default_value_t = 270)]
    pub limited_orders: usize,
    /// Orders waiting in the queue without limits.
    #[arg(long, default_value_t = 3_000)]
    pub orders: usize,
}

impl AmArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            limited_orders: if quick { 27 } else { 270 },
            orders: if quick { 100 } else { 3_000 },
        }
    }
}

struct Drained {
    orders: usize,
    secs: f64,
    wrong: Vec<String>,
}

impl Drained {
    fn rate(&self) -> f64 {
        self.orders as f64 / self.secs.max(1e-9)
    }
}

async fn drain(target: &Target, orders: usize, limits: bool) -> anyhow::Result<Drained> {
    let sim = AmSim::new(AmConfig {
        limits,
        request_log_capacity: 0,
        ..AmConfig::default()
    });
    let server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let hub = Hub::start(target).await?;
    let out = drain_run(&hub, &sim, &server.base_url(), orders, limits).await;
    hub.finish().await;
    server.shutdown().await;
    out
}

async fn drain_run(
    hub: &Hub,
    sim: &AmSim,
    base: &str,
    orders: usize,
    limits: bool,
) -> anyhow::Result<Drained> {
    let c = sim.config();
    let mut settings = json!({"api_base_url": base, "import_policy": "all"});
    if !limits {
        settings["rate_limit_per_sec"] = json!(1e6);
        settings["rate_limit_burst"] = json!(1e6);
    }
    let ch = hub
        .post(
            "/api/v1/channels",
            &json!({"platform": "americanas", "name": "bench americanas", "settings": settings,
                    "credentials": {"user_email": c.user_email, "api_key": c.api_key,
                                    "account_manager_key": c.account_manager_key}}),
        )
        .await?;
    let ch = ch["id"].as_str().context("channel id")?.to_owned();
    for _ in 0..orders {
        sim.create_order(NewAmOrder {
            status: "payment_received".into(),
            ..NewAmOrder::default()
        });
    }
    let tasks = hub
        .get(&format!("/api/v1/scheduled-tasks?channel_id={ch}"))
        .await?;
    let task = tasks["items"]
        .as_array()
        .context("tasks")?
        .iter()
        .find(|t| t["kind"] == "import_orders")
        .context("import_orders task")?["id"]
        .as_str()
        .context("task id")?
        .to_owned();
    let t0 = Instant::now();
    let run = hub
        .post(&format!("/api/v1/scheduled-tasks/{task}/run"), &json!({}))
        .await?;
    let run_id = run["id"].as_str().context("run id")?.to_owned();
    let deadline = t0 + Duration::from_secs(60 + orders as u64);
    let end = loop {
        let r = hub.get(&format!("/api/v1/task-runs/{run_id}")).await?;
        if r["state"] == "succeeded" || r["state"] == "failed" {
            break r;
        }
        if Instant::now() > deadline {
            bail!("the queue run did not end in time");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secs = t0.elapsed().as_secs_f64();
    let held = hub.orders().await?;
    let mut wrong = vec![];
    if end["state"] != "succeeded" {
        wrong.push(format!("run {}", end));
    }
    let mut ext: Vec<&str> = held.iter().map(|(e, _)| e.as_str()).collect();
    ext.sort_unstable();
    ext.dedup();
    if held.len() != orders || ext.len() != orders {
        wrong.push(format!(
            "{} orders held ({} distinct), {orders} queued",
            held.len(),
            ext.len()
        ));
    }
    if sim.queue_len() != 0 {
        wrong.push(format!("{} orders left in the queue", sim.queue_len()));
    }
    Ok(Drained {
        orders,
        secs,
        wrong,
    })
}

/// Runs the scenario: prints the figures, writes `bench-results/americanas-<backend>.json`.
pub async fn americanas(a: AmArgs) -> anyhow::Result<Value> {
    if a.target.instances > 1 {
        bail!("americanas measures one instance; drop --instances");
    }
    let limited = drain(&a.target, a.limited_orders, true).await?;
    let free = drain(&a.target, a.orders, false).await?;
    let label = a.target.label();
    println!("\n== americanas ({label}) ==");
    println!(
        "queue with the documented limits: {} orders in {:.2} s = {:.1} orders/s",
        limited.orders,
        limited.secs,
        limited.rate()
    );
    println!(
        "queue without limits: {} orders in {:.2} s = {:.0} orders/s",
        free.orders,
        free.secs,
        free.rate()
    );
    let rows = vec![
        Row {
            name: "queue orders/s (documented limits)",
            value: format!("{:.1}", limited.rate()),
            target: "≈ 9".into(),
            ok: None,
        },
        Row {
            name: "queue orders/s (no limits)",
            value: format!("{:.0}", free.rate()),
            target: "-".into(),
            ok: None,
        },
    ];
    let wrong: Vec<&String> = limited.wrong.iter().chain(&free.wrong).collect();
    for w in &wrong {
        eprintln!("americanas: {w}");
    }
    let figures = json!({
        "limited_orders": limited.orders, "limited_secs": limited.secs, "limited_per_sec": limited.rate(),
        "orders": free.orders, "secs": free.secs, "per_sec": free.rate(), "wrong": wrong,
    });
    emit(
        "americanas",
        &label,
        &rows,
        figures.clone(),
        wrong.is_empty(),
    )?;
    Ok(figures)
}
