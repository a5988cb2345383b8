//! Notification delivery (addendum "Notifications"): `POST` of
//! `{_id, resource, user_id, topic, application_id, attempts, sent, received}` to
//! the callback; anything but 200 is retried (doubling waits, see
//! [`super::MlConfig::notify_max_attempts`]); a notification never acknowledged, or
//! dropped on purpose, is listed by `GET /missed_feeds`.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::state::{ts, Pending};
use super::MlSim;

/// ML asks for an answer within 500 ms; the simulator waits up to this long.
pub const TIMEOUT: Duration = Duration::from_millis(5000);

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `topic`.
    pub topic: String,
    /// `resource`.
    pub resource: String,
    /// 1 for the first attempt (0: dropped, never sent).
    pub attempt: u32,
    /// Status answered (`None`: no answer).
    pub status: Option<u16>,
    /// When it finished.
    pub at: Instant,
    /// How long the receiver took.
    pub took: Duration,
}

fn body(sim: &MlSim, p: &Pending, attempt: u32) -> Value {
    let cfg = sim.config();
    let now = ts(Utc::now());
    json!({
        "_id": ulid::Ulid::generate().to_string().to_lowercase(),
        "resource": p.resource,
        "user_id": cfg.seller_id.parse::<u64>().unwrap_or(0),
        "topic": p.topic,
        "application_id": cfg.client_id.parse::<u64>().unwrap_or(0),
        "attempts": attempt,
        "sent": now,
        "received": now,
    })
}

fn missed(sim: &MlSim, p: &Pending, attempts: u32, status: Option<u16>) {
    let mut m = body(sim, p, attempts);
    m["request"] =
        json!({"url": sim.callback().unwrap_or_default(), "headers": {}, "data": m.to_string()});
    m["response"] =
        json!({"req_time": 0, "http_code": status.unwrap_or(0), "body": "", "headers": {}});
    sim.store().missed.push(m);
}

/// Delivers queued notifications until shutdown.
pub(crate) async fn worker(
    sim: MlSim,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(client) = reqwest::Client::builder().timeout(TIMEOUT).build() else {
        tracing::warn!("mercadolivre sim: no HTTP client, notifications are not delivered");
        return;
    };
    loop {
        let p = tokio::select! {
            p = rx.recv() => match p { Some(p) => p, None => return },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let Some(url) = sim.callback().filter(|_| !sim.take_drop()) else {
            sim.log_delivery(Delivery {
                topic: p.topic.clone(),
                resource: p.resource.clone(),
                attempt: 0,
                status: None,
                at: Instant::now(),
                took: Duration::ZERO,
            });
            missed(&sim, &p, 0, None);
            continue;
        };
        let sim = sim.clone();
        let client = client.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let attempts = sim.config().notify_max_attempts.max(1);
            let mut delay = sim.config().notify_retry_base;
            for attempt in 1..=attempts {
                let sent = Instant::now();
                let status = client
                    .post(&url)
                    .json(&body(&sim, &p, attempt))
                    .send()
                    .await
                    .ok()
                    .map(|r| r.status().as_u16());
                sim.log_delivery(Delivery {
                    topic: p.topic.clone(),
                    resource: p.resource.clone(),
                    attempt,
                    status,
                    at: Instant::now(),
                    took: sent.elapsed(),
                });
                if status == Some(200) {
                    return;
                }
                if attempt == attempts {
                    missed(&sim, &p, attempt, status);
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                delay = delay.saturating_mul(2);
            }
        });
    }
}
