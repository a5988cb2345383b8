//! `track_shipments`: asks the carriers about every shipped, undelivered order with a
//! tracking code; records new events in the order's timeline (once each); a delivery
//! runs the ERP delivery action and an undeliverable or returned parcel the shipping
//! exception action, exactly as `POST /api/v1/orders/{id}/delivery` and
//! `/shipment-exception` do (so the platform is told through the normal status send,
//! once, and the order is flagged `shipment_exception`).
//!
//! Budget: each carrier account is a token bucket in the store (`carrier:{id}`, shared
//! by every instance) at its `rate_limit_per_sec` with `rate_limit_burst` (default 1:
//! calls go out evenly spaced); accounts are polled at once. One run makes at most as
//! many calls as the bucket refills in the task's interval; the shipments asked about
//! least recently go first, so with more shipments than one interval's budget the polls
//! spread over the following runs.

use crate::carriers::account_for;
use crate::task_run::Ran;
use crate::Engine;
use ponte_channels::carriers::{Carrier, Tracked, TrackingEvent, TrackingOutcome};
use ponte_channels::{PlatformError, PlatformErrorKind};
use ponte_core::action::{Action, Delivery, ShipmentException};
use ponte_core::TenantId;
use ponte_store::{CarrierAccount, PolledEvent, RunCounts, ShipmentToTrack, TaskRun, TrackingPoll};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Shipped orders read per store query.
const TRACK_PAGE: u32 = 500;

/// Longest wait for the account's bucket or a carrier's 429 before a call.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Times a call answered 429 is tried again in one run.
const RATE_LIMITED_TRIES: u32 = 3;

/// Longest shipping-exception observation (as the API takes it).
const MAX_OBSERVATION: usize = 500;

/// The bucket of a carrier account's calls.
pub(crate) fn carrier_bucket(account: &CarrierAccount) -> String {
    format!("carrier:{}", account.id)
}

/// One tracking event as the order's timeline shows it.
fn polled(account: &CarrierAccount, code: &str, e: &TrackingEvent) -> PolledEvent {
    PolledEvent {
        key: e.key(),
        at: e.at,
        detail: serde_json::json!({
            "carrier": account.carrier,
            "carrier_account": account.name,
            "tracking_code": code,
            "event": e.code,
            "description": e.description,
            "location": e.location,
            "outcome": e.outcome.as_str(),
        }),
    }
}

/// What a shipment's events ask for: the delivery (its first delivered event), else a
/// shipping exception (the newest event, when undeliverable or returned).
fn action_for(
    account: &CarrierAccount,
    s: &ShipmentToTrack,
    events: &[TrackingEvent],
) -> Option<Action> {
    if let Some(d) = events
        .iter()
        .find(|e| e.outcome == TrackingOutcome::Delivered)
    {
        return Some(Action::Delivery(Delivery { delivered_at: d.at }));
    }
    let last = events.last()?;
    if s.has_exception
        || !matches!(
            last.outcome,
            TrackingOutcome::Undeliverable | TrackingOutcome::Returned
        )
    {
        return None;
    }
    let text = format!(
        "{} {} ({}): {} {}",
        account.carrier,
        last.outcome.as_str(),
        s.tracking_code,
        last.code,
        last.description
    );
    Some(Action::ShipmentException(ShipmentException {
        observation: text.chars().take(MAX_OBSERVATION).collect(),
        occurred_at: last.at,
    }))
}

/// Adds what one account's polls did to the run's counts.
fn add(to: &mut RunCounts, from: &RunCounts) {
    to.calls += from.calls;
    to.seen += from.seen;
    to.updated += from.updated;
    to.delivered += from.delivered;
    to.flagged += from.flagged;
}

