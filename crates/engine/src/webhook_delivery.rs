//! Delivering events to webhook endpoints: one loop per instance queues new events for
//! the endpoints that want them, claims due messages under a lease (an order's events
//! one at a time per endpoint) and POSTs each, signed per Standard Webhooks, through
//! the same outbound client as platform calls (public addresses only, no redirects).
//! Deliveries run concurrently, and each endpoint may hold only its share of the
//! slots ([`DeliverySlots`]), so a slow endpoint holds only its own messages; each
//! result is recorded as soon as it is known, in small batches. An endpoint's
//! `rate_limit_per_sec` spaces its deliveries out (per instance).

use crate::webhook_sign::signature_header;
use crate::Engine;
use chrono::{DateTime, Utc};
use ponte_core::EndpointId;
use ponte_store::webhooks::{ClaimedDelivery, DeliveryFinish, DeliveryOutcome, DeliverySlots};
use std::collections::HashMap;
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
    let mut slots = DeliverySlots {
        total: u32::try_from(engine.config.webhook_concurrency.max(1)).unwrap_or(u32::MAX),
        ..DeliverySlots::default()
    };
    let mut running: JoinSet<DeliveryFinish> = JoinSet::new();
    let mut done = Vec::new();
    let mut pace = Pace::default();
    loop {
        while let Some(r) = running.try_join_next() {
            if let Ok(f) = r {
                slots.release(f.endpoint_id);
                done.push(f);
            }
        }
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
        slots.round = slots.round.wrapping_add(1);
        let free = usize::try_from(slots.free()).unwrap_or(usize::MAX);
        let claimed = engine.delivery_round(&mut done, &owner, &slots).await;
        let got = claimed.len();
        for c in claimed {
            *slots.in_flight.entry(c.endpoint.id).or_default() += 1;
            let (e, o) = (engine.clone(), owner.clone());
            let wait = pace.wait(&c, Instant::now());
            running.spawn(async move {
                tokio::time::sleep(wait).await;
                e.deliver(c, o).await
            });
        }
        // Every free slot filled: more may be due at once; otherwise wait for a
        // delivery to end, a new event or the poll.
        if got == free && free > 0 {
            continue;
        }
        tokio::select! {
            Some(r) = running.join_next(), if !running.is_empty() => {
                if let Ok(f) = r {
                    slots.release(f.endpoint_id);
                    done.push(f);
                }
            }
            _ = woken => {}
            _ = tokio::time::sleep(engine.config.webhook_poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// When each rate-limited endpoint may be called next.
#[derive(Default)]
struct Pace(HashMap<EndpointId, Instant>);

impl Pace {
    /// How long a delivery waits for its endpoint's rate limit (none: at once).
    fn wait(&mut self, c: &ClaimedDelivery, now: Instant) -> Duration {
        let Some(rate) = c.endpoint.rate_limit_per_sec.filter(|r| *r > 0) else {
            return Duration::ZERO;
        };
        self.0.retain(|_, next| *next > now);
        let slot = self.0.get(&c.endpoint.id).copied().unwrap_or(now).max(now);
        self.0
            .insert(c.endpoint.id, slot + Duration::from_secs(1) / rate);
        slot - now
    }
}

impl Engine {
    /// One round: records the finished deliveries (emptying `done`), queues new events
    /// and claims due messages, in one store call (one transaction on PostgreSQL).
    async fn delivery_round(
        &self,
        done: &mut Vec<DeliveryFinish>,
        owner: &str,
        slots: &DeliverySlots,
    ) -> Vec<ClaimedDelivery> {
        let now = self.clock.now();
        let lease = self.config.webhook_timeout * 2;
        let round = self
            .store
            .delivery_round(done, now, QUEUE_BATCH, owner, lease, slots)
            .await;
        done.clear();
        round.unwrap_or_else(|e| {
            // Finished ones go again when their leases run out, with the same webhook-id.
            tracing::warn!(error = %e, "webhook delivery round");
            vec![]
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use ponte_store::conformance::webhooks::endpoint;
    use ponte_store::{Event, NewEvent};

    fn claimed(rate: Option<u32>, ep: EndpointId) -> ClaimedDelivery {
        let mut e = endpoint(ponte_core::TenantId::new());
        e.id = ep;
        e.rate_limit_per_sec = rate;
        let event = NewEvent {
            tenant_id: e.tenant_id,
            id: ponte_core::EventId::new(),
            kind: ponte_core::event::EventType::OrderCreated,
            at: chrono::Utc::now(),
            channel_id: None,
            order_id: None,
            data: serde_json::json!({}),
        };
        ClaimedDelivery {
            endpoint: e,
            event: Event { seq: 1, event },
            attempt: ponte_core::AttemptId::new(),
            attempts_used: 0,
        }
    }

    #[test]
    fn a_rate_limit_spaces_an_endpoint_s_deliveries_out() {
        let mut pace = Pace::default();
        let now = Instant::now();
        let (a, b) = (EndpointId::new(), EndpointId::new());
        let waits: Vec<Duration> = (0..3)
            .map(|_| pace.wait(&claimed(Some(4), a), now))
            .collect();
        assert_eq!(waits, [0, 250, 500].map(Duration::from_millis));
        assert_eq!(pace.wait(&claimed(None, b), now), Duration::ZERO);
        assert_eq!(pace.wait(&claimed(Some(4), b), now), Duration::ZERO);
        // Once its slots have passed, an endpoint goes at once again.
        let later = now + Duration::from_secs(1);
        assert_eq!(pace.wait(&claimed(Some(4), a), later), Duration::ZERO);
    }
}
