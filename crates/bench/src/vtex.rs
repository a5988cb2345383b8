//! `vtex`: orders imported per second from a VTEX account, by the two polling paths:
//! the scheduled run reading Feed v3 (lots of 10 events, each order fetched, the page
//! stored, then its handles committed) and a manual sync walking the OMS list (pages
//! of 30, each order fetched). Each path is measured on a fresh simulator, server and
//! data directory; platform rate limits are off on both sides. Each run must succeed
//! and leave ponte holding exactly the importable orders, each once, with the status
//! the default table gives; the feed must end empty.
//!
//! Then the hook: ponte's hook configured at the account, orders created at a steady
//! rate, each notification's answer time as the simulator saw it (VTEX gives a hook 5 s),
//! and every importable order held once.
//!
//! Then stock: SKUs listed on a VTEX channel, one bulk inventory count, and the time
//! until the simulator's warehouse shows every value (one `PUT` per SKU, each answered
//! after a simulated platform latency); every SKU must show ponte's value.

use crate::held;
use crate::report::{emit, Row};
use crate::scenarios::Target;
use crate::stock::hub::{Hub, Item, WAREHOUSE};
use anyhow::{bail, Context};
use ponte_core::status::OrderStatus;
use ponte_sim::vtex::{Fault, FaultKind, Method, VtexConfig, VtexSim};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Orders per second each path must reach (with rate limits off).
const RATE: f64 = 200.0;
/// How long the simulator takes to answer each inventory `PUT` in the stock phase.
const PUT_LATENCY: Duration = Duration::from_millis(50);
/// Orders per second created in the hook phase.
const HOOK_RATE: usize = 100;
/// Most orders the hook phase creates.
const HOOK_ORDERS_MAX: usize = 2_000;
/// The hook secret the hook phase gives its channel.
const HOOK_SECRET: &str = "bench-hook-secret-0123456789";
/// The simulator's warehouse the channel pushes to.
const VTEX_WAREHOUSE: &str = "1_1";

/// Options of `vtex`.
#[derive(Debug, clap::Args)]
pub struct VtexArgs {
    #[command(flatten)]
    pub target: Target,
    /// Orders in the simulated account.
    #[arg(long, default_value_t = 5_000)]
    pub orders: usize,
    /// Seed of the generated orders.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// SKUs listed on the channel in the stock phase.
    #[arg(long, default_value_t = 1_000)]
    pub skus: usize,
}

impl VtexArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            orders: if quick { 200 } else { 5_000 },
            seed: 42,
            skus: if quick { 100 } else { 1_000 },
        }
    }
}

/// How orders reach ponte.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// The scheduled run: Feed v3.
    Feed,
    /// A manual sync: the OMS list by creation date.
    Sync,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::Feed => "feed",
            Path::Sync => "sync",
        }
    }
}

/// One path's measurement.
struct Measured {
    path: Path,
    /// The run's final counts.
    counts: Value,
    /// HTTP requests the simulator answered during the run.
    requests: usize,
    /// Server clock, run started to finished.
    wall_secs: f64,
    /// Orders ponte holds.
    held: usize,
    /// Importable orders in the account.
    importable: usize,
    /// Peak RSS of the server, MiB.
    rss_peak_mb: Option<u64>,
    /// What the check found wrong (empty: right).
    wrong: Vec<String>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.held as f64 / self.wall_secs.max(1e-9)
    }
}

