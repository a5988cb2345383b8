//! What the `sends` scenario observes: the simulator's change requests, CPU time of
//! the processes involved, ponte's counters, and a count-bound load loop.

use crate::load::{histogram, Conn, Req};
use crate::scenarios::Setup;
use hdrhistogram::Histogram;
use ponte_sim::nuvemshop::{Method, NuvemshopSim, RequestRecord};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How ponte tells Nuvemshop about a separation (channel setting `shipping_api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `GET /orders/{id}/fulfillment-orders`, then `PATCH` each FO to PACKED.
    FulfillmentOrders,
    /// `POST /orders/{id}/pack`.
    Legacy,
}

impl Api {
    /// From the setting's value.
    pub fn parse(s: &str) -> anyhow::Result<Api> {
        match s {
            "fulfillment_orders" => Ok(Api::FulfillmentOrders),
            "legacy" => Ok(Api::Legacy),
            other => anyhow::bail!("unknown shipping API `{other}`"),
        }
    }

    /// The order a request changes, when it is the request that carries a
    /// separation: `PATCH …/orders/{id}/fulfillment-orders/{fo}` or `POST …/orders/{id}/pack`.
    pub fn change_of(self, r: &RequestRecord) -> Option<u64> {
        let (_, rest) = r.path.strip_prefix("/v1/")?.split_once("/orders/")?;
        let mut parts = rest.split('/');
        let id = parts.next()?.parse().ok()?;
        let tail: Vec<&str> = parts.collect();
        let hit = match self {
            Api::FulfillmentOrders => {
                r.method == Method::PATCH && tail.len() == 2 && tail[0] == "fulfillment-orders"
            }
            Api::Legacy => r.method == Method::POST && tail == ["pack"],
        };
        hit.then_some(id)
    }

    /// Whether the simulator has received the change request for order `id` (scans
    /// the request log: keep it short).
    pub fn changed(self, sim: &NuvemshopSim, id: u64) -> bool {
        match self {
            Api::FulfillmentOrders => {
                let prefix = format!("/orders/{id}/fulfillment-orders/");
                sim.request_count(&Method::PATCH, &prefix) > 0
            }
            Api::Legacy => {
                sim.request_count_exact(&Method::POST, &format!("/orders/{id}/pack")) > 0
            }
        }
    }
}

/// The change requests in a request log.
pub struct Changes {
    /// Arrival times of the 2xx change requests, per order.
    pub by_order: HashMap<u64, Vec<Instant>>,
    /// Change requests answered otherwise.
    pub refused: usize,
    /// Arrival of the last 2xx change request.
    pub last: Option<Instant>,
}

impl Changes {
    /// Sorts `log` out.
    pub fn of(log: &[RequestRecord], api: Api) -> Changes {
        let mut c = Changes {
            by_order: HashMap::new(),
            refused: 0,
            last: None,
        };
        for r in log {
            let Some(id) = api.change_of(r) else { continue };
            if !(200..300).contains(&r.status) {
                c.refused += 1;
                continue;
            }
            c.by_order.entry(id).or_default().push(r.at);
            c.last = c.last.max(Some(r.at));
        }
        c
    }

    /// Orders of `expected` without a change, with more than one, and changes of
    /// orders not in `expected`.
    pub fn check(&self, expected: &[u64]) -> (usize, usize, usize) {
        let missing = expected
            .iter()
            .filter(|id| !self.by_order.contains_key(id))
            .count();
        let duplicated = self.by_order.values().filter(|v| v.len() > 1).count();
        let stray = self.by_order.len() + missing - expected.len();
        (missing, duplicated, stray)
    }
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after `(comm)`: state is field 3, utime 14 and stime 15.
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks as f64 / 100.0)
}

/// CPU seconds of the PostgreSQL processes working for database `db`, by pid: its
/// backends and the server's own (WAL writer, checkpointer, ...), not other
/// databases' backends. A backend's title is `postgres: 15/main: user db host(port) state`.
fn postgres_cpu(db: &str) -> HashMap<String, f64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .filter(|p| {
            let title = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let title = String::from_utf8_lossy(&title);
            let backend = title.contains('(') || title.contains("[local]");
            !backend || title.contains(db)
        })
        .filter_map(|p| Some((p.clone(), cpu_secs(&p)?)))
        .collect()
}

/// CPU seconds used so far by ponte, this process (simulator and load generator)
/// and PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct CpuProbe {
    ponte: f64,
    bench: f64,
    postgres: HashMap<String, f64>,
}

impl CpuProbe {
    /// Now; PostgreSQL's processes when `s` has a scratch database.
    pub fn now(s: &Setup) -> CpuProbe {
        let pids: Vec<u32> = s.servers.iter().map(|srv| srv.pid()).collect();
        CpuProbe::of(&pids, s.database())
    }

    /// Now, for the ponte processes `pids` and (with a scratch database) PostgreSQL.
    pub fn of(pids: &[u32], database: Option<&str>) -> CpuProbe {
        CpuProbe {
            ponte: pids
                .iter()
                .filter_map(|pid| cpu_secs(&pid.to_string()))
                .sum(),
            bench: cpu_secs("self").unwrap_or(0.0),
            postgres: database.map(postgres_cpu).unwrap_or_default(),
        }
    }

    /// Used since `before` (PostgreSQL processes that ended in between are not counted).
    pub fn since(&self, before: &CpuProbe) -> Cpu {
        Cpu {
            ponte: self.ponte - before.ponte,
            bench: self.bench - before.bench,
            postgres: self
                .postgres
                .iter()
                .map(|(pid, t)| t - before.postgres.get(pid).copied().unwrap_or(0.0))
                .fold(0.0, |a, b| a + b),
        }
    }
}

/// CPU seconds used in a phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// Every ponte instance.
    pub ponte: f64,
    /// The benchmark: simulator plus load generator.
    pub bench: f64,
    /// PostgreSQL's processes (0 with SQLite).
    pub postgres: f64,
}

/// A metric summed over every instance.
pub async fn metric_sum(s: &Setup, key: &str) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for srv in &s.servers {
        total += Setup::metric_of(&s.http, &srv.base, key).await?;
    }
    Ok(total)
}

/// What a count-bound run measured.
pub struct Counted {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed or answered otherwise.
    pub errors: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Latency in microseconds.
    pub latency: Histogram<u64>,
}

impl Counted {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `n` requests (`make(i, addr)` for request `i` on a connection to `addr`) over `clients` keep-alive
/// connections spread over `addrs`, each as soon as the previous one is answered.
pub async fn count_loop<F>(
    addrs: &[SocketAddr],
    clients: usize,
    n: usize,
    make: F,
) -> anyhow::Result<Counted>
where
    F: Fn(usize, SocketAddr) -> Req + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = vec![];
    for c in 0..clients.clamp(1, n.max(1)) {
        let (make, next) = (make.clone(), next.clone());
        let addr = addrs[c % addrs.len().max(1)];
        tasks.push(tokio::spawn(async move {
            let mut h = histogram()?;
            let mut conn = Conn::open(addr).await?;
            let (mut ok, mut errors) = (0u64, 0u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok((ok, errors, h));
                }
                let t = Instant::now();
                match conn.send(make(i, addr)).await {
                    Ok(true) => ok += 1,
                    Ok(false) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = Conn::open(addr).await?;
                    }
                }
                h.record((t.elapsed().as_micros() as u64).max(1))?;
            }
        }));
    }
    let mut out = Counted {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: histogram()?,
    };
    for t in tasks {
        let (ok, errors, h) = t.await??;
        out.ok += ok;
        out.errors += errors;
        out.latency.add(&h)?;
    }
    out.elapsed = start.elapsed();
    Ok(out)
}
