//! `retention`: webhook ingest with and without the retention sweep deleting. The
//! database is filled with old finished deliveries first; ponte then takes signed
//! webhooks with its sweep off, and again (restarted on the same database) while its
//! sweep is deleting them. Checks that every old delivery went and every acknowledged
//! one stayed.

use crate::load::{closed_loop, request, Closed};
use crate::pg::TestDb;
use crate::report::{emit, Row};
use crate::scenarios::{ms, Setup, Target};
use crate::server::{Server, TOKEN};
use anyhow::{bail, Context};
use bytes::Bytes;
use chrono::{Duration as CDuration, Utc};
use ponte_core::{ChannelId, DeliveryId};
use ponte_sim::nuvemshop::{NuvemshopSim, SimConfig};
use ponte_store::{DeliveryState, NewDelivery, Store};
use serde_json::{json, Value};
use sqlx::Connection;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Deliveries written per transaction while filling.
const FILL_CHUNK: usize = 5000;
/// The deletion counter of old deliveries.
const DELETED: &str = "ponte_retention_deleted_total{record=\"deliveries\"}";

/// Options of `retention`.
#[derive(Debug, clap::Args)]
pub struct RetentionArgs {
    #[command(flatten)]
    pub target: Target,
    /// Old finished deliveries in the database before the measurements.
    #[arg(long, default_value_t = 300_000)]
    pub old: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent connections (webhook senders).
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// Distinct orders notified.
    #[arg(long, default_value_t = 2000)]
    pub orders: usize,
}

impl RetentionArgs {
    /// Defaults, or a few-second smoke run.
    pub fn preset(quick: bool, target: Target) -> Self {
        if quick {
            Self {
                target,
                old: 20_000,
                seconds: 1,
                connections: 16,
                orders: 200,
            }
        } else {
            Self {
                target,
                old: 300_000,
                seconds: 5,
                connections: 256,
                orders: 2000,
            }
        }
    }
}

/// The scenario's database: the embedded file in `dir`, or a scratch PostgreSQL one.
struct Db {
    pg: Option<TestDb>,
}

impl Db {
    fn env(&self) -> Vec<(&'static str, String)> {
        match &self.pg {
            Some(db) => vec![
                ("PONTE_DATABASE_URL", db.url.clone()),
                ("PONTE_MASTER_KEY", "42".repeat(32)),
            ],
            None => vec![],
        }
    }

    /// Writes `n` finished deliveries received 200 days ago (resource `old-<i>`).
    async fn fill(&self, dir: &Path, n: usize, body: &[u8]) -> anyhow::Result<()> {
        match &self.pg {
            Some(db) => {
                let s = ponte_store_pg::PgStore::connect(&db.url, 4).await?;
                s.migrate().await?;
                fill(&s, n, body).await?;
                s.close().await;
            }
            None => {
                let s = ponte_store_sqlite::SqliteStore::open(&dir.join("ponte.db")).await?;
                fill(&s, n, body).await?;
                s.close().await;
            }
        }
        Ok(())
    }