/// Runs the scenario: prints the table, writes `bench-results/vtex-<backend>.json`.
pub async fn vtex(a: VtexArgs) -> anyhow::Result<Value> {
    if a.target.instances > 1 {
        bail!("vtex measures one instance (a run runs on one); drop --instances");
    }
    if a.orders == 0 {
        bail!("--orders must be above 0");
    }
    let mut runs = vec![];
    for path in [Path::Feed, Path::Sync] {
        let m = measure(&a, path).await?;
        eprintln!(
            "vtex {}: {} orders in {:.1} s ({:.0}/s)",
            path.name(),
            m.held,
            m.wall_secs,
            m.rate()
        );
        for w in &m.wrong {
            eprintln!("vtex {}: {w}", path.name());
        }
        runs.push(m);
    }
    let hook = measure_hook(&a.target, a.orders.min(HOOK_ORDERS_MAX), a.seed).await?;
    eprintln!(
        "vtex hook: {} notifications, answer p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        hook.answered, hook.p50_ms, hook.p99_ms, hook.max_ms
    );
    let stock = measure_stock(&a.target, a.skus).await?;
    eprintln!(
        "vtex stock: {} SKUs in {:.1} s ({:.0}/s)",
        stock.skus,
        stock.secs,
        stock.rate()
    );
    let label = a.target.label();
    println!(
        "\n== vtex ({label}): {} orders imported by each polling path ==",
        a.orders
    );
    println!(
        "{:>6} {:>10} {:>8} {:>8} {:>8} {:>9} {:>12}",
        "path", "importable", "held", "requests", "wall s", "orders/s", "peak RSS MB"
    );
    for m in &runs {
        println!(
            "{:>6} {:>10} {:>8} {:>8} {:>8.1} {:>9.0} {:>12}",
            m.path.name(),
            m.importable,
            m.held,
            m.requests,
            m.wall_secs,
            m.rate(),
            m.rss_peak_mb.map_or_else(|| "?".into(), |v| v.to_string()),
        );
    }
    println!(
        "platform rate limits are OFF; feed = lots of 10 events, each order fetched (4 at a \
         time), stored, then committed; sync = pages of 30 by creation date, each order fetched; \
         at VTEX's documented 6000 order reads/min either path is capped near 100 orders/s"
    );
    println!(
        "hook: {} orders at {HOOK_RATE} orders/s -> {} notifications answered 200 (answer p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms; {} not 200)",
        hook.orders, hook.answered, hook.p50_ms, hook.p99_ms, hook.max_ms, hook.refused
    );
    println!(
        "stock: {} SKUs counted at once -> every value in the VTEX warehouse: {:.1} s, {:.0} SKUs/s, \
         {} PUTs ({} ms platform latency each, rate limits off)",
        stock.skus,
        stock.secs,
        stock.rate(),
        stock.requests,
        PUT_LATENCY.as_millis()
    );
    let mut rows: Vec<Row> = runs
        .iter()
        .map(|m| Row {
            name: match m.path {
                Path::Feed => "feed orders/s",
                Path::Sync => "manual sync orders/s",
            },
            value: format!("{:.0}", m.rate()),
            target: format!(">= {RATE:.0}"),
            ok: Some(m.rate() >= RATE),
        })
        .collect();
    rows.push(Row {
        name: "hook answer p99",
        value: format!("{:.1} ms", hook.p99_ms),
        target: "< 5000 ms".into(),
        ok: Some(hook.p99_ms < 5_000.0),
    });
    rows.push(Row {
        name: "stock SKUs/s (50 ms per PUT)",
        value: format!("{:.0}", stock.rate()),
        target: "-".into(),
        ok: None,
    });
    let figures = json!({
        "orders": a.orders,
        "seed": a.seed,
        "platform_rate_limits": "off",
        "paths": runs.iter().map(|m| json!({
            "path": m.path.name(),
            "importable": m.importable,
            "held": m.held,
            "counts": m.counts,
            "platform_requests": m.requests,
            "wall_secs": m.wall_secs,
            "orders_per_sec": m.rate(),
            "server_peak_rss_mb": m.rss_peak_mb,
            "correct": m.wrong.is_empty(),
            "wrong": m.wrong,
        })).collect::<Vec<_>>(),
        "hook": {
            "orders": hook.orders,
            "orders_per_sec": HOOK_RATE,
            "notifications_answered_200": hook.answered,
            "not_200": hook.refused,
            "answer_p50_ms": hook.p50_ms,
            "answer_p99_ms": hook.p99_ms,
            "answer_max_ms": hook.max_ms,
            "wrong": hook.wrong,
        },
        "stock": {
            "skus": stock.skus,
            "secs": stock.secs,
            "skus_per_sec": stock.rate(),
            "inventory_puts": stock.requests,
            "put_latency_ms": PUT_LATENCY.as_millis(),
            "wrong": stock.wrong,
        },
    });
    for w in hook.wrong.iter().chain(&stock.wrong) {
        eprintln!("vtex: {w}");
    }
    let correct =
        runs.iter().all(|m| m.wrong.is_empty()) && hook.wrong.is_empty() && stock.wrong.is_empty();
    emit("vtex", &label, &rows, figures.clone(), correct)?;
    Ok(figures)
}

