//! ERP actions on orders: decided and recorded in one transaction with the status
//! send the channel's automations ask for.

use crate::{Engine, EngineError};
use ponte_core::action::{Action, ActionKind};
use ponte_core::automation::NotSent;
use ponte_core::ErrorCode;
use ponte_core::{OrderId, SendId, TenantId};
use ponte_store::{ActionApplied, ActionCommit, ResendSelector, StoredOrder};

/// What an ERP action did.
#[derive(Debug, Clone)]
pub struct ActionReport {
    /// The order after it.
    pub order: StoredOrder,
    /// False when the same action had already been recorded (nothing changed).
    pub changed: bool,
    /// Whether the platform will be told.
    pub send: SendPlan,
}

/// Whether an action goes out to the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendPlan {
    /// A status send was enqueued.
    Queued(SendId),
    /// Not sent, and why.
    NotSent(NotSent),
    /// A repeat: the first call's send covers it.
    AlreadyRecorded,
}

impl Engine {
    /// Applies an ERP action to an order (idempotent; refusals have stable codes).
    pub async fn order_action(
        &self,
        tenant: TenantId,
        order_id: OrderId,
        action: Action,
        xml: Option<String>,
    ) -> Result<ActionReport, EngineError> {
        let channel = match self.order_channels.get(tenant, order_id) {
            Some(c) => c,
            None => {
                let order = self
                    .store
                    .order(tenant, order_id)
                    .await?
                    .ok_or(EngineError::NotFound(ErrorCode::OrderNotFound))?;
                self.order_channels
                    .remember(tenant, order_id, order.channel_id);
                order.channel_id
            }
        };
        let plan = self.send_plan(channel, action.kind()).await;
        let commit = ActionCommit {
            tenant_id: tenant,
            order_id,
            action,
            xml,
            send_max_attempts: plan.as_ref().ok().copied(),
            not_sent: plan.as_ref().err().copied(),
        };
        match self.actions.apply(commit).await? {
            ActionApplied::NotFound => Err(EngineError::NotFound(ErrorCode::OrderNotFound)),
            ActionApplied::Refused(e) => Err(EngineError::Action(e)),
            ActionApplied::AlreadyDone(order) => Ok(ActionReport {
                order: *order,
                changed: false,
                send: SendPlan::AlreadyRecorded,
            }),
            ActionApplied::Applied { order, send } => {
                let send = match (send, plan) {
                    (Some(id), _) => SendPlan::Queued(id),
                    (None, Err(why)) => SendPlan::NotSent(why),
                    (None, Ok(_)) => SendPlan::AlreadyRecorded,
                };
                Ok(ActionReport {
                    order: *order,
                    changed: true,
                    send,
                })
            }
        }
    }

    /// Resends failed status sends with a fresh attempt budget; returns those resent.
    pub async fn resend(
        &self,
        tenant: TenantId,
        selector: &ResendSelector,
    ) -> Result<Vec<SendId>, EngineError> {
        let resent = self
            .store
            .resend(tenant, selector, self.clock.now())
            .await?;
        if !resent.is_empty() {
            tracing::info!(sends = resent.len(), "status sends resent");
            self.wake_workers();
        }
        Ok(resent)
    }

    /// How many attempts a send of `kind` to the channel gets, or why there is none.
    async fn send_plan(
        &self,
        channel: ponte_core::ChannelId,
        kind: ActionKind,
    ) -> Result<u32, NotSent> {
        let ready = match self.cached_channel(channel).await {
            Ok(r) => r,
            Err(e) => {
                // The order's events are still recorded; the send is what cannot happen.
                tracing::warn!(channel = %channel, error = %e, "channel unusable: no status send");
                return Err(NotSent::ChannelDisabled);
            }
        };
        if !ready.enabled {
            return Err(NotSent::ChannelDisabled);
        }
        ready.automations.check(kind)?;
        ready.connector.send_support(kind)?;
        Ok(ready.automations.max_attempts)
    }
}
