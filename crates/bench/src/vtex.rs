//! `vtex`: orders imported per second from a VTEX account, by the two polling paths:
//! the scheduled run reading Feed v3 (lots of 10 events, each order fetched, the page
//! stored, then its handles committed) and a manual sync walking the OMS list (pages
//! of 30, each order fetched). Each path is measured on a fresh simulator, server and
//! data directory; platform rate limits are off on both sides. Each run must succeed
//! and leave ponte holding exactly the importable orders, each once, with the status
//! the default table gives; the feed must end empty.

use crate::held;
use crate::pg::TestDb;
use crate::report::{emit, Row};
use crate::scenarios::Target;
use crate::server::{Server, TOKEN};
use anyhow::{bail, Context};
use ponte_core::status::OrderStatus;
use ponte_sim::vtex::{VtexConfig, VtexSim};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Orders per second each path must reach (with rate limits off).
const RATE: f64 = 200.0;

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
}

impl VtexArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        Self {
            target,
            orders: if quick { 200 } else { 5_000 },
            seed: 42,
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
    let rows: Vec<Row> = runs
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
    });
    let correct = runs.iter().all(|m| m.wrong.is_empty());
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
    let db = match a.target.backend.as_str() {
        "postgres" => Some(TestDb::create().await?),
        "sqlite" => None,
        other => bail!("unknown backend `{other}`"),
    };
    let dir = tempfile::tempdir()?;
    let mut env = vec![];
    if let Some(db) = &db {
        env.push(("PONTE_DATABASE_URL", db.url.clone()));
        env.push(("PONTE_MASTER_KEY", "42".repeat(32)));
    }
    let server = Server::start(dir.path(), &env)?;
    let out = run(a, path, &sim, &sim_server.base_url(), &server).await;
    drop(server);
    sim_server.shutdown().await;
    if let Some(db) = db {
        db.drop_db().await;
    }
    out
}

async fn run(
    a: &VtexArgs,
    path: Path,
    sim: &VtexSim,
    sim_base: &str,
    server: &Server,
) -> anyhow::Result<Measured> {
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    let c = sim.config();
    let channel = api
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
    let tasks = api
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
        let first = api.post(&run_now, &json!({})).await?;
        api.follow(&first, Duration::from_secs(60)).await?;
    }
    sim.generate_orders(a.orders, a.seed);
    let expected = importable(sim);
    sim.clear_requests();
    let started = match path {
        Path::Feed => api.post(&run_now, &json!({})).await?,
        Path::Sync => {
            api.post(
                &format!("/api/v1/channels/{channel}/sync"),
                &json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}),
            )
            .await?
        }
    };
    let deadline = Duration::from_secs(300 + a.orders as u64 / 20);
    let end = api.follow(&started, deadline).await?;
    let rss_peak_mb = server.rss_bytes().map(|b| b / 1_048_576);
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
    let held = held::orders(&api.http, &api.base).await?;
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
            let status = table.resolve(&[], &m.data.platform_status)?;
            (status != OrderStatus::Cancelled && !m.closed_at_platform)
                .then(|| (m.data.external_id, status.as_str().to_owned()))
        })
        .collect()
}

/// The API of the server under test.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.http.get(format!("{}{path}", self.base));
        Ok(r.bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = self.http.post(format!("{}{path}", self.base)).json(body);
        Ok(r.bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Follows a task run to its end.
    async fn follow(&self, run: &Value, deadline: Duration) -> anyhow::Result<Value> {
        let id = run["id"].as_str().context("run id")?;
        let t0 = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let r = self.get(&format!("/api/v1/task-runs/{id}")).await?;
            if matches!(r["state"].as_str(), Some("succeeded" | "failed")) {
                return Ok(r);
            }
            if t0.elapsed() > deadline {
                bail!("run not finished after {deadline:?}: {r}");
            }
        }
    }
}
