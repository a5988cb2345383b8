//! Many tenants on one ponte: 2,000 tenants with 5 channels each (10,000 channels,
//! each polling a simulator every 10 minutes), then how late scheduled runs start,
//! the CPU ponte uses while nothing but the schedule happens, its peak memory, and
//! the rate of tenant-scoped API reads.

mod fill;

use crate::pg::TestDb;
use crate::report::{emit, Row};
use crate::scenarios::Target;
use crate::sends::probe::CpuProbe;
use crate::server::Server;
use anyhow::bail;
use ponte_sim::nuvemshop::{NuvemshopSim, SimConfig};
use serde_json::json;
use std::time::{Duration, Instant};

/// The installation's admin token of the benchmark's servers.
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";

/// Options of `tenants`.
#[derive(Debug, clap::Args)]
pub struct TenantsArgs {
    #[command(flatten)]
    pub target: Target,
    /// Tenants to create.
    #[arg(long, default_value_t = 2000)]
    pub tenants: usize,
    /// Channels per tenant.
    #[arg(long, default_value_t = 5)]
    pub channels: usize,
    /// Minutes to watch the schedule run once everything is created (one interval is
    /// 10 minutes: every task fires about once).
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Seconds of tenant-scoped API reads at the end.
    #[arg(long, default_value_t = 10)]
    pub read_secs: u64,
    /// Concurrent clients creating records and reading.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Set every task's interval to this many seconds instead of the default 10
    /// minutes (quick runs).
    #[arg(long)]
    pub interval_secs: Option<u64>,
}

impl TenantsArgs {
    /// The sizes `all` runs.
    pub fn preset(quick: bool, target: Target) -> Self {
        if quick {
            Self {
                target,
                tenants: 6,
                channels: 2,
                minutes: 0.1,
                read_secs: 1,
                concurrency: 4,
                interval_secs: Some(1),
            }
        } else {
            Self {
                target,
                tenants: 2000,
                channels: 5,
                minutes: 10.0,
                read_secs: 10,
                concurrency: 16,
                interval_secs: None,
            }
        }
    }
}

/// Runs the scenario and prints its table.
pub async fn tenants(a: TenantsArgs) -> anyhow::Result<()> {
    let sim = NuvemshopSim::new(SimConfig {
        bucket_size: 0,
        request_log_capacity: 1_000,
        ..SimConfig::default()
    });
    let sim_server = sim
        .serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?)
        .await;
    let db = match a.target.backend.as_str() {
        "postgres" => Some(TestDb::create().await?),
        "sqlite" => None,
        other => bail!("unknown backend `{other}`"),
    };
    let instances = if db.is_some() {
        a.target.instances.max(1)
    } else {
        1
    };
    let mut env = vec![
        ("PONTE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("PONTE_MIN_TASK_INTERVAL_SECONDS", "1".to_owned()),
    ];
    if let Some(db) = &db {
        env.push(("PONTE_DATABASE_URL", db.url.clone()));
        env.push(("PONTE_MASTER_KEY", "42".repeat(32)));
        env.push(("PONTE_DATABASE_MAX_CONNECTIONS", "8".to_owned()));
    }
    let dirs = (0..instances)
        .map(|_| tempfile::tempdir())
        .collect::<Result<Vec<_>, _>>()?;
    let servers = dirs
        .iter()
        .map(|d| Server::start(d.path(), &env))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let started = Instant::now();
    let tenants = fill::create(&http, &bases, &sim, &sim_server.base_url(), &a).await?;
    let setup_secs = started.elapsed().as_secs_f64();
    let channels = tenants.len() * a.channels;
    println!(
        "created {} tenants and {channels} channels in {setup_secs:.0} s",
        tenants.len()
    );
    let database = db.as_ref().and_then(|d| d.url.rsplit('/').next());
    let pids: Vec<u32> = servers.iter().map(Server::pid).collect();
    let cpu_before = CpuProbe::of(&pids, database);
    let watch_from = chrono::Utc::now();
    let window = Duration::from_secs_f64(a.minutes * 60.0);
    tokio::time::sleep(window).await;
    let cpu = CpuProbe::of(&pids, database).since(&cpu_before);
    let late = fill::lateness(&http, &bases, &tenants, a.channels, watch_from).await?;
    let reads = fill::reads(&http, &bases, &tenants, &a).await?;
    let rss_mb = servers
        .iter()
        .filter_map(Server::rss_bytes)
        .max()
        .map(|b| b / 1_048_576);
    let secs = window.as_secs_f64();
    let expected_runs = if a.interval_secs.is_none() {
        // Two channel tasks and the tenant's sweep, each once per 10 minutes.
        ((tenants.len() * (2 * a.channels + 1)) as f64 * secs / 600.0) as usize
    } else {
        0
    };
    let p = |q: f64| late.quantile(q);
    let rows = vec![
        Row {
            name: "tenants",
            value: tenants.len().to_string(),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "channels",
            value: channels.to_string(),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "setup (tenants, tokens, channels)",
            value: format!("{setup_secs:.0} s"),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "scheduled runs due in window",
            value: late.runs.to_string(),
            target: if expected_runs > 0 {
                format!("~{expected_runs}")
            } else {
                String::new()
            },
            ok: None,
        },
        Row {
            name: "run start lateness p50",
            value: format!("{:.2} s", p(0.5)),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "run start lateness p99",
            value: format!("{:.2} s", p(0.99)),
            target: "<= 5 s".into(),
            ok: Some(p(0.99) <= 5.0),
        },
        Row {
            name: "run start lateness max",
            value: format!("{:.2} s", p(1.0)),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "tasks overdue > 60 s at the end",
            value: late.overdue.to_string(),
            target: "0".into(),
            ok: Some(late.overdue == 0),
        },
        Row {
            name: "ponte CPU while idle",
            value: format!("{:.3} cores", cpu.ponte / secs),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "PostgreSQL CPU while idle",
            value: format!("{:.3} cores", cpu.postgres / secs),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "peak RSS per instance",
            value: rss_mb.map_or("-".into(), |m| format!("{m} MiB")),
            target: "<= 300 MiB".into(),
            ok: rss_mb.map(|m| m <= 300),
        },
        Row {
            name: "tenant-scoped API reads",
            value: format!("{:.0} /s", reads.rate),
            target: String::new(),
            ok: None,
        },
        Row {
            name: "API read p99",
            value: format!("{:.1} ms", reads.p99_ms),
            target: String::new(),
            ok: None,
        },
    ];
    let figures = json!({
        "tenants": tenants.len(), "channels": channels, "setup_secs": setup_secs,
        "window_secs": secs, "runs": late.runs, "lateness_p50_s": p(0.5), "lateness_p99_s": p(0.99),
        "lateness_max_s": p(1.0), "overdue": late.overdue, "cpu_ponte_cores": cpu.ponte / secs,
        "cpu_postgres_cores": cpu.postgres / secs, "rss_mb": rss_mb, "reads_per_sec": reads.rate,
        "read_p99_ms": reads.p99_ms, "read_errors": reads.errors,
    });
    let correct = late.runs > 0 && reads.errors == 0 && late.foreign == 0;
    drop(servers);
    if let Some(db) = db {
        db.drop_db().await;
    }
    emit("tenants", &a.target.label(), &rows, figures, correct)
}
