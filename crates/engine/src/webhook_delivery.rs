//! Delivering events to webhook endpoints: one loop per instance queues new events for
//! the endpoints that want them, claims due messages under a lease (an order's events
//! one at a time per endpoint) and POSTs each, signed per Standard Webhooks, through
//! the same outbound client as platform calls (public addresses only, no redirects).
//! Deliveries run concurrently, so a slow endpoint holds only its own messages; each
//! result is recorded as soon as it is known, in small batches.

use crate::webhook_sign::signature_header;
use crate::Engine;
use chrono::{DateTime, Utc};
use ponte_store::webhooks::{ClaimedDelivery, DeliveryFinish, DeliveryOutcome};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Most events queued per endpoint per round.
const QUEUE_BATCH: u32 = 1000;

/// Longest answer excerpt kept with an attempt.
const EXCERPT: usize = 1024;

/// How a POST ended.
struct Answer {
    status: Option<u16>,
    excerpt: Option<String>,
    error: Option<String>,
}

/// The delivery loop (see the module documentation).
pub(crate) async fn webhook_loop(
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
    owner: String,
) {
    let max = engine.config.webhook_concurrency.max(1);
    let mut running: JoinSet<DeliveryFinish> = JoinSet::new();
    let mut done = Vec::new();
    loop {
        while let Some(r) = running.try_join_next() {
            if let Ok(f) = r {
                done.push(f);
            }
        }
        engine.finish_deliveries(&mut done).await;
        if *stop.borrow() {
            while let Some(r) = running.join_next().await {
                if let Ok(f) = r {
                    done.push(f);
                }
            }
            engine.finish_deliveries(&mut done).await;
            return;
        }
        let woken = engine.webhook_wake.notified();
        let now = engine.clock.now();
        if let Err(e) = engine.store.queue_deliveries(now, QUEUE_BATCH).await {
            tracing::warn!(error = %e, "queueing webhook deliveries");
        }
        let free = max.saturating_sub(running.len());
        let claimed = if free == 0 {
            vec![]
        } else {
            let limit = u32::try_from(free).unwrap_or(u32::MAX);
            let lease = engine.config.webhook_timeout * 2;
            match engine
                .store
                .claim_deliveries(&owner, now, lease, limit)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries");
                    vec![]
                }
            }
        };
        let full = claimed.len() == free;
        for c in claimed {
            let (e, o) = (engine.clone(), owner.clone());
            running.spawn(async move { e.deliver(c, o).await });
        }
        if full && free > 0 {
            continue;
        }
        tokio::select! {
            Some(r) = running.join_next(), if !running.is_empty() => {
                if let Ok(f) = r {
                    done.push(f);
                }
            }
            _ = woken => {}
            _ = tokio::time::sleep(engine.config.webhook_poll) => {}
            _ = stop.changed() => {}
        }
    }
}

impl Engine {
    /// Records the finished deliveries (and empties `done`).
    async fn finish_deliveries(&self, done: &mut Vec<DeliveryFinish>) {
        if done.is_empty() {
            return;
        }
        if let Err(e) = self.store.finish_deliveries(done, self.clock.now()).await {
            // The leases run out and the messages go again, with the same webhook-id.
            tracing::warn!(error = %e, n = done.len(), "recording webhook deliveries");
        }
        done.clear();
    }

    /// POSTs one event to its endpoint and says what follows.
    async fn deliver(&self, c: ClaimedDelivery, owner: String) -> DeliveryFinish {
        let now = self.clock.now();
        let started = Instant::now();
        let answer = self.post_event(&c, now).await;
        let made = c.attempts_used.saturating_add(1);
        let outcome = match answer.status {
            Some(s) if (200..300).contains(&s) => DeliveryOutcome::Succeeded,
            Some(410) => DeliveryOutcome::Gone,
            _ => match self
                .config
                .webhook_schedule
                .after(made, rand::random::<f64>())
            {
                Some(wait) => DeliveryOutcome::Retry(
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
                ),
                None => DeliveryOutcome::Failed,
            },
        };
        let error = answer.error.or_else(|| match answer.status {
            Some(s) if !(200..300).contains(&s) => Some(format!("HTTP {s}")),
            _ => None,
        });
        DeliveryFinish {
            tenant_id: c.endpoint.tenant_id,
            endpoint_id: c.endpoint.id,
            event_seq: c.event.seq,
            attempt: c.attempt,
            owner,
            http_status: answer.status,
            response: answer.excerpt,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            error,
            outcome,
        }
    }

    /// The signed POST.
    async fn post_event(&self, c: &ClaimedDelivery, now: DateTime<Utc>) -> Answer {
        let failed = |error: String| Answer {
            status: None,
            excerpt: None,
            error: Some(error),
        };
        let keys = match self.signing_keys(&c.endpoint, now) {
            Ok(k) => k,
            Err(e) => return failed(e.to_string()),
        };
        if let Err(e) = self.http.check_literal(&c.endpoint.url) {
            return failed(e.to_string());
        }
        let body = c.event.payload().to_string();
        let id = c.event.event.id.to_string();
        let ts = now.timestamp();
        let sig = signature_header(&keys, &id, ts, body.as_bytes());
        let sent = self
            .http
            .post(&c.endpoint.url)
            .timeout(self.config.webhook_timeout)
            .header("content-type", "application/json")
            .header("user-agent", "ponte-webhooks")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return failed("timeout".into()),
            Err(e) => return failed(error_chain(&e)),
        };
        let status = resp.status().as_u16();
        let mut excerpt = Vec::new();
        while excerpt.len() < EXCERPT {
            match resp.chunk().await {
                Ok(Some(b)) => excerpt.extend_from_slice(&b),
                _ => break,
            }
        }
        excerpt.truncate(EXCERPT);
        Answer {
            status: Some(status),
            excerpt: Some(String::from_utf8_lossy(&excerpt).into_owned()),
            error: None,
        }
    }
}

/// An error with its causes (a refused address shows as such).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// The default idle wait between rounds when nothing is due.
pub(crate) const DEFAULT_POLL: Duration = Duration::from_millis(25);