/// A fresh simulator and ponte, the orders, one run along `path`, the check.
async fn measure(a: &VtexArgs, path: Path) -> anyhow::Result<Measured> {
    let sim = VtexSim::new(VtexConfig {
        request_log_capacity: 4 * a.orders + 1_000,
        ..VtexConfig::default()
    });
    let sim_server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let hub = Hub::start(&a.target).await?;
    let out = run(a, path, &sim, &sim_server.base_url(), &hub).await;
    hub.finish().await;
    sim_server.shutdown().await;
    out
}

async fn run(
    a: &VtexArgs,
    path: Path,
    sim: &VtexSim,
    sim_base: &str,
    hub: &Hub,
) -> anyhow::Result<Measured> {
    let c = sim.config();
    let channel = hub
        .post(
            "/api/v1/channels",
            &json!({"platform": "vtex", "name": "bench",
                "settings": {"account": c.account, "api_base_url": sim_base, "import_policy": "all",
                             "instant_events": false,
                             "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6},
                "credentials": {"app_key": c.app_key, "app_token": c.app_token}}),
        )
        .await?;
    let channel = channel["id"].as_str().context("channel id")?.to_owned();
    let tasks = hub
        .get(&format!("/api/v1/scheduled-tasks?channel_id={channel}"))
        .await?;
    let task = tasks["items"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["kind"] == "import_orders"))
        .and_then(|t| t["id"].as_str())
        .context("import_orders task")?
        .to_owned();
    let run_now = format!("/api/v1/scheduled-tasks/{task}/run");
    if let Path::Feed = path {
        // The first run configures the feed; only later changes are queued in it.
        let first = hub.post(&run_now, &json!({})).await?;
        follow(hub, &first, Duration::from_secs(60)).await?;
    }
    sim.generate_orders(a.orders, a.seed);
    let expected = importable(sim);
    sim.clear_requests();
    let started = match path {
        Path::Feed => hub.post(&run_now, &json!({})).await?,
        Path::Sync => {
            hub.post(
                &format!("/api/v1/channels/{channel}/sync"),
                &json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
            )
            .await?
        }
    };
    let deadline = Duration::from_secs(300 + a.orders as u64 / 20);
    let end = follow(hub, &started, deadline).await?;
    let rss_peak_mb = hub.rss_mb();
    let requests = sim.requests().len();
    let secs = |k: &str| -> anyhow::Result<f64> {
        let t: chrono::DateTime<chrono::Utc> = end[k]
            .as_str()
            .with_context(|| format!("run {k}"))?
            .parse()?;
        Ok(t.timestamp_millis() as f64 / 1000.0)
    };
    let wall_secs = secs("finished_at")? - secs("started_at")?;
    let mut wrong = vec![];
    if end["state"] != "succeeded" {
        wrong.push(format!("run {}: {}", end["state"], end["error"]));
    }
    let held = hub.orders().await?;
    wrong.extend(held::differences(&expected, &held));
    if let Path::Feed = path {
        if sim.feed_len() > 0 {
            wrong.push(format!("{} feed events left uncommitted", sim.feed_len()));
        }
    }
    Ok(Measured {
        path,
        counts: end["counts"].clone(),
        requests,
        wall_secs,
        held: held.len(),
        importable: expected.len(),
        rss_peak_mb,
        wrong,
    })
}