impl Engine {
    /// `track_shipments` (rules in the module documentation).
    pub(crate) async fn run_track_shipments(
        &self,
        run: &TaskRun,
        stop: &watch::Receiver<bool>,
    ) -> Ran {
        let mut counts = RunCounts::default();
        let tenant = run.tenant_id;
        let interval = match self.store.task(tenant, run.task_id).await {
            Ok(Some(t)) => t.interval_secs,
            Ok(None) => crate::tasks::DEFAULT_INTERVAL_SECS,
            Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
        };
        let accounts = match self.store.carrier_accounts(tenant).await {
            Ok(a) => a,
            Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
        };
        if accounts.is_empty() {
            return Ran::ok(counts);
        }
        let mut by_account: HashMap<usize, Vec<ShipmentToTrack>> = HashMap::new();
        let mut after = None;
        loop {
            let (page, last) = match self
                .store
                .shipments_to_track(tenant, after, TRACK_PAGE)
                .await
            {
                Ok(p) => p,
                Err(e) => return Ran::failed(counts, format!("storage_error: {e}")),
            };
            for s in page {
                match account_for(&accounts, s.carrier.as_deref()) {
                    Some(a) => {
                        let i = accounts.iter().position(|x| x.id == a.id).unwrap_or(0);
                        by_account.entry(i).or_default().push(s);
                    }
                    None => counts.skipped += 1,
                }
            }
            match last {
                Some(l) => after = Some(l),
                None => break,
            }
        }
        // Each account has its own budget: they are polled at once.
        let polls = by_account.into_iter().map(|(i, mut shipments)| {
            let account = &accounts[i];
            shipments.sort_by_key(|s| (s.polled_at, s.order_id));
            async move {
                let mut mine = RunCounts::default();
                let r = self
                    .track_account(tenant, account, interval, shipments, &mut mine, stop)
                    .await
                    .map_err(|e| format!("{} `{}`: {e}", account.carrier, account.name));
                (r, mine)
            }
        });
        let mut errors = vec![];
        let mut stopped = false;
        for (r, mine) in futures_util::future::join_all(polls).await {
            add(&mut counts, &mine);
            match r {
                Ok(true) => {}
                Ok(false) => stopped = true,
                Err(e) => errors.push(e),
            }
        }
        if stopped {
            return Ran::Stopped;
        }
        if errors.is_empty() {
            Ran::ok(counts)
        } else {
            Ran::failed(counts, errors.join("; "))
        }
    }

    /// Polls one account's shipments within its budget; `Ok(false)`: stopped by
    /// shutdown.
    async fn track_account(
        &self,
        tenant: TenantId,
        account: &CarrierAccount,
        interval_secs: i64,
        shipments: Vec<ShipmentToTrack>,
        counts: &mut RunCounts,
        stop: &watch::Receiver<bool>,
    ) -> Result<bool, String> {
        let carrier = self
            .carrier(account)
            .map_err(|e| format!("{}: {e}", e.code()))?;
        let limit = carrier.rate_limit();
        let batch = carrier.batch_size().max(1);
        // What the bucket refills in one interval, plus what it holds.
        let max_calls = (interval_secs.max(1) as f64 * limit.per_sec + limit.burst)
            .floor()
            .max(1.0) as usize;
        let mut last_error = None;
        for chunk in shipments.chunks(batch).take(max_calls) {
            if *stop.borrow() {
                return Ok(false);
            }
            let mut codes: Vec<String> = chunk.iter().map(|s| s.tracking_code.clone()).collect();
            codes.dedup();
            let tracked = match self
                .call_carrier(tenant, account, &carrier, &codes, counts)
                .await
            {
                Ok(t) => t,
                Err(e) if e.kind == PlatformErrorKind::Auth => {
                    return Err(format!("credentials refused: {e}"))
                }
                Err(e) => {
                    last_error = Some(e.to_string());
                    continue;
                }
            };
            self.apply_tracking(tenant, account, chunk, tracked, counts)
                .await?;
        }
        match last_error {
            None => Ok(true),
            Some(e) => Err(e),
        }
    }

