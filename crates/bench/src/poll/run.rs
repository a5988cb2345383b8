//! One measurement: a fresh simulator holding a generated backlog, a fresh ponte with
//! a polling-only channel to it, one manual sync followed to its end, then ponte's
//! orders checked against the simulator's.

use crate::held;
use crate::scenarios::{Setup, SetupSpec, Target};
use crate::sends::probe::{Cpu, CpuProbe};
use crate::server::TOKEN;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use ponte_core::order::PlatformStatus;
use ponte_sim::nuvemshop::NewOrder;
use ponte_store::RunCounts;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often the run is looked at.
const EVERY: Duration = Duration::from_millis(200);

/// What one backlog size measured.
pub struct Measured {
    /// Orders in the simulator.
    pub backlog: usize,
    /// Of those, the ones ponte imports when it first sees them.
    pub importable: usize,
    /// The run's final counts.
    pub counts: RunCounts,
    /// `succeeded` or `failed`.
    pub state: String,
    /// The server's `started_at` to `finished_at`.
    pub wall_secs: f64,
    /// `created_at` to `started_at` (the run waiting for the task runner).
    pub queued_ms: i64,
    /// Orders read per second in the first and in the second half of the run.
    pub halves: Option<(f64, f64)>,
    /// Peak RSS (VmHWM) of ponte before the sync and when it ended, MiB.
    pub rss_start_mb: Option<u64>,
    /// See `rss_start_mb`.
    pub rss_peak_mb: Option<u64>,
    /// CPU seconds from the sync request to the end seen.
    pub cpu: Cpu,
    /// The sync request to the end seen, by this client.
    pub observed_secs: f64,
    /// What the check found wrong (empty: right).
    pub wrong: Vec<String>,
}

impl Measured {
    /// Orders read per second (each listing item counts; keyset jumps read the last
    /// order of a page again).
    pub fn rate(&self) -> f64 {
        self.counts.seen as f64 / self.wall_secs.max(1e-9)
    }
}

/// Sets everything up for a backlog of `n` orders, measures, checks, tears down.
pub async fn measure(target: &Target, n: usize, seed: u64) -> anyhow::Result<Measured> {
    let spec = SetupSpec {
        orders: 0,
        order: NewOrder::default(),
        // Webhooks ignored: the sync alone imports (and no gap is counted).
        settings: json!({ "instant_events": false }),
        request_log: 1_000,
        env: vec![],
    };
    let (s, _) = Setup::with(spec, target).await?;
    let out = walk(&s, n, seed).await;
    s.finish().await;
    out
}

/// Platform id -> expected ponte status of every order importable when first seen:
/// not cancelled, not already closed or shipped (the channel's default table).
fn importable(s: &Setup) -> HashMap<String, String> {
    let table = ponte_channels::nuvemshop::default_status_table();
    // One order at a time: cloning the whole store at once would take gigabytes.
    s.sim
        .order_ids()
        .into_iter()
        .filter_map(|id| s.sim.order(id))
        .filter_map(|o| {
            let text = |k: &str| o[k].as_str().map(str::to_owned);
            let platform = PlatformStatus {
                status: text("status"),
                payment_status: text("payment_status"),
                shipping_status: text("shipping_status"),
            };
            let status = table.status_of(&[], &platform).as_str().to_owned();
            let shipped = matches!(
                platform.shipping_status.as_deref(),
                Some("shipped" | "fulfilled" | "delivered")
            );
            let closed = platform.status.as_deref() == Some("closed");
            (status != "cancelled" && !closed && !shipped).then(|| (o["id"].to_string(), status))
        })
        .collect()
}