    /// (old deliveries left, deliveries in all), read with ponte stopped.
    async fn count(&self, dir: &Path) -> anyhow::Result<(i64, i64)> {
        const OLD: &str = "SELECT COUNT(*) FROM deliveries WHERE resource_id LIKE 'old-%'";
        const ALL: &str = "SELECT COUNT(*) FROM deliveries";
        Ok(match &self.pg {
            Some(db) => {
                let mut c = sqlx::PgConnection::connect(&db.url).await?;
                let old = sqlx::query_scalar(OLD).fetch_one(&mut c).await?;
                (old, sqlx::query_scalar(ALL).fetch_one(&mut c).await?)
            }
            None => {
                let url = format!("sqlite://{}", dir.join("ponte.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await?;
                let old = sqlx::query_scalar(OLD).fetch_one(&mut c).await?;
                (old, sqlx::query_scalar(ALL).fetch_one(&mut c).await?)
            }
        })
    }
}

async fn fill(store: &dyn Store, n: usize, body: &[u8]) -> anyhow::Result<()> {
    let now = Utc::now();
    let tenant = store.default_tenant(now).await?;
    let channel = ChannelId::new();
    let at = now - CDuration::days(200);
    let mut i = 0;
    while i < n {
        let chunk: Vec<NewDelivery> = (i..n.min(i + FILL_CHUNK))
            .map(|k| NewDelivery {
                id: DeliveryId::new(),
                tenant_id: tenant,
                channel_id: channel,
                received_at: at,
                event: "order/updated".into(),
                resource_id: Some(format!("old-{k}")),
                body: body.to_vec(),
                state: DeliveryState::Ignored,
                note: None,
                job: None,
            })
            .collect();
        store.accept_deliveries(&chunk).await?;
        i += chunk.len();
    }
    Ok(())
}

/// Signed webhooks of `orders` simulator orders, sent to `path` on `addr`.
struct Load {
    bodies: Arc<Vec<(Bytes, String)>>,
    path: Arc<String>,
    connections: usize,
}

impl Load {
    async fn run(&self, addr: std::net::SocketAddr, d: Duration) -> anyhow::Result<Closed> {
        let (bodies, path) = (self.bodies.clone(), self.path.clone());
        closed_loop(&[addr], self.connections, d, move |i| {
            let (body, sig) = &bodies[(i as usize) % bodies.len()];
            let headers = [
                ("content-type", "application/json"),
                ("x-linkedstore-hmac-sha256", sig.as_str()),
            ];
            request("POST", addr, &path, &headers, body.clone())
        })
        .await
    }
}

async fn channel(
    http: &reqwest::Client,
    base: &str,
    sim: &NuvemshopSim,
    api: &str,
) -> anyhow::Result<String> {
    let settings = json!({"store_id": sim.config().store_id.to_string(), "api_base_url": api,
                          "import_policy": "all", "rate_limit_per_sec": 1e6, "rate_limit_burst": 1e6});
    let ch: Value = http
        .post(format!("{base}/api/v1/channels"))
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
    let url = ch["webhook_url"].as_str().context("no webhook_url")?;
    let at = url.find("/webhooks/").context("webhook url")?;
    Ok(url[at..].to_owned())
}

/// Waits until the queue of `server` is empty.
async fn drain(http: &reqwest::Client, server: &Server) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if Setup::jobs_of(http, &server.base).await? == (0.0, 0.0) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(300) {
            bail!("queue not empty after 300 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ingest rate with the sweep off, then while it deletes old deliveries.
pub async fn retention(a: RetentionArgs) -> anyhow::Result<Value> {
    let sim = NuvemshopSim::new(SimConfig {
        bucket_size: 0,
        ..SimConfig::default()
    });
    let ids: Vec<u64> = (0..a.orders)
        .map(|_| sim.create_order(Default::default()))
        .collect();
    let sim_server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let db = Db {
        pg: match a.target.backend.as_str() {
            "postgres" => Some(TestDb::create().await?),
            "sqlite" => None,
            other => bail!("unknown backend `{other}`"),
        },
    };
    let dir = tempfile::tempdir()?;
    let filled = Instant::now();
    db.fill(
        dir.path(),
        a.old,
        &sim.notification_body("order/updated", ids[0]),
    )
    .await?;
    let fill_secs = filled.elapsed().as_secs_f64();
    let http = reqwest::Client::new();
    let bodies = ids
        .iter()
        .map(|id| {
            let body = sim.notification_body("order/updated", *id);
            let sig = sim.signature(&body);
            (Bytes::from(body), sig)
        })
        .collect();
    let d = Duration::from_secs(a.seconds);
    let warm = Duration::from_millis(500);
    let env = |sweep: &str| {
        let mut env = db.env();
        env.push(("PONTE_RETENTION_SWEEP_SECS", sweep.to_owned()));
        env
    };

    // 1. The sweep off.
    let server = Server::start(dir.path(), &env("0"))?;
    let path = channel(&http, &server.base, &sim, &sim_server.base_url()).await?;
    let load = Load {
        bodies: Arc::new(bodies),
        path: Arc::new(path),
        connections: a.connections,
    };
    let addr = server.addr()?;
    let warm_idle = load.run(addr, warm).await?;
    let idle = load.run(addr, d).await?;
    drain(&http, &server).await?;
    drop(server);

    // 2. Restarted with the sweep on: measured while it deletes.
    let server = Server::start(dir.path(), &env("1"))?;
    let addr = server.addr()?;
    let wait = Instant::now();
    while Setup::metric_of(&http, &server.base, DELETED).await? == 0.0 {
        if wait.elapsed() > Duration::from_secs(30) {
            bail!("the sweep did not start");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sweep_started = Instant::now();
    let warm_sweep = load.run(addr, warm).await?;
    let before = Setup::metric_of(&http, &server.base, DELETED).await?;
    let sweeping = load.run(addr, d).await?;
    let after = Setup::metric_of(&http, &server.base, DELETED).await?;
    let busy = (after as usize) < a.old;
    while (Setup::metric_of(&http, &server.base, DELETED).await? as usize) < a.old {
        if sweep_started.elapsed() > Duration::from_secs(1800) {
            bail!("the sweep did not finish in 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sweep_secs = sweep_started.elapsed().as_secs_f64();
    drain(&http, &server).await?;
    drop(server);

    let (old_left, all) = db.count(dir.path()).await?;
    let acked = warm_idle.ok + idle.ok + warm_sweep.ok + sweeping.ok;
    let errors = warm_idle.errors + idle.errors + warm_sweep.errors + sweeping.errors;
    let correct = errors == 0 && old_left == 0 && all == acked as i64;
    if !correct {
        eprintln!("errors {errors}, old deliveries left {old_left}, {all} deliveries of {acked} acknowledged");
    }
    if let Some(pg) = &db.pg {
        pg.drop_db().await;
    }
    let ratio = sweeping.rate() / idle.rate();
    let deleted_per_sec = (after - before) / sweeping.elapsed.as_secs_f64();
    let p99 = |c: &Closed| c.latency.value_at_quantile(0.99);
    let figures = json!({
        "old_deliveries": a.old,
        "fill_seconds": fill_secs,
        "webhooks_per_sec_sweep_off": idle.rate(),
        "webhooks_per_sec_sweeping": sweeping.rate(),
        "ratio": ratio,
        "ack_p99_ms_sweep_off": p99(&idle) as f64 / 1000.0,
        "ack_p99_ms_sweeping": p99(&sweeping) as f64 / 1000.0,
        "deleted_per_sec_while_ingesting": deleted_per_sec,
        "sweep_busy_throughout": busy,
        "sweep_seconds": sweep_secs,
        "deleted_per_sec_whole_sweep": a.old as f64 / sweep_secs,
        "connections": a.connections,
        "seconds": a.seconds,
    });
    emit(
        "retention",
        &a.target.label(),
        &[
            Row {
                name: "webhooks accepted/s, sweep off",
                value: format!("{:.0}", idle.rate()),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "webhooks accepted/s, sweep deleting",
                value: format!("{:.0}", sweeping.rate()),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "deleting / off",
                value: format!("{ratio:.2}"),
                target: ">= 0.90".into(),
                ok: Some(ratio >= 0.9),
            },
            Row {
                name: "ack p99, sweep off / deleting",
                value: format!("{} / {}", ms(p99(&idle)), ms(p99(&sweeping))),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "old deliveries deleted/s meanwhile",
                value: format!("{deleted_per_sec:.0}"),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "sweep busy throughout",
                value: if busy { "yes" } else { "no" }.into(),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "whole sweep: old deliveries/s",
                value: format!("{:.0}", a.old as f64 / sweep_secs),
                target: "-".into(),
                ok: None,
            },
        ],
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}
