//! `retention`: webhook ingest with and without the retention sweep deleting. Each
//! measurement starts a fresh ponte on a fresh database filled with the same old
//! finished deliveries, with the sweep off or on (alternately, a few rounds: on a shared
//! machine one pair says little), and takes signed webhooks for a while; with the sweep
//! on, while it deletes. Checks that every old delivery went (sweep on) or stayed
//! (sweep off) and that every acknowledged one is stored.
use crate::load::{closed_loop, request, Closed};
use crate::pg::TestDb;
use crate::report::{emit, Row};
use crate::scenarios::{Setup, Target};
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
    /// Pairs of measurements (sweep off, sweep on).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
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
                rounds: 1,
            }
        } else {
            Self {
                target,
                old: 300_000,
                seconds: 5,
                connections: 256,
                orders: 2000,
                rounds: 3,
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

/// One measurement: a fresh ponte on a freshly filled database.
struct Measured {
    /// Webhooks accepted.
    ingest: Closed,
    /// Old deliveries deleted per second meanwhile.
    deleted_per_sec: f64,
    /// Whether the sweep was still deleting when the measurement ended.
    busy: bool,
    /// Old deliveries deleted per second after it, with no ingest.
    quiet_per_sec: f64,
    /// Seconds to fill the database.
    fill_secs: f64,
}

/// The scenario's fixed parts.
struct Bench<'a> {
    args: &'a RetentionArgs,
    sim: &'a NuvemshopSim,
    api: String,
    http: reqwest::Client,
    bodies: Arc<Vec<(Bytes, String)>>,
}

impl Bench<'_> {
    async fn measure(&self, sweep: bool) -> anyhow::Result<Measured> {
        let a = self.args;
        let db = Db {
            pg: match a.target.backend.as_str() {
                "postgres" => Some(TestDb::create().await?),
                "sqlite" => None,
                other => bail!("unknown backend `{other}`"),
            },
        };
        let result = self.measure_on(&db, sweep).await;
        if let Some(pg) = &db.pg {
            pg.drop_db().await;
        }
        result
    }

    async fn measure_on(&self, db: &Db, sweep: bool) -> anyhow::Result<Measured> {
        let (a, http) = (self.args, &self.http);
        let dir = tempfile::tempdir()?;
        let filled = Instant::now();
        let body = self.sim.notification_body("order/updated", 1);
        db.fill(dir.path(), a.old, &body).await?;
        let fill_secs = filled.elapsed().as_secs_f64();
        let mut env = db.env();
        env.push((
            "PONTE_RETENTION_SWEEP_SECS",
            if sweep { "1" } else { "0" }.into(),
        ));
        let server = Server::start(dir.path(), &env)?;
        let load = Load {
            bodies: self.bodies.clone(),
            path: Arc::new(channel(http, &server.base, self.sim, &self.api).await?),
            connections: a.connections,
        };
        let addr = server.addr()?;
        let started = Instant::now();
        while sweep && Setup::metric_of(http, &server.base, DELETED).await? == 0.0 {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("the sweep did not start");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let warm = load.run(addr, Duration::from_millis(500)).await?;
        let before = Setup::metric_of(http, &server.base, DELETED).await?;
        let ingest = load.run(addr, Duration::from_secs(a.seconds)).await?;
        let after = Setup::metric_of(http, &server.base, DELETED).await?;
        let quiet = Instant::now();
        while sweep && (Setup::metric_of(http, &server.base, DELETED).await? as usize) < a.old {
            if quiet.elapsed() > Duration::from_secs(1800) {
                bail!("the sweep did not finish in 30 minutes");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let quiet_per_sec = (a.old as f64 - after) / quiet.elapsed().as_secs_f64();
        drain(http, &server).await?;
        drop(server);
        let (old_left, all) = db.count(dir.path()).await?;
        let acked = warm.ok + ingest.ok;
        let errors = warm.errors + ingest.errors;
        let old_want = if sweep { 0 } else { a.old as i64 };
        if errors > 0 || old_left != old_want || all != acked as i64 + old_want {
            bail!(
                "wrong results (sweep {sweep}): errors {errors}, old deliveries left {old_left} \
                 (want {old_want}), {all} deliveries for {acked} acknowledged"
            );
        }
        Ok(Measured {
            deleted_per_sec: (after - before) / ingest.elapsed.as_secs_f64(),
            busy: sweep && (after as usize) < a.old,
            quiet_per_sec,
            fill_secs,
            ingest,
        })
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Ingest rates with the sweep off and while it deletes, alternately.
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
    let bench = Bench {
        args: &a,
        sim: &sim,
        api: sim_server.base_url(),
        http: reqwest::Client::new(),
        bodies: Arc::new(
            ids.iter()
                .map(|id| {
                    let body = sim.notification_body("order/updated", *id);
                    let sig = sim.signature(&body);
                    (Bytes::from(body), sig)
                })
                .collect(),
        ),
    };
    let (mut off, mut on) = (vec![], vec![]);
    for _ in 0..a.rounds.max(1) {
        off.push(bench.measure(false).await?);
        on.push(bench.measure(true).await?);
    }
    let rate = |v: &[Measured]| median(v.iter().map(|m| m.ingest.rate()).collect());
    let p99 = |v: &[Measured]| {
        median(
            v.iter()
                .map(|m| m.ingest.latency.value_at_quantile(0.99) as f64 / 1000.0)
                .collect(),
        )
    };
    let (rate_off, rate_on) = (rate(&off), rate(&on));
    let ratio = rate_on / rate_off;
    let deleted = median(on.iter().map(|m| m.deleted_per_sec).collect());
    let quiet = median(on.iter().map(|m| m.quiet_per_sec).collect());
    let busy = on.iter().all(|m| m.busy);
    let list = |v: &[Measured]| {
        v.iter()
            .map(|m| m.ingest.rate().round())
            .collect::<Vec<_>>()
    };
    let figures = json!({
        "old_deliveries": a.old,
        "rounds": a.rounds.max(1),
        "fill_seconds": median(off.iter().chain(&on).map(|m| m.fill_secs).collect()),
        "webhooks_per_sec_sweep_off": list(&off),
        "webhooks_per_sec_sweeping": list(&on),
        "median_ratio": ratio,
        "ack_p99_ms_sweep_off": p99(&off),
        "ack_p99_ms_sweeping": p99(&on),
        "deleted_per_sec_while_ingesting": deleted,
        "deleted_per_sec_no_ingest": quiet,
        "sweep_busy_throughout": busy,
        "connections": a.connections,
        "seconds": a.seconds,
    });
    let rounds = |v: &[Measured]| {
        v.iter()
            .map(|m| format!("{:.0}", m.ingest.rate()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    emit(
        "retention",
        &a.target.label(),
        &[
            Row {
                name: "webhooks accepted/s, sweep off",
                value: format!("{rate_off:.0}"),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "webhooks accepted/s, sweep deleting",
                value: format!("{rate_on:.0}"),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "deleting / off (medians)",
                value: format!("{ratio:.2}"),
                target: ">= 0.90".into(),
                ok: Some(ratio >= 0.9),
            },
            Row {
                name: "rounds, sweep off",
                value: rounds(&off),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "rounds, sweep deleting",
                value: rounds(&on),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "ack p99, sweep off / deleting",
                value: format!("{:.0} / {:.0} ms", p99(&off), p99(&on)),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "old deliveries deleted/s, ingesting",
                value: format!("{deleted:.0}"),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "old deliveries deleted/s, no ingest",
                value: format!("{quiet:.0}"),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "sweep busy throughout",
                value: if busy { "yes" } else { "no" }.into(),
                target: "-".into(),
                ok: None,
            },
        ],
        figures.clone(),
        true,
    )?;
    Ok(figures)
}