/// Order id -> ponte status of every order importable when first seen (policy `all`):
/// not cancelled, not already invoiced at the platform.
fn importable(sim: &VtexSim) -> HashMap<String, String> {
    let table = ponte_channels::vtex::default_status_table();
    sim.order_ids()
        .into_iter()
        .filter_map(|id| sim.order(&id))
        .filter_map(|raw| ponte_channels::vtex::read_order(raw, &[]).ok())
        .filter_map(|m| {
            let status = table.status_of(&[], &m.data.platform_status);
            (status != OrderStatus::Cancelled && !m.closed_at_platform)
                .then(|| (m.data.external_id, status.as_str().to_owned()))
        })
        .collect()
}

/// Follows a task run to its end.
async fn follow(hub: &Hub, run: &Value, deadline: Duration) -> anyhow::Result<Value> {
    let id = run["id"].as_str().context("run id")?;
    let t0 = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = hub.get(&format!("/api/v1/task-runs/{id}")).await?;
        if matches!(r["state"].as_str(), Some("succeeded" | "failed")) {
            return Ok(r);
        }
        if t0.elapsed() > deadline {
            bail!("run not finished after {deadline:?}: {r}");
        }
    }
}

/// The stock phase's measurement.
struct StockMeasured {
    skus: usize,
    /// The bulk movement posted to every value shown.
    secs: f64,
    /// Inventory `PUT`s the simulator answered.
    requests: usize,
    wrong: Vec<String>,
}

impl StockMeasured {
    fn rate(&self) -> f64 {
        self.skus as f64 / self.secs.max(1e-9)
    }
}

/// A fresh simulator and ponte, `skus` listings, one bulk count, the check.
async fn measure_stock(target: &Target, skus: usize) -> anyhow::Result<StockMeasured> {
    let sim = VtexSim::new(VtexConfig {
        request_log_capacity: 4 * skus + 1_000,
        ..VtexConfig::default()
    });
    let sim_server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let hub = Hub::start(target).await?;
    let out = stock_run(&hub, &sim, &sim_server.base_url(), skus).await;
    hub.finish().await;
    sim_server.shutdown().await;
    out
}

async fn stock_run(
    hub: &Hub,
    sim: &VtexSim,
    sim_base: &str,
    skus: usize,
) -> anyhow::Result<StockMeasured> {
    let items: Vec<Item> = (0..skus as u64)
        .map(|i| (1_000 + i, 100_000 + i, format!("VTX-{i:06}")))
        .collect();
    hub.catalogue(&items).await?;
    let c = sim.config();
    let ch = hub
        .post(
            "/api/v1/channels",
            &json!({"platform": "vtex", "name": "bench stock",
                "settings": {"account": c.account, "api_base_url": sim_base, "warehouse_id": VTEX_WAREHOUSE,
                             "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6, "send_stock": true,
                             "stock_warehouses": [WAREHOUSE], "debit_warehouse": WAREHOUSE, "stock_buffer": 0},
                "credentials": {"app_key": c.app_key, "app_token": c.app_token}}),
        )
        .await?;
    let ch = ch["id"].as_str().context("channel id")?.to_owned();
    hub.list(&ch, &items).await?;
    let timeout = Duration::from_secs(120 + skus as u64 / 5);
    hub.settled(std::slice::from_ref(&ch), timeout).await?;
    sim.clear_requests();
    let puts = u32::try_from(skus).unwrap_or(u32::MAX);
    sim.inject(
        Fault::new("/api/logistics/", puts, FaultKind::Delay(PUT_LATENCY)).with_method(Method::PUT),
    );
    let movements: Vec<Value> = items
        .iter()
        .map(
            |(_, _, sku)| json!({"sku": sku, "warehouse": WAREHOUSE, "set": 40, "reason": "bench"}),
        )
        .collect();
    let t0 = Instant::now();
    hub.post(
        "/api/v1/stock/movements",
        &json!({ "movements": movements }),
    )
    .await?;
    hub.settled(std::slice::from_ref(&ch), timeout).await?;
    let secs = t0.elapsed().as_secs_f64();
    let requests = sim
        .requests()
        .iter()
        .filter(|r| r.method == Method::PUT && r.path.starts_with("/api/logistics/"))
        .count();
    let off = items
        .iter()
        .filter(|(_, v, _)| sim.stock(&v.to_string(), VTEX_WAREHOUSE) != Some(40))
        .count();
    let mut wrong = vec![];
    if off > 0 {
        wrong.push(format!("{off} SKUs do not show 40 in the VTEX warehouse"));
    }
    Ok(StockMeasured {
        skus,
        secs,
        requests,
        wrong,
    })
}