async fn walk(s: &Setup, n: usize, seed: u64) -> anyhow::Result<Measured> {
    s.sim.generate_orders(n, seed);
    let expected = importable(s);
    let channels = s.get("/api/v1/channels").await?;
    let channel = channels["items"][0]["id"]
        .as_str()
        .context("no channel")?
        .to_owned();
    let rss_start_mb = s.rss_mb();
    let cpu_before = CpuProbe::now(s);
    let t0 = Instant::now();
    let sync: Value = s
        .http
        .post(format!(
            "{}/api/v1/channels/{channel}/sync",
            s.servers[0].base
        ))
        .bearer_auth(TOKEN)
        .json(&json!({"kind": "orders", "since": "2020-01-01T00:00:00Z"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = sync["id"].as_str().context("sync: no run id")?.to_owned();
    // Generous: 100 orders/s at least, plus five minutes.
    let deadline = Duration::from_secs(300 + n as u64 / 100);
    let mut samples: Vec<(DateTime<Utc>, u64)> = vec![];
    let end = loop {
        tokio::time::sleep(EVERY).await;
        let r = s.get(&format!("/api/v1/task-runs/{id}")).await?;
        samples.push((Utc::now(), r["counts"]["seen"].as_u64().unwrap_or(0)));
        if matches!(r["state"].as_str(), Some("succeeded" | "failed")) {
            break r;
        }
        if t0.elapsed() > deadline {
            bail!("sync of {n} orders not finished after {deadline:?}: {r}");
        }
    };
    let observed_secs = t0.elapsed().as_secs_f64();
    let cpu = CpuProbe::now(s).since(&cpu_before);
    // Before the check below pages through every order (which costs memory too).
    let rss_peak_mb = s.rss_mb();
    let counts: RunCounts = serde_json::from_value(end["counts"].clone())?;
    let at = |k: &str| -> anyhow::Result<DateTime<Utc>> {
        Ok(end[k]
            .as_str()
            .with_context(|| format!("run {k}"))?
            .parse()?)
    };
    let (created, started, finished) = (at("created_at")?, at("started_at")?, at("finished_at")?);
    let wall_secs = (finished - started).num_milliseconds() as f64 / 1000.0;
    let state = end["state"].as_str().unwrap_or_default().to_owned();
    let mut wrong = vec![];
    if state != "succeeded" {
        wrong.push(format!("run {state}: {}", end["error"]));
    }
    wrong.extend(check(s, n, &counts, &expected).await?);
    Ok(Measured {
        backlog: n,
        importable: expected.len(),
        halves: halves(&samples, counts.seen, started, finished),
        counts,
        state,
        wall_secs,
        queued_ms: (started - created).num_milliseconds(),
        rss_start_mb,
        rss_peak_mb,
        cpu,
        observed_secs,
        wrong,
    })
}

/// Orders read per second before and after the sample where half the final count
/// had been read (the samples lag by up to [`EVERY`]: none for runs under 2 s).
fn halves(
    samples: &[(DateTime<Utc>, u64)],
    seen: u64,
    started: DateTime<Utc>,
    finished: DateTime<Utc>,
) -> Option<(f64, f64)> {
    let &(mid, at_mid) = samples.iter().find(|(_, n)| *n * 2 >= seen)?;
    let secs = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_milliseconds() as f64 / 1000.0;
    if secs(started, finished) < 2.0 {
        return None;
    }
    let (first, second) = (secs(started, mid), secs(mid, finished));
    (first > 0.0 && second > 0.0 && at_mid < seen)
        .then(|| (at_mid as f64 / first, (seen - at_mid) as f64 / second))
}

/// Every order read, none unreadable, and ponte holding exactly the importable
/// orders, each once, with the simulator's status.
async fn check(
    s: &Setup,
    n: usize,
    counts: &RunCounts,
    expected: &HashMap<String, String>,
) -> anyhow::Result<Vec<String>> {
    let mut wrong = vec![];
    if counts.unreadable > 0 {
        wrong.push(format!("{} unreadable orders", counts.unreadable));
    }
    if counts.seen < n as u64 {
        wrong.push(format!("{} orders read of {n}", counts.seen));
    }
    if counts.created != expected.len() as u64 {
        wrong.push(format!(
            "{} orders created of {} importable",
            counts.created,
            expected.len()
        ));
    }
    let held = held::orders(&s.http, &s.servers[0].base).await?;
    wrong.extend(held::differences(expected, &held));
    Ok(wrong)
}
