//! The scenarios.

use crate::load::{closed_loop, histogram, request, Conn};
use crate::pg::TestDb;
use crate::report::{emit, Row};
use crate::server::{Server, TOKEN};
use anyhow::{bail, Context};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use ponte_sim::nuvemshop::{NewOrder, NuvemshopSim, ServerHandle, SimConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where ponte stores its data in a scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// `sqlite` (embedded) or `postgres` (the machine's server, a scratch database).
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// ponte instances (PostgreSQL only); load is spread over them.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
}

impl Target {
    /// SQLite, one instance.
    pub fn sqlite() -> Self {
        Self {
            backend: "sqlite".into(),
            instances: 1,
        }
    }

    /// PostgreSQL with `n` instances.
    pub fn postgres(n: usize) -> Self {
        Self {
            backend: "postgres".into(),
            instances: n,
        }
    }

    /// The backend name in results (`postgres-xN` with instances).
    pub(crate) fn label(&self) -> String {
        if self.backend == "postgres" {
            format!("postgres-x{}", self.instances)
        } else {
            self.backend.clone()
        }
    }
}

/// Options of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub target: Target,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent connections (webhook senders).
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// Distinct orders notified (duplicates coalesce into one import each).
    #[arg(long, default_value_t = 2000)]
    pub orders: usize,
}

impl IngestArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        if quick {
            Self {
                target,
                seconds: 1,
                connections: 16,
                orders: 200,
            }
        } else {
            Self {
                target,
                seconds: 5,
                connections: 256,
                orders: 2000,
            }
        }
    }
}

/// Options of `e2e`.
#[derive(Debug, clap::Args)]
pub struct E2eArgs {
    #[command(flatten)]
    pub target: Target,
    /// Notifications per second (each for a new order).
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// Seconds of arrivals.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

impl E2eArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        if quick {
            Self {
                target,
                rate: 200,
                seconds: 2,
            }
        } else {
            Self {
                target,
                rate: 500,
                seconds: 10,
            }
        }
    }
}

/// What [`Setup::with`] puts in the simulator and the channel.
pub(crate) struct SetupSpec {
    /// Orders created in the simulator.
    pub orders: usize,
    /// The order each one is created from (e.g. paid).
    pub order: NewOrder,
    /// Channel settings added to the defaults (e.g. `shipping_api`).
    pub settings: Value,
    /// Requests the simulator's log keeps.
    pub request_log: usize,
    /// Environment given to every ponte instance besides the database's.
    pub env: Vec<(&'static str, String)>,
}

impl SetupSpec {
    /// `orders` default orders, default channel settings.
    pub(crate) fn plain(orders: usize) -> Self {
        Self {
            orders,
            order: NewOrder::default(),
            settings: json!({}),
            request_log: SimConfig::default().request_log_capacity,
            env: vec![],
        }
    }
}

/// A simulator, a ponte and a channel between them.
pub(crate) struct Setup {
    /// The simulated store (in this process, so its request log's clock is ours).
    pub sim: NuvemshopSim,
    _sim_server: ServerHandle,
    /// The first instance answers API calls; load is spread over all of them.
    pub servers: Vec<Server>,
    db: Option<TestDb>,
    _dirs: Vec<tempfile::TempDir>,
    webhook_url: String,
    /// Client for API calls.
    pub http: reqwest::Client,
}

impl Setup {
    async fn new(orders: usize, target: &Target) -> anyhow::Result<(Setup, Vec<u64>)> {
        Self::with(SetupSpec::plain(orders), target).await
    }