/// The hook phase's measurement.
struct HookMeasured {
    orders: usize,
    /// First attempts answered 200.
    answered: usize,
    /// Attempts answered otherwise (or not at all).
    refused: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    wrong: Vec<String>,
}

/// A fresh simulator and ponte, the hook configured, `orders` created at [`HOOK_RATE`].
async fn measure_hook(target: &Target, orders: usize, seed: u64) -> anyhow::Result<HookMeasured> {
    let sim = VtexSim::new(VtexConfig {
        request_log_capacity: 4 * orders + 1_000,
        ..VtexConfig::default()
    });
    let sim_server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let hub = Hub::start(target).await?;
    let out = hook_run(&hub, &sim, &sim_server.base_url(), orders, seed).await;
    hub.finish().await;
    sim_server.shutdown().await;
    out
}

async fn hook_run(
    hub: &Hub,
    sim: &VtexSim,
    sim_base: &str,
    orders: usize,
    seed: u64,
) -> anyhow::Result<HookMeasured> {
    let c = sim.config();
    let ch = hub
        .post(
            "/api/v1/channels",
            &json!({"platform": "vtex", "name": "bench hook",
                "settings": {"account": c.account, "api_base_url": sim_base, "import_policy": "all",
                             "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6},
                "credentials": {"app_key": c.app_key, "app_token": c.app_token, "hook_secret": HOOK_SECRET}}),
        )
        .await?;
    let id = ch["id"].as_str().context("channel id")?;
    // What ponte registers itself when it has a public URL (the bench's port is not
    // known before ponte starts).
    let statuses: Vec<&str> = ponte_channels::vtex::STATUSES
        .iter()
        .map(|(s, _)| *s)
        .collect();
    let url = format!("{}/webhooks/{id}", hub.base());
    let r = reqwest::Client::new()
        .post(format!("{sim_base}/api/orders/hook/config"))
        .header("X-VTEX-API-AppKey", &c.app_key)
        .header("X-VTEX-API-AppToken", &c.app_token)
        .json(&json!({"filter": {"type": "FromWorkflow", "status": statuses},
                      "hook": {"url": url, "headers": {ponte_channels::vtex::hook::SECRET_HEADER: HOOK_SECRET}}}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("configuring the hook: {}", r.status());
    }
    let batches = orders.div_ceil(10);
    let mut tick = tokio::time::interval(Duration::from_millis(1_000 * 10 / HOOK_RATE as u64));
    for b in 0..batches {
        tick.tick().await;
        let n = 10.min(orders - b * 10);
        sim.generate_orders(n, seed.wrapping_add(b as u64));
    }
    let expected = importable(sim);
    let deadline = Instant::now() + Duration::from_secs(120 + orders as u64 / 10);
    while hub.orders().await?.len() < expected.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Later notifications of the same orders are stored too before the check.
    hub.jobs_idle(Duration::from_secs(60)).await?;
    let held = hub.orders().await?;
    let deliveries = sim.hook_deliveries();
    let mut took: Vec<f64> = deliveries
        .iter()
        .filter(|d| d.attempt == 1 && d.status == Some(200))
        .map(|d| d.took.as_secs_f64() * 1000.0)
        .collect();
    took.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((took.len() as f64 * q).ceil() as usize).clamp(1, took.len().max(1)) - 1;
        took.get(i).copied().unwrap_or(0.0)
    };
    let refused = deliveries
        .iter()
        .filter(|d| !d.dropped && d.status != Some(200))
        .count();
    let mut wrong = held::differences(&expected, &held);
    if took.is_empty() {
        wrong.push("no hook notification was answered 200".into());
    }
    Ok(HookMeasured {
        orders,
        answered: took.len(),
        refused,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: took.last().copied().unwrap_or(0.0),
        wrong,
    })
}