    /// One tracking call within the account's budget; a 429 waits and tries again.
    async fn call_carrier(
        &self,
        tenant: TenantId,
        account: &CarrierAccount,
        carrier: &Arc<dyn Carrier>,
        codes: &[String],
        counts: &mut RunCounts,
    ) -> Result<Vec<Tracked>, PlatformError> {
        let limit = carrier.rate_limit();
        let key = carrier_bucket(account);
        let mut tries = 0;
        loop {
            loop {
                let took = self
                    .store
                    .take_tokens(
                        tenant,
                        &key,
                        1,
                        limit.burst,
                        limit.per_sec,
                        self.clock.now(),
                    )
                    .await;
                match took {
                    Ok(g) if g.granted > 0 => break,
                    Ok(g) => tokio::time::sleep(g.retry_after.min(MAX_WAIT)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "carrier budget unavailable; calling anyway");
                        break;
                    }
                }
            }
            let (calls, result) = carrier.track(codes).await;
            counts.calls += u64::from(calls);
            self.metrics.call(
                &account.carrier,
                result.as_ref().err().map_or(Some(200), |e| e.status),
            );
            match result {
                Err(PlatformError {
                    kind: PlatformErrorKind::RateLimited(wait),
                    ..
                }) if tries < RATE_LIMITED_TRIES => {
                    tries += 1;
                    tokio::time::sleep(wait.min(MAX_WAIT)).await;
                }
                r => return r,
            }
        }
    }

    /// Records what a call said about `chunk`, then runs the actions it asks for.
    async fn apply_tracking(
        &self,
        tenant: TenantId,
        account: &CarrierAccount,
        chunk: &[ShipmentToTrack],
        tracked: Vec<Tracked>,
        counts: &mut RunCounts,
    ) -> Result<(), String> {
        let by_code: HashMap<&str, &Tracked> =
            tracked.iter().map(|t| (t.code.as_str(), t)).collect();
        let mut polls = Vec::with_capacity(chunk.len());
        for s in chunk {
            let events = by_code
                .get(s.tracking_code.as_str())
                .map(|t| t.events.as_slice())
                .unwrap_or_default();
            polls.push(TrackingPoll {
                order_id: s.order_id,
                channel_id: s.channel_id,
                external_id: s.external_id.clone(),
                events: events
                    .iter()
                    .map(|e| polled(account, &s.tracking_code, e))
                    .collect(),
            });
        }
        counts.seen += chunk.len() as u64;
        counts.updated += self
            .store
            .record_tracking(tenant, &polls, self.clock.now())
            .await
            .map_err(|e| format!("storage_error: {e}"))?;
        for s in chunk {
            let events = by_code
                .get(s.tracking_code.as_str())
                .map(|t| t.events.as_slice())
                .unwrap_or_default();
            let Some(action) = action_for(account, s, events) else {
                continue;
            };
            let delivery = matches!(action, Action::Delivery(_));
            match self.order_action(tenant, s.order_id, action, None).await {
                Ok(r) if r.changed && delivery => counts.delivered += 1,
                Ok(r) if r.changed => counts.flagged += 1,
                Ok(_) => {}
                // Changed meanwhile (the ERP recorded it, the order was cancelled):
                // left alone.
                Err(e) => {
                    tracing::info!(order = %s.order_id, code = e.code().as_str(), error = %e, "tracking action refused")
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use ponte_core::{CarrierAccountId, ChannelId, OrderId};

    fn ev(code: &str, mins: i64, outcome: TrackingOutcome) -> TrackingEvent {
        TrackingEvent {
            code: code.into(),
            at: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
                + chrono::Duration::minutes(mins),
            description: "x".into(),
            location: None,
            outcome,
        }
    }

    #[test]
    fn delivered_wins_and_exceptions_come_once() {
        let account = CarrierAccount {
            tenant_id: TenantId::new(),
            id: CarrierAccountId::new(),
            carrier: "correios".into(),
            name: "C".into(),
            is_default: true,
            settings: serde_json::json!({}),
            credentials: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let mut s = ShipmentToTrack {
            order_id: OrderId::new(),
            channel_id: ChannelId::new(),
            external_id: "1".into(),
            tracking_code: "AA1BR".into(),
            carrier: None,
            has_exception: false,
            polled_at: None,
        };
        let failed = ev("BDE/20", 1, TrackingOutcome::Undeliverable);
        let delivered = ev("BDE/01", 2, TrackingOutcome::Delivered);
        assert!(matches!(
            action_for(&account, &s, &[failed.clone(), delivered.clone()]),
            Some(Action::Delivery(d)) if d.delivered_at == delivered.at
        ));
        assert!(matches!(
            action_for(&account, &s, std::slice::from_ref(&failed)),
            Some(Action::ShipmentException(e)) if e.occurred_at == failed.at
        ));
        assert!(action_for(&account, &s, &[ev("RO/01", 3, TrackingOutcome::InTransit)]).is_none());
        s.has_exception = true;
        assert!(
            action_for(&account, &s, &[failed]).is_none(),
            "already flagged"
        );
        assert!(action_for(&account, &s, &[]).is_none());
    }
}
