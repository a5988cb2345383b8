//! Push subscriptions managed by ponte: with a public URL (`PONTE_PUBLIC_URL`), a
//! channel's webhook is registered at its platform when the channel is created or
//! enabled, removed when it is disabled, re-verified (and repaired) by every scheduled
//! polling run and on demand (`check`). Without a public URL the platform cannot reach
//! ponte: the channel is polling-only, and says so.
//!
//! A failed registration never blocks the channel: it is recorded (`failed`, with the
//! platform's answer), polling keeps importing, and the next check repairs it.

use crate::{Engine, EngineError};
use ponte_channels::{HookTarget, HookWant, SubscriptionReport};
use ponte_core::{ChannelId, TenantId};
use ponte_store::{Subscription, SubscriptionState};

impl Engine {
    /// Makes the channel's registration at its platform match the channel (enabled →
    /// registered, disabled → removed), records and returns the outcome.
    pub async fn reconcile_subscription(
        &self,
        tenant: TenantId,
        id: ChannelId,
    ) -> Result<Subscription, EngineError> {
        let ch = self.channel(tenant, id).await?;
        let now = self.clock.now();
        let sub = if self.config.public_url_set {
            let target = HookTarget {
                url: self.webhook_url(id),
                path: format!("/webhooks/{id}"),
            };
            let ready = self.cached_channel(id).await?;
            let want = if ch.enabled {
                HookWant::Registered
            } else {
                HookWant::Removed
            };
            let report = ready.connector.reconcile_subscription(&target, want).await;
            self.outcome(&ready.platform, ch.enabled, target.url, report, now)
        } else {
            Subscription {
                state: SubscriptionState::PollingOnly,
                url: None,
                registered: Vec::new(),
                changes: Vec::new(),
                reason: Some(
                    "PONTE_PUBLIC_URL is not set, so the platform cannot reach ponte: orders \
                     arrive by the import_orders polling task only"
                        .into(),
                ),
                checked_at: now,
            }
        };
        self.store.set_subscription(tenant, id, &sub).await?;
        Ok(sub)
    }

    /// Reconciles (and sets up what polling reads) and only logs a failure (channel
    /// creation, updates, polling runs).
    pub(crate) async fn reconcile_quietly(&self, tenant: TenantId, id: ChannelId) {
        self.prepare_polling(id).await;
        match self.reconcile_subscription(tenant, id).await {
            Ok(s) if s.state == SubscriptionState::Failed => {
                tracing::warn!(channel = %id, reason = ?s.reason, "platform subscription failed");
            }
            Ok(s) if !s.changes.is_empty() => {
                tracing::info!(channel = %id, changes = ?s.changes, "platform subscription reconciled");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "reconciling the platform subscription")
            }
        }
    }

    /// Sets up what an enabled channel's polling reads at its platform (VTEX's feed),
    /// logging what changed or failed: the next scheduled run tries again.
    async fn prepare_polling(&self, id: ChannelId) {
        let ready = match self.cached_channel(id).await {
            Ok(r) if r.enabled => r,
            _ => return,
        };
        let Some(report) = ready.connector.prepare_polling().await else {
            return;
        };
        for c in &report.calls {
            self.metrics.call(&ready.platform, c.status);
        }
        match report.result {
            Ok(s) if !s.changes.is_empty() => {
                tracing::info!(channel = %id, changes = ?s.changes, "polling set up at the platform")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(channel = %id, error = %e, "setting up polling at the platform")
            }
        }
    }

    /// A disabled channel whose webhook removal failed tries it again (its scheduled
    /// runs call this), so a platform that was down does not keep pushing for good.
    pub(crate) async fn retry_failed_removal(&self, tenant: TenantId, id: ChannelId) {
        if let Ok(Some(s)) = self.store.subscription(id).await {
            if s.state == SubscriptionState::Failed {
                self.reconcile_quietly(tenant, id).await;
            }
        }
    }

    /// A channel's subscription as last reconciled.
    pub async fn subscription(
        &self,
        tenant: TenantId,
        id: ChannelId,
    ) -> Result<Option<Subscription>, EngineError> {
        self.channel(tenant, id).await?;
        Ok(self.store.subscription(id).await?)
    }

    fn outcome(
        &self,
        platform: &str,
        enabled: bool,
        url: String,
        report: SubscriptionReport,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Subscription {
        for c in &report.calls {
            self.metrics.call(platform, c.status);
        }
        let last = report.calls.last().map(|c| c.request.clone());
        match report.result {
            Ok(s) => Subscription {
                state: if enabled {
                    SubscriptionState::Active
                } else {
                    SubscriptionState::Removed
                },
                url: enabled.then_some(url),
                registered: s.registered,
                changes: s.changes,
                reason: None,
                checked_at: now,
            },
            Err(e) => Subscription {
                state: SubscriptionState::Failed,
                url: enabled.then_some(url),
                registered: Vec::new(),
                changes: Vec::new(),
                reason: Some(match last {
                    Some(req) => format!("{}: {} ({req})", e.code(), e.message),
                    None => format!("{}: {}", e.code(), e.message),
                }),
                checked_at: now,
            },
        }
    }
}
