//! `ponte-bench events`: outbound webhooks to local ERP endpoints (in this process).
//! 1. platform notification -> order stored -> the ERP endpoint receives its
//!    `order.created`, at a fixed arrival rate (from each notification's scheduled
//!    time);
//! 2. delivery throughput to one fast endpoint (every event recovered at once);
//! 3. the same beside an endpoint that takes 1 s per answer (both printed);
//! 4. an endpoint down (503) for `--down-secs` while orders keep coming, then back:
//!    every event is delivered (lost = 0), by the retry schedule alone.
//!
//! ponte runs with the retry schedule divided by 100 (50 ms, 3 s, 18 s, 72 s, 3 min,
//! 6 min, 6 min: about 16 minutes in all, longer than the longest outage asked).

use crate::load::histogram;
use crate::report::{emit, Row};
use crate::scenarios::{arrivals, ms, Setup, SetupSpec, Target};
use crate::server::TOKEN;
use anyhow::Context;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Options of `events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub target: Target,
    /// Notifications per second in the latency measurement.
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// Seconds of arrivals in the latency measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// How long the endpoint stays down (600: ten minutes).
    #[arg(long, default_value_t = 30)]
    pub down_secs: u64,
    /// Orders per second placed while it is down.
    #[arg(long, default_value_t = 20)]
    pub down_rate: u64,
}

/// The retry schedule's divisor given to ponte.
const RETRY_DIVISOR: &str = "100";

/// One request an endpoint got.
#[derive(Debug, Clone)]
struct Got {
    at: DateTime<Utc>,
    /// The event's `timestamp`: when ponte recorded the change (the order stored).
    recorded: Option<DateTime<Utc>>,
    id: String,
    kind: String,
    external_id: Option<String>,
    ok: bool,
}

/// A local ERP endpoint: answers after `delay`, 503 until `down_until`.
struct Hook {
    delay: Duration,
    down_until: Mutex<Option<Instant>>,
    log: Mutex<Vec<Got>>,
}

impl Hook {
    /// Starts it on a loopback port; its URL.
    async fn start(delay: Duration, down: Option<Duration>) -> anyhow::Result<(String, Arc<Hook>)> {
        let hook = Arc::new(Hook {
            delay,
            down_until: Mutex::new(down.map(|d| Instant::now() + d)),
            log: Mutex::default(),
        });
        let h = hook.clone();
        let app = axum::Router::new().route(
            "/erp",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let h = h.clone();
                async move { h.answer(&headers, &body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/erp", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((url, hook))
    }

    async fn answer(&self, headers: &HeaderMap, body: &str) -> StatusCode {
        let at = Utc::now();
        let down = self
            .down_until
            .lock()
            .map(|d| d.is_some_and(|until| Instant::now() < until))
            .unwrap_or(false);
        if !down && !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let v: Value = serde_json::from_str(body).unwrap_or_default();
        let got = Got {
            at,
            recorded: v["timestamp"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            id: headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            kind: v["type"].as_str().unwrap_or("").to_owned(),
            external_id: v["data"]["external_id"].as_str().map(str::to_owned),
            ok: !down,
        };
        if let Ok(mut log) = self.log.lock() {
            log.push(got);
        }
        if down {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    }

    fn log(&self) -> Vec<Got> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Distinct events answered 200.
    fn delivered(&self) -> usize {
        let log = self.log();
        log.iter()
            .filter(|g| g.ok)
            .map(|g| g.id.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}

/// Registers an endpoint; its id.
async fn endpoint(s: &Setup, url: &str, events: Option<&[&str]>) -> anyhow::Result<String> {
    let mut body = json!({"url": url, "description": "bench"});
    if let Some(e) = events {
        body["events"] = json!(e);
    }
    let ep: Value = s
        .http
        .post(format!("{}/api/v1/webhook-endpoints", s.servers[0].base))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(ep["id"].as_str().context("endpoint id")?.to_owned())
}

/// Queues again every event since `since` for the endpoint; how many.
async fn recover(s: &Setup, id: &str, since: DateTime<Utc>) -> anyhow::Result<u64> {
    let r: Value = s
        .http
        .post(format!(
            "{}/api/v1/webhook-endpoints/{id}/recover",
            s.servers[0].base
        ))
        .bearer_auth(TOKEN)
        .json(&json!({ "since": since }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    r["queued"].as_u64().context("queued")
}

/// Waits until `done` holds (checked every 20 ms); false after `timeout`.
async fn wait(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// Events a second between `from` and the last of `n` distinct deliveries.
fn rate_of(hook: &Hook, from: DateTime<Utc>, n: usize) -> f64 {
    let log = hook.log();
    let mut seen = HashSet::new();
    let last = log
        .iter()
        .filter(|g| g.ok && seen.insert(g.id.clone()))
        .map(|g| g.at)
        .max()
        .unwrap_or(from);
    let secs = (last - from).num_microseconds().unwrap_or(1).max(1) as f64 / 1e6;
    n as f64 / secs
}

/// Runs the four measurements; prints and writes them.
pub async fn events(a: EventsArgs) -> anyhow::Result<Value> {
    let n = (a.rate * a.seconds) as usize;
    let m = (a.down_rate * a.down_secs) as usize;
    let mut spec = SetupSpec::plain(n + m);
    spec.env = vec![("PONTE_WEBHOOK_RETRY_DIVISOR", RETRY_DIVISOR.to_owned())];
    let (s, ids) = Setup::with(spec, &a.target).await?;
    let s = Arc::new(s);
    let began = Utc::now() - chrono::Duration::minutes(1);

    // 1. Latency: notification -> order stored -> the ERP endpoint has order.created.
    let (url, erp) = Hook::start(Duration::ZERO, None).await?;
    endpoint(&s, &url, Some(&["order.created"])).await?;
    let (scheduled, acked) = arrivals(&s, &ids[..n], a.rate).await?;
    let all_in = wait(Duration::from_secs(300), || erp.delivered() >= n).await;
    let mut h = histogram()?;
    // Of which: from the order stored (the event's timestamp) to the ERP receiving it.
    let mut out = histogram()?;
    let mut first: HashMap<String, &Got> = HashMap::new();
    let log = erp.log();
    for g in log.iter().filter(|g| g.kind == "order.created") {
        if let Some(ext) = &g.external_id {
            first.entry(ext.clone()).or_insert(g);
        }
    }
    let us = |d: chrono::Duration| d.num_microseconds().unwrap_or(0).max(1) as u64;
    for (ext, g) in &first {
        if let Some(sent) = scheduled.get(ext) {
            h.record(us(g.at - *sent))?;
        }
        if let Some(recorded) = g.recorded {
            out.record(us(g.at - recorded))?;
        }
    }
    let (p50, p99) = (h.value_at_quantile(0.5), h.value_at_quantile(0.99));
    let (out50, out99) = (out.value_at_quantile(0.5), out.value_at_quantile(0.99));

    // 2. Throughput to one fast endpoint: every event so far queued at once.
    let (url, fast) = Hook::start(Duration::ZERO, None).await?;
    let id = endpoint(&s, &url, None).await?;
    let t = Utc::now();
    let events = recover(&s, &id, began).await? as usize;
    let fast_done = wait(Duration::from_secs(300), || fast.delivered() >= events).await;
    let alone = rate_of(&fast, t, events);

    // 3. The same beside an endpoint answering in 1 s.
    let (url, slow) = Hook::start(Duration::from_secs(1), None).await?;
    let slow_id = endpoint(&s, &url, None).await?;
    let (url, beside) = Hook::start(Duration::ZERO, None).await?;
    let beside_id = endpoint(&s, &url, None).await?;
    let t = Utc::now();
    recover(&s, &slow_id, began).await?;
    recover(&s, &beside_id, began).await?;
    let beside_done = wait(Duration::from_secs(300), || beside.delivered() >= events).await;
    let with_slow = rate_of(&beside, t, events);
    let slow_secs = (Utc::now() - t).num_milliseconds().max(1) as f64 / 1000.0;
    let slow_rate = slow.delivered() as f64 / slow_secs;
    s.http
        .delete(format!(
            "{}/api/v1/webhook-endpoints/{slow_id}",
            s.servers[0].base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .error_for_status()?;

    // 4. Down for a while as orders keep coming, then back: nothing lost.
    let down = Duration::from_secs(a.down_secs);
    let (url, outage) = Hook::start(Duration::ZERO, Some(down)).await?;
    endpoint(&s, &url, Some(&["order.created"])).await?;
    let down_from = Instant::now();
    let (down_sent, down_acked) = arrivals(&s, &ids[n..], a.down_rate).await?;
    tokio::time::sleep(down.saturating_sub(down_from.elapsed())).await;
    let back = Instant::now();
    let recovered = wait(down + Duration::from_secs(1200), || outage.delivered() >= m).await;
    let back_secs = back.elapsed().as_secs_f64();
    let log = outage.log();
    let got_ok: HashSet<String> = log
        .iter()
        .filter(|g| g.ok)
        .filter_map(|g| g.external_id.clone())
        .collect();
    let lost = down_sent.keys().filter(|e| !got_ok.contains(*e)).count();
    let refused = log.iter().filter(|g| !g.ok).count();
    let duplicates = log.iter().filter(|g| g.ok).count() - outage.delivered();

    let correct = acked == n && all_in && fast_done && beside_done && down_acked == m && recovered;
    let figures = json!({
        "rate_per_sec": a.rate, "orders": n,
        "order_created_p50_ms": p50 as f64 / 1000.0, "order_created_p99_ms": p99 as f64 / 1000.0,
        "stored_to_erp_p50_ms": out50 as f64 / 1000.0, "stored_to_erp_p99_ms": out99 as f64 / 1000.0,
        "events_recovered": events, "fast_alone_per_sec": alone,
        "fast_beside_slow_per_sec": with_slow, "slow_per_sec": slow_rate,
        "down_secs": a.down_secs, "orders_while_down": m, "refused_while_down": refused,
        "lost": lost, "duplicates": duplicates, "all_delivered_after_back_secs": back_secs,
        "retry_divisor": RETRY_DIVISOR,
    });
    if let Ok(s) = Arc::try_unwrap(s) {
        s.finish().await;
    }
    let per_sec = |v: f64| format!("{v:.0}/s");
    emit(
        "events",
        &a.target.label(),
        &[
            Row {
                name: "arrival rate (orders/s)",
                value: a.rate.to_string(),
                target: "500".into(),
                ok: None,
            },
            Row {
                name: "notification -> ERP order.created p50",
                value: ms(p50),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "notification -> ERP order.created p99",
                value: ms(p99),
                target: "<= 100 ms".into(),
                ok: Some(p99 <= 100_000),
            },
            Row {
                name: "of which order stored -> ERP p50 / p99",
                value: format!("{} / {}", ms(out50), ms(out99)),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "delivery to one fast endpoint",
                value: per_sec(alone),
                target: ">= 2000/s".into(),
                ok: Some(alone >= 2000.0),
            },
            Row {
                name: "fast endpoint beside a 1 s one",
                value: per_sec(with_slow),
                target: "~ alone".into(),
                ok: None,
            },
            Row {
                name: "the 1 s endpoint meanwhile",
                value: per_sec(slow_rate),
                target: "-".into(),
                ok: None,
            },
            Row {
                name: "lost after an outage",
                value: format!("{lost} of {m} ({}s down)", a.down_secs),
                target: "0".into(),
                ok: Some(lost == 0),
            },
            Row {
                name: "all delivered after it is back",
                value: format!("{back_secs:.1} s"),
                target: "-".into(),
                ok: None,
            },
        ],
        figures.clone(),
        correct,
    )?;
    Ok(figures)
}
