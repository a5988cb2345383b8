//! The tenants scenario's parts: creating tenants, their tokens and channels through
//! the admin and tenant APIs; reading how late the scheduled runs started; tenant-
//! scoped reads under load.

use super::{TenantsArgs, ADMIN_TOKEN};
use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use ponte_sim::nuvemshop::NuvemshopSim;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A tenant the scenario made, with its admin token.
pub struct TenantRef {
    /// Its API token.
    pub token: String,
}

async fn send(req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let r = req.send().await?;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        anyhow::bail!("{status}: {body}");
    }
    Ok(body)
}

/// Creates the tenants (plan `pro`), their first admin tokens and their channels, all
/// pointing at the simulator; with `interval_secs`, sets every task to it.
pub async fn create(
    http: &reqwest::Client,
    bases: &[String],
    sim: &NuvemshopSim,
    sim_base: &str,
    a: &TenantsArgs,
) -> anyhow::Result<Vec<TenantRef>> {
    let cfg = sim.config();
    let settings = json!({"store_id": cfg.store_id.to_string(), "api_base_url": sim_base,
                          "import_policy": "all"});
    let credentials = json!({"access_token": cfg.access_token, "app_secret": cfg.app_secret});
    stream::iter(0..a.tenants)
        .map(|i| {
            let base = &bases[i % bases.len()];
            let (settings, credentials) = (settings.clone(), credentials.clone());
            async move {
                let t = send(
                    http.post(format!("{base}/api/v1/admin/tenants"))
                        .bearer_auth(ADMIN_TOKEN)
                        .json(&json!({"name": format!("Loja {i}"), "plan": "pro"})),
                )
                .await?;
                let id = t["id"].as_str().context("tenant id")?;
                let tok = send(
                    http.post(format!("{base}/api/v1/admin/tenants/{id}/tokens"))
                        .bearer_auth(ADMIN_TOKEN)
                        .json(&json!({})),
                )
                .await?;
                let token = tok["token"].as_str().context("token")?.to_owned();
                for c in 0..a.channels {
                    send(
                        http.post(format!("{base}/api/v1/channels"))
                            .bearer_auth(&token)
                            .json(
                                &json!({"platform": "nuvemshop", "name": format!("Canal {c}"),
                                          "settings": settings, "credentials": credentials}),
                            ),
                    )
                    .await?;
                }
                if let Some(secs) = a.interval_secs {
                    let tasks = send(
                        http.get(format!("{base}/api/v1/scheduled-tasks"))
                            .bearer_auth(&token),
                    )
                    .await?;
                    for t in tasks["items"].as_array().into_iter().flatten() {
                        let id = t["id"].as_str().context("task id")?;
                        send(
                            http.patch(format!("{base}/api/v1/scheduled-tasks/{id}"))
                                .bearer_auth(&token)
                                .json(&json!({"interval_seconds": secs})),
                        )
                        .await?;
                    }
                }
                anyhow::Ok(TenantRef { token })
            }
        })
        .buffer_unordered(a.concurrency)
        .try_collect()
        .await
}

/// How late the scheduled runs started.
pub struct Late {
    /// Lateness of each run seen, seconds, sorted.
    secs: Vec<f64>,
    /// Runs seen (the latest of each task, due in the window).
    pub runs: usize,
    /// Tasks due more than a minute ago and not started.
    pub overdue: usize,
    /// Tenants whose task list is not their own (a count other than expected).
    pub foreign: usize,
}

impl Late {
    /// The `q` quantile (0 to 1) of the lateness, seconds.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.secs.is_empty() {
            return 0.0;
        }
        let i = ((self.secs.len() - 1) as f64 * q).round() as usize;
        self.secs[i.min(self.secs.len() - 1)]
    }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()?.parse().ok()
}

/// Reads every tenant's tasks: each one's latest scheduled run due since `since`
/// (started, or now when not started yet, minus due), and the tasks left overdue.
pub async fn lateness(
    http: &reqwest::Client,
    bases: &[String],
    tenants: &[TenantRef],
    channels: usize,
    since: DateTime<Utc>,
) -> anyhow::Result<Late> {
    let now = Utc::now();
    let lists: Vec<Value> = stream::iter(tenants.iter().enumerate())
        .map(|(i, t)| {
            let base = &bases[i % bases.len()];
            send(
                http.get(format!("{base}/api/v1/scheduled-tasks"))
                    .bearer_auth(&t.token),
            )
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let mut late = Late {
        secs: vec![],
        runs: 0,
        overdue: 0,
        foreign: 0,
    };
    for list in &lists {
        let items = list["items"].as_array().cloned().unwrap_or_default();
        late.foreign += usize::from(items.len() != 2 * channels + 1);
        for t in &items {
            let run = &t["last_run"];
            let due = time(&run["due_at"]);
            // A run not started yet (its task just came due: with every task of a
            // quick run on the same short interval, all of them at once) is at least
            // as late as now.
            if let Some(due) = due.filter(|d| run["trigger"] == "schedule" && *d >= since) {
                let started = time(&run["started_at"]).unwrap_or(now);
                late.secs
                    .push((started - due).num_milliseconds() as f64 / 1000.0);
            }
            let next = time(&t["next_run_at"]);
            let waiting = run["state"] == "queued"
                && due.is_some_and(|d| now - d > chrono::TimeDelta::seconds(60));
            if waiting || next.is_some_and(|n| now - n > chrono::TimeDelta::seconds(60)) {
                late.overdue += 1;
            }
        }
    }
    late.runs = late.secs.len();
    late.secs.sort_by(f64::total_cmp);
    Ok(late)
}

/// What the reads measured.
pub struct Reads {
    /// Answers per second.
    pub rate: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// Failed reads.
    pub errors: u64,
}

/// `concurrency` clients read `GET /api/v1/orders` and `GET /api/v1/channels` as
/// tenants taken in turn, for `read_secs`.
pub async fn reads(
    http: &reqwest::Client,
    bases: &[String],
    tenants: &[TenantRef],
    a: &TenantsArgs,
) -> anyhow::Result<Reads> {
    let until = Instant::now() + Duration::from_secs(a.read_secs);
    let started = Instant::now();
    let results: Vec<(Vec<u64>, u64)> = stream::iter(0..a.concurrency)
        .map(|w| async move {
            let mut lat = vec![];
            let mut errors = 0;
            let mut i = w;
            while Instant::now() < until {
                let t = &tenants[i % tenants.len()];
                let base = &bases[i % bases.len()];
                let path = if i % 2 == 0 {
                    "orders?limit=50"
                } else {
                    "channels"
                };
                let t0 = Instant::now();
                match send(
                    http.get(format!("{base}/api/v1/{path}"))
                        .bearer_auth(&t.token),
                )
                .await
                {
                    Ok(_) => lat.push(t0.elapsed().as_micros() as u64),
                    Err(_) => errors += 1,
                }
                i += a.concurrency;
            }
            (lat, errors)
        })
        .buffer_unordered(a.concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<u64> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    all.sort_unstable();
    let p99 = all
        .get(((all.len().saturating_sub(1)) as f64 * 0.99) as usize)
        .copied()
        .unwrap_or(0);
    Ok(Reads {
        rate: all.len() as f64 / elapsed.max(1e-9),
        p99_ms: p99 as f64 / 1000.0,
        errors: results.iter().map(|(_, e)| e).sum(),
    })
}
