//! Webhook ingest: verify, then store the raw delivery and its job durably (group
//! commit) before answering.

use crate::batch::{next_batch, Item};
use crate::gate::WriteGate;
use crate::{Engine, EngineError, Metrics};
use chrono::{DateTime, Utc};
use ponte_channels::WebhookAction;
use ponte_core::{ChannelId, DeliveryId};
use ponte_store::{import_job_key, DeliveryState, NewDelivery, NewJob, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex, Notify};

/// Most deliveries committed in one transaction.
const MAX_BATCH: usize = 1000;

/// Job kind that imports one order.
pub(crate) const IMPORT_ORDER: &str = "import_order";

/// What a stored webhook became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAck {
    /// The stored delivery.
    pub delivery_id: DeliveryId,
    /// `received` (an import follows) or `ignored`.
    pub state: &'static str,
}

/// The group-commit queue in front of the inbox.
pub(crate) struct Ingest {
    tx: Mutex<Option<mpsc::Sender<Item<NewDelivery>>>>,
    done: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Ingest {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        wake: Arc<Notify>,
        metrics: Metrics,
        gate: Arc<WriteGate>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<Item<NewDelivery>>(MAX_BATCH * 8);
        let handle = tokio::spawn(async move {
            while let Some(batch) = next_batch(&mut rx, MAX_BATCH).await {
                let _turn = gate.inbox_turn();
                let (deliveries, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let started = std::time::Instant::now();
                let result = store.accept_deliveries(&deliveries).await;
                tracing::debug!(
                    n = deliveries.len(),
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "inbox commit"
                );
                metrics.ingest_batch(deliveries.len());
                if result.is_ok() && deliveries.iter().any(|d| d.job.is_some()) {
                    // One claim loop; it wakes another when it finds a full batch.
                    wake.notify_one();
                }
                for r in replies {
                    let _ = r.send(result.clone());
                }
            }
        });
        Self {
            tx: Mutex::new(Some(tx)),
            done: Mutex::new(Some(handle)),
        }
    }

    async fn submit(&self, d: NewDelivery) -> Result<(), EngineError> {
        let tx = self
            .tx
            .lock()
            .await
            .clone()
            .ok_or(EngineError::ShuttingDown)?;
        crate::batch::ask(&tx, d).await
    }

    /// Stops taking deliveries and waits for the queued ones to commit.
    pub(crate) async fn drain(&self) {
        self.tx.lock().await.take();
        if let Some(h) = self.done.lock().await.take() {
            let _ = h.await;
        }
    }
}

impl Engine {
    /// Handles one webhook: authenticates it for the channel, stores it with its job
    /// in the next group commit, and answers once that is durable.
    pub async fn receive_webhook(
        &self,
        channel_id: ChannelId,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookAck, EngineError> {
        let result = self.receive(channel_id, headers, body).await;
        self.metrics.delivery(match &result {
            Ok(a) => a.state,
            Err(e) => e.code().as_str(),
        });
        result
    }

    async fn receive(
        &self,
        channel_id: ChannelId,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookAck, EngineError> {
        let ch = self.cached_channel(channel_id).await?;
        // The signature first: a disabled channel tells only its platform so.
        let event = ch.connector.verify_webhook(headers, body)?;
        if !ch.tenant_enabled {
            return Err(crate::auth::tenant_disabled());
        }
        if !ch.enabled {
            return Err(EngineError::ChannelDisabled);
        }
        let now: DateTime<Utc> = self.clock.now();
        let (state, note, job) = match &event.action {
            WebhookAction::ImportOrder if ch.instant_events_not_in_plan => (
                DeliveryState::Ignored,
                Some(
                    "instant events are not in this tenant's plan: polling imports this \
                     channel's orders"
                        .to_owned(),
                ),
                None,
            ),
            WebhookAction::ImportOrder if !ch.automations.instant_events => (
                DeliveryState::Ignored,
                Some("instant_events is off: polling imports this channel's orders".to_owned()),
                None,
            ),
            WebhookAction::ImportOrder => {
                let ext = event.resource_id.clone().unwrap_or_default();
                let job = NewJob {
                    kind: IMPORT_ORDER.into(),
                    payload: serde_json::json!({ "channel_id": channel_id, "external_id": ext }),
                    unique_key: Some(import_job_key(channel_id, &ext)),
                    run_at: now,
                };
                (DeliveryState::Received, None, Some(job))
            }
            // Tickets come by notification only (no polling reads them): imported
            // whatever the channel's instant events say.
            WebhookAction::ImportTicket => {
                let ext = event.resource_id.clone().unwrap_or_default();
                let job = crate::tickets::ticket_import_job(channel_id, &ext, now);
                (DeliveryState::Received, None, Some(job))
            }
            WebhookAction::Ignore(why) => (DeliveryState::Ignored, Some(why.clone()), None),
        };
        let d = NewDelivery {
            id: DeliveryId::new(),
            tenant_id: ch.tenant_id,
            channel_id,
            received_at: now,
            event: event.event,
            resource_id: event.resource_id,
            body: body.to_vec(),
            state,
            note,
            job,
        };
        let id = d.id;
        self.ingest.submit(d).await?;
        Ok(WebhookAck {
            delivery_id: id,
            state: state.as_str(),
        })
    }
}
