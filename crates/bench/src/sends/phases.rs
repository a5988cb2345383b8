//! The phases of `sends`: importing paid orders, separations one at a time on an
//! idle queue, and many separations at once.

use super::probe::{count_loop, metric_sum, Api, Changes, Counted, Cpu, CpuProbe};
use crate::load::{histogram, request, Conn};
use crate::scenarios::Setup;
use crate::server::TOKEN;
use anyhow::{bail, Context};
use bytes::Bytes;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// ponte's counter of send attempts that succeeded.
pub const SUCCEEDED: &str = "ponte_status_send_attempts_total{result=\"succeeded\"}";
/// ponte's counter of send attempts that failed for good.
const FAILED: &str = "ponte_status_send_attempts_total{result=\"failed\"}";

/// `POST /api/v1/orders/{id}/separation` to `addr`.
fn separation(addr: SocketAddr, order: &str) -> crate::load::Req {
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let path = format!("/api/v1/orders/{order}/separation");
    let body = Bytes::from_static(br#"{"kind":"separation"}"#);
    request("POST", addr, &path, &headers, body)
}

/// Notifies every order in `ids` and waits until ponte holds them all as
/// `approved`. Returns platform id -> ponte id, and how long it took.
pub async fn import(
    s: &Setup,
    ids: &[u64],
    clients: usize,
) -> anyhow::Result<(HashMap<u64, String>, Duration)> {
    let start = Instant::now();
    let addrs = s.addrs()?;
    let path = s.webhook_path()?;
    let bodies: Arc<Vec<(Bytes, String)>> = Arc::new(
        ids.iter()
            .map(|id| {
                let (b, sig) = s.signed("order/created", *id);
                (Bytes::from(b), sig)
            })
            .collect(),
    );
    let hooks = count_loop(&addrs, clients, ids.len(), move |i, addr| {
        let (body, sig) = &bodies[i];
        let headers = [
            ("content-type", "application/json"),
            ("x-linkedstore-hmac-sha256", sig.as_str()),
        ];
        request("POST", addr, &path, &headers, body.clone())
    })
    .await?;
    if hooks.errors > 0 {
        bail!("{} of {} notifications refused", hooks.errors, ids.len());
    }
    s.settle(Duration::from_secs(600)).await?;
    loop {
        let approved = approved(s).await?;
        if approved.len() >= ids.len() {
            return Ok((approved, start.elapsed()));
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!(
                "{} of {} orders imported as approved",
                approved.len(),
                ids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every `approved` order: platform id -> ponte id.
async fn approved(s: &Setup) -> anyhow::Result<HashMap<u64, String>> {
    let mut out = HashMap::new();
    let mut cursor = String::new();
    loop {
        let page = s
            .get(&format!("/api/v1/orders?status=approved&limit=500{cursor}"))
            .await?;
        for o in page["items"].as_array().context("items")? {
            let ext = o["external_id"].as_str().context("external_id")?.parse()?;
            out.insert(ext, o["id"].as_str().context("id")?.to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return Ok(out),
        }
    }
}

/// What the idle-queue phase measured.
pub struct Latency {
    /// From before the API call to the simulator receiving the change, µs.
    pub to_platform: Histogram<u64>,
    /// The API call's response time, µs.
    pub api: Histogram<u64>,
    /// Actions not answered 2xx.
    pub errors: u64,
    /// Sends that did not reach the simulator within 10 s.
    pub timeouts: usize,
    /// Orders without, with several, and stray change requests (see [`Changes::check`]).
    pub check: (usize, usize, usize),
    /// ponte's own mean of `ponte_status_send_latency_seconds` (to the platform's answer), ms.
    pub server_mean_ms: f64,
}

/// One separation at a time: each waits until the previous send reached the
/// simulator, then `gap`, so the queue is idle when it arrives.
pub async fn latency(
    s: &Setup,
    api: Api,
    orders: &[(u64, String)],
    gap: Duration,
) -> anyhow::Result<Latency> {
    s.sim.clear_requests();
    let lat_sum = "ponte_status_send_latency_seconds_sum";
    let lat_count = "ponte_status_send_latency_seconds_count";
    let (sum0, count0) = (
        metric_sum(s, lat_sum).await?,
        metric_sum(s, lat_count).await?,
    );
    let addrs = s.addrs()?;
    let mut conns = Vec::with_capacity(addrs.len());
    for a in &addrs {
        conns.push(Conn::open(*a).await?);
    }
    let mut out = Latency {
        to_platform: histogram()?,
        api: histogram()?,
        errors: 0,
        timeouts: 0,
        check: (0, 0, 0),
        server_mean_ms: 0.0,
    };
    let mut started = Vec::with_capacity(orders.len());
    for (i, (ext, id)) in orders.iter().enumerate() {
        let which = i % addrs.len();
        let t0 = Instant::now();
        let ok = conns[which].send(separation(addrs[which], id)).await?;
        out.api.record((t0.elapsed().as_micros() as u64).max(1))?;
        if !ok {
            out.errors += 1;
            continue;
        }
        started.push((*ext, t0));
        while !api.changed(&s.sim, *ext) {
            if t0.elapsed() > Duration::from_secs(10) {
                out.timeouts += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(gap).await;
    }
    let changes = Changes::of(&s.sim.requests(), api);
    let ids: Vec<u64> = orders.iter().map(|(ext, _)| *ext).collect();
    out.check = changes.check(&ids);
    for (ext, t0) in started {
        if let Some(at) = changes.by_order.get(&ext).and_then(|v| v.first()) {
            let us = at.saturating_duration_since(t0).as_micros() as u64;
            out.to_platform.record(us.max(1))?;
        }
    }
    let n = metric_sum(s, lat_count).await? - count0;
    if n > 0.0 {
        out.server_mean_ms = (metric_sum(s, lat_sum).await? - sum0) / n * 1000.0;
    }
    Ok(out)
}

/// What the throughput phase measured.
pub struct Throughput {
    /// The API calls.
    pub actions: Counted,
    /// From the first API call to the last change request the simulator received.
    pub wall: Duration,
    /// Requests the simulator received in that time.
    pub platform_calls: usize,
    /// Change requests answered other than 2xx.
    pub refused: usize,
    /// Orders without, with several, and stray change requests (see [`Changes::check`]).
    pub check: (usize, usize, usize),
    /// Change requests received while the API calls were still being made.
    pub during_api: usize,
    /// Sends ponte counted as succeeded in this phase.
    pub succeeded: u64,
    /// CPU used in the phase.
    pub cpu: Cpu,
}

impl Throughput {
    /// Sends delivered per second.
    pub fn sends_per_sec(&self) -> f64 {
        self.actions.ok as f64 / self.wall.as_secs_f64()
    }

    /// Sends per second while the API calls were being made.
    pub fn during_api_per_sec(&self) -> f64 {
        self.during_api as f64 / self.actions.elapsed.as_secs_f64()
    }

    /// Sends per second once the API calls were done (the queue draining alone).
    pub fn after_api_per_sec(&self) -> f64 {
        let rest = self.actions.ok as f64 - self.during_api as f64;
        rest / self
            .wall
            .saturating_sub(self.actions.elapsed)
            .as_secs_f64()
            .max(1e-9)
    }

    /// Platform calls per second.
    pub fn calls_per_sec(&self) -> f64 {
        self.platform_calls as f64 / self.wall.as_secs_f64()
    }
}

/// Separations for every order at once over `clients` connections; waits (up to
/// `timeout`) until ponte counts them all as sent.
pub async fn throughput(
    s: &Setup,
    api: Api,
    orders: &[(u64, String)],
    clients: usize,
    timeout: Duration,
) -> anyhow::Result<Throughput> {
    s.sim.clear_requests();
    let succeeded0 = metric_sum(s, SUCCEEDED).await?;
    let failed0 = metric_sum(s, FAILED).await?;
    let addrs = s.addrs()?;
    let ids: Arc<Vec<String>> = Arc::new(orders.iter().map(|(_, id)| id.clone()).collect());
    let cpu0 = CpuProbe::now(s);
    let start = Instant::now();
    let actions = count_loop(&addrs, clients, ids.len(), move |i, addr| {
        separation(addr, &ids[i])
    })
    .await?;
    let target = succeeded0 + actions.ok as f64;
    let mut succeeded = succeeded0;
    while start.elapsed() < timeout {
        succeeded = metric_sum(s, SUCCEEDED).await?;
        let failed = metric_sum(s, FAILED).await? - failed0;
        if succeeded + failed >= target {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu = CpuProbe::now(s).since(&cpu0);
    let log = s.sim.requests();
    let changes = Changes::of(&log, api);
    let ext: Vec<u64> = orders.iter().map(|(e, _)| *e).collect();
    let last = changes.last.unwrap_or_else(Instant::now);
    let api_end = start + actions.elapsed;
    Ok(Throughput {
        during_api: changes
            .by_order
            .values()
            .flatten()
            .filter(|at| **at <= api_end)
            .count(),
        wall: last.saturating_duration_since(start),
        platform_calls: log.iter().filter(|r| r.at <= last).count(),
        refused: changes.refused,
        check: changes.check(&ext),
        succeeded: (succeeded - succeeded0) as u64,
        actions,
        cpu,
    })
}