    /// A simulator holding `spec.orders` orders and a ponte with a channel to it.
    pub(crate) async fn with(
        spec: SetupSpec,
        target: &Target,
    ) -> anyhow::Result<(Setup, Vec<u64>)> {
        let sim = NuvemshopSim::new(SimConfig {
            bucket_size: 0,
            request_log_capacity: spec.request_log,
            ..SimConfig::default()
        });
        let ids: Vec<u64> = (0..spec.orders)
            .map(|_| sim.create_order(spec.order.clone()))
            .collect();
        let sim_server = sim
            .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
            .await;
        let db = match target.backend.as_str() {
            "postgres" => Some(TestDb::create().await?),
            "sqlite" => None,
            other => bail!("unknown backend `{other}`"),
        };
        let instances = if db.is_some() {
            target.instances.max(1)
        } else {
            1
        };
        let dirs = (0..instances)
            .map(|_| tempfile::tempdir())
            .collect::<Result<Vec<_>, _>>()?;
        let mut env = spec.env.clone();
        if let Some(db) = &db {
            env.push(("PONTE_DATABASE_URL", db.url.clone()));
            env.push(("PONTE_MASTER_KEY", "42".repeat(32)));
        }
        let servers = dirs
            .iter()
            .map(|d| Server::start(d.path(), &env))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let server = &servers[0];
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .build()?;
        let mut settings = json!({"store_id": sim.config().store_id.to_string(), "api_base_url": sim_server.base_url(),
                                  "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6});
        if let (Some(all), Some(extra)) = (settings.as_object_mut(), spec.settings.as_object()) {
            all.extend(extra.clone());
        }
        let ch: Value = http
            .post(format!("{}/api/v1/channels", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({
                "platform": "nuvemshop", "name": "bench", "settings": settings,
                "credentials": {"access_token": sim.config().access_token, "app_secret": sim.config().app_secret}
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let webhook_url = ch["webhook_url"]
            .as_str()
            .context("no webhook_url")?
            .to_owned();
        Ok((
            Setup {
                sim,
                _sim_server: sim_server,
                servers,
                db,
                _dirs: dirs,
                webhook_url,
                http,
            },
            ids,
        ))
    }

    /// Every instance's address.
    pub(crate) fn addrs(&self) -> anyhow::Result<Vec<std::net::SocketAddr>> {
        self.servers.iter().map(Server::addr).collect()
    }

    /// Peak RSS of the first instance, in MiB.
    pub(crate) fn rss_mb(&self) -> Option<u64> {
        self.servers[0].rss_bytes().map(|b| b / 1_048_576)
    }

    /// The scratch PostgreSQL database's name (none with SQLite).
    pub(crate) fn database(&self) -> Option<&str> {
        self.db.as_ref().and_then(|d| d.url.rsplit('/').next())
    }

    /// Stops the servers and drops the scratch database.
    pub(crate) async fn finish(self) {
        drop(self.servers);
        if let Some(db) = self.db {
            db.drop_db().await;
        }
    }

    /// The webhook path of the channel.
    pub(crate) fn webhook_path(&self) -> anyhow::Result<String> {
        let at = self.webhook_url.find("/webhooks/").context("webhook url")?;
        Ok(self.webhook_url[at..].to_owned())
    }

    /// A signed notification body for order `id`, and its signature.
    pub(crate) fn signed(&self, event: &str, id: u64) -> (Vec<u8>, String) {
        let body = self.sim.notification_body(event, id);
        let sig = self.sim.signature(&body);
        (body, sig)
    }

    /// `GET` an API path on the first instance.
    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}{path}", self.servers[0].base))
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    async fn metric(&self, key: &str) -> anyhow::Result<f64> {
        Self::metric_of(&self.http, &self.servers[0].base, key).await
    }

    /// A metric of one instance.
    pub(crate) async fn metric_of(
        http: &reqwest::Client,
        base: &str,
        key: &str,
    ) -> anyhow::Result<f64> {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        Ok(value_of(&text, key).unwrap_or(0.0))
    }

    /// Pending and running jobs of one instance, as read after this call began (ponte
    /// reads them in the background): every job enqueued before is counted.
    pub(crate) async fn jobs_of(http: &reqwest::Client, base: &str) -> anyhow::Result<(f64, f64)> {
        let asked = Utc::now().timestamp_millis();
        let start = Instant::now();
        loop {
            let text = http
                .get(format!("{base}/metrics"))
                .send()
                .await?
                .text()
                .await?;
            let read = value_of(&text, "ponte_database_figures_read_timestamp_seconds");
            if read.is_some_and(|s| (s * 1000.0).round() as i64 >= asked) {
                let pending = value_of(&text, "ponte_jobs{state=\"pending\"}").unwrap_or(0.0);
                let running = value_of(&text, "ponte_jobs{state=\"running\"}").unwrap_or(0.0);
                return Ok((pending, running));
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("/metrics figures not refreshed in 30 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the job queue is empty.
    pub(crate) async fn settle(&self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            let (pending, running) = Self::jobs_of(&self.http, &self.servers[0].base).await?;
            if pending == 0.0 && running == 0.0 {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("queue not empty after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every order: external id -> created_at.
    async fn orders(&self) -> anyhow::Result<HashMap<String, DateTime<Utc>>> {
        let mut out = HashMap::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .get(&format!("/api/v1/orders?limit=500{cursor}"))
                .await?;
            for o in page["items"].as_array().context("items")? {
                let ext = o["external_id"].as_str().context("external_id")?.to_owned();
                let at: DateTime<Utc> = o["created_at"].as_str().context("created_at")?.parse()?;
                out.insert(ext, at);
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => return Ok(out),
            }
        }
    }
}

/// The value of an exact `name{labels}` key in Prometheus text.
pub(crate) fn value_of(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Microseconds as milliseconds text.
pub(crate) fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

/// Webhooks accepted per second next to `/health` per second, same server, same client.
pub async fn ingest(a: IngestArgs) -> anyhow::Result<Value> {
    let (s, ids) = Setup::new(a.orders, &a.target).await?;
    let d = Duration::from_secs(a.seconds);
    let addrs = s.addrs()?;
    let addr = addrs[0];
    let health_req = move |_| request("GET", addr, "/health", &[], Bytes::new());
    let _ = closed_loop(
        &addrs,
        a.connections,
        Duration::from_millis(500),
        health_req,
    )
    .await?;
    let health = closed_loop(&addrs, a.connections, d, health_req).await?;
    let bodies: Arc<Vec<(Bytes, String)>> = Arc::new(
        ids.iter()
            .map(|id| {
                let (b, sig) = s.signed("order/updated", *id);
                (Bytes::from(b), sig)
            })
            .collect(),
    );
    let path = s.webhook_path()?;
    let hooks = closed_loop(&addrs, a.connections, d, move |i| {
        let (body, sig) = &bodies[(i as usize) % bodies.len()];
        let headers = [
            ("content-type", "application/json"),
            ("x-linkedstore-hmac-sha256", sig.as_str()),
        ];
        request("POST", addr, &path, &headers, body.clone())
    })
    .await?;
    let batches = s.metric("ponte_ingest_batch_size_count").await?;
    let batched = s.metric("ponte_ingest_batch_size_sum").await?;
    let mean_batch = if batches > 0.0 {
        batched / batches
    } else {
        0.0
    };
    let drain = s.settle(Duration::from_secs(300)).await?;
    // Correctness: every acknowledged webhook stored; every notified order imported once.
    let mut stored = 0u64;
    for server in &s.servers {
        stored += Setup::metric_of(
            &s.http,
            &server.base,
            "ponte_webhook_deliveries_total{result=\"received\"}",
        )
        .await? as u64;
    }
    let notified = ids.len().min(hooks.ok as usize);
    let orders = s.orders().await?;
    let correct = hooks.errors == 0 && stored == hooks.ok && orders.len() == notified;
    if !correct {
        eprintln!(
            "errors {}, stored {stored} of {} acked, {} orders of {notified}",
            hooks.errors,
            hooks.ok,
            orders.len()
        );
    }
    let ratio = hooks.rate() / health.rate();
    let figures = json!({
        "health_per_sec": health.rate(),
        "webhooks_accepted_per_sec": hooks.rate(),
        "ratio_to_health": ratio,
        "ack_p50_ms": hooks.latency.value_at_quantile(0.5) as f64 / 1000.0,
        "ack_p99_ms": hooks.latency.value_at_quantile(0.99) as f64 / 1000.0,
        "webhooks_accepted": hooks.ok,
        "mean_deliveries_per_commit": mean_batch,
        "queue_drain_after_load_ms": drain.as_millis() as u64,
        "orders_imported": orders.len(),
        "connections": a.connections,
        "seconds": a.seconds,
        "server_peak_rss_mb": s.rss_mb(),
    });
    s.finish().await;
    emit(
        "ingest",
        &a.target.label(),
        &[
            Row {
                name: "/health requests/s",
                value: format!("{:.0}", health.rate()),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "signed webhooks accepted/s",
                value: format!("{:.0}", hooks.rate()),
                target: ">= 10000".into(),
                ok: Some(hooks.rate() >= 10_000.0),
            },
            Row {
                name: "accepted / health",
                value: format!("{ratio:.2}"),
                target: ">= 0.25".into(),
                ok: Some(ratio >= 0.25),
            },
            Row {
                name: "mean deliveries per commit",
                value: format!("{mean_batch:.1}"),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "ack latency p50",
                value: ms(hooks.latency.value_at_quantile(0.5)),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "ack latency p99",
                value: ms(hooks.latency.value_at_quantile(0.99)),
                target: "-".into(),
                ok: None,
            },
        ],
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}

/// Notification to order stored at a fixed arrival rate, counted from each
/// notification's scheduled send time (no coordinated omission).
pub async fn e2e(a: E2eArgs) -> anyhow::Result<Value> {
    let n = (a.rate * a.seconds) as usize;
    let (s, ids) = Setup::new(n, &a.target).await?;
    let s = Arc::new(s);
    let (scheduled, acked) = arrivals(&s, &ids, a.rate).await?;
    s.settle(Duration::from_secs(300)).await?;
    let orders = s.orders().await?;
    let mut h = histogram()?;
    for (ext, created) in &orders {
        if let Some(sent) = scheduled.get(ext) {
            let us = (*created - *sent).num_microseconds().unwrap_or(0).max(1) as u64;
            h.record(us)?;
        }
    }
    let correct = acked == n && orders.len() == n;
    let (p50, p99, max) = (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max());
    let figures = json!({
        "rate_per_sec": a.rate,
        "notifications": n,
        "orders_stored": orders.len(),
        "p50_ms": p50 as f64 / 1000.0,
        "p99_ms": p99 as f64 / 1000.0,
        "max_ms": max as f64 / 1000.0,
        "server_peak_rss_mb": s.rss_mb(),
    });
    if let Ok(s) = Arc::try_unwrap(s) {
        s.finish().await;
    }
    emit(
        "e2e",
        &a.target.label(),
        &[
            Row {
                name: "arrival rate (orders/s)",
                value: a.rate.to_string(),
                target: "500".into(),
                ok: None,
            },
            Row {
                name: "notification -> order p50",
                value: ms(p50),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "notification -> order p99",
                value: ms(p99),
                target: "<= 50 ms".into(),
                ok: Some(p99 <= 50_000),
            },
            Row {
                name: "notification -> order max",
                value: ms(max),
                target: "-".into(),
                ok: None,
            },
        ],
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}

/// Sends one signed `order/created` notification per id at `rate` a second (open
/// loop: arrivals never wait for each other); when each was scheduled, by platform id,
/// and how many were acknowledged.
pub(crate) async fn arrivals(
    s: &Arc<Setup>,
    ids: &[u64],
    rate: u64,
) -> anyhow::Result<(HashMap<String, DateTime<Utc>>, usize)> {
    let n = ids.len();
    let interval = Duration::try_from_secs_f64(1.0 / rate as f64)
        .map_err(|_| anyhow::anyhow!("--rate must be at least 1"))?;
    let start_at = Utc::now() + chrono::Duration::milliseconds(200);
    let start = Instant::now() + Duration::from_millis(200);
    let addrs = s.addrs()?;
    let path = s.webhook_path()?;
    let pools: Arc<Vec<tokio::sync::Mutex<Vec<Conn>>>> = Arc::new(
        addrs
            .iter()
            .map(|_| tokio::sync::Mutex::new(Vec::new()))
            .collect(),
    );
    let mut sends = futures::stream::FuturesUnordered::new();
    let mut scheduled = HashMap::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        let offset = interval * i as u32;
        tokio::time::sleep_until((start + offset).into()).await;
        scheduled.insert(
            id.to_string(),
            start_at + chrono::Duration::from_std(offset)?,
        );
        let (body, sig) = s.signed("order/created", *id);
        let headers = [
            ("content-type", "application/json"),
            ("x-linkedstore-hmac-sha256", sig.as_str()),
        ];
        let which = i % addrs.len();
        let addr = addrs[which];
        let req = request("POST", addr, &path, &headers, Bytes::from(body));
        let pools = pools.clone();
        sends.push(tokio::spawn(async move {
            let pool = &pools[which];
            // Reuse an idle connection or open one: arrivals never wait for each other.
            let conn = pool.lock().await.pop();
            let mut conn = match conn {
                Some(c) => c,
                None => Conn::open(addr).await?,
            };
            let ok = conn.send(req).await?;
            pool.lock().await.push(conn);
            anyhow::Ok(ok)
        }));
    }
    let mut acked = 0usize;
    while let Some(r) = sends.next().await {
        if matches!(r, Ok(Ok(true))) {
            acked += 1;
        }
    }
    Ok((scheduled, acked))
}
