//! Hook delivery: the configuration ping and order notifications.
//!
//! Documented (Feed v3 guide, "Hook"): on configuration VTEX POSTs
//! `{"hookConfig":"ping"}` and refuses the configuration with 400 unless the
//! endpoint answers 200; notifications are POSTed with the configured
//! `hook.headers`, the endpoint must answer 200 within 5000 ms, and failed
//! deliveries are retried at intervals growing in a "geometric progression".
//!
//! Assumptions: the ping also carries the configured headers; retries double
//! from [`super::VtexConfig::hook_retry_base`] for at most
//! [`super::VtexConfig::hook_max_attempts`] attempts; notifications are not
//! ordered (each is delivered by its own task, as a distributed sender would).

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::state::HookJob;
use super::VtexSim;

/// Documented: the endpoint must answer within 5000 ms.
pub const HOOK_TIMEOUT: Duration = Duration::from_millis(5000);

/// One delivery attempt of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDelivery {
    /// `OrderId` of the notification.
    pub order_id: String,
    /// `State` of the notification.
    pub state: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Status code answered (`None`: connection error or timeout).
    pub status: Option<u16>,
    /// The notification was dropped on purpose (see
    /// [`VtexSim::drop_next_hook_notifications`]); nothing was sent.
    pub dropped: bool,
    /// When the attempt finished.
    pub at: Instant,
    /// How long the receiver took to answer (zero when dropped).
    pub took: Duration,
}

pub(crate) fn client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(HOOK_TIMEOUT)
        .build()
        .ok()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: &serde_json::Value,
) -> Option<u16> {
    let mut rb = client.post(url).json(body);
    for (k, v) in headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    rb.send().await.ok().map(|r| r.status().as_u16())
}

/// The configuration ping; `Some(status)` when the endpoint answered.
pub(crate) async fn ping(url: &str, headers: &[(String, String)]) -> Option<u16> {
    let client = client()?;
    post(&client, url, headers, &json!({"hookConfig": "ping"})).await
}

/// Delivers queued notifications until the server shuts down.
pub(crate) async fn worker(
    sim: VtexSim,
    mut rx: mpsc::UnboundedReceiver<HookJob>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(client) = client() else {
        tracing::warn!("vtex sim: no HTTP client, hook notifications are not delivered");
        return;
    };
    loop {
        let job = tokio::select! {
            j = rx.recv() => match j { Some(j) => j, None => return },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if sim.take_drop() {
            sim.log_delivery(HookDelivery {
                order_id: job.order_id,
                state: job.state,
                attempt: 0,
                status: None,
                dropped: true,
                at: Instant::now(),
                took: Duration::ZERO,
            });
            continue;
        }
        let sim = sim.clone();
        let client = client.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let cfg = sim.config().clone();
            let attempts = cfg.hook_max_attempts.max(1);
            let mut delay = cfg.hook_retry_base;
            for attempt in 1..=attempts {
                let sent = Instant::now();
                let status = post(&client, &job.url, &job.headers, &job.body).await;
                sim.log_delivery(HookDelivery {
                    order_id: job.order_id.clone(),
                    state: job.state.clone(),
                    attempt,
                    status,
                    dropped: false,
                    at: Instant::now(),
                    took: sent.elapsed(),
                });
                if status == Some(200) || attempt == attempts {
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
