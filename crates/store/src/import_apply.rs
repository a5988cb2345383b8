//! Applying import results, one rule for every backend: the job's lease is proved
//! first (nothing is written without it), the fetch goes on the order's timeline, and
//! [`decide`] (given what is stored) creates, updates, skips or ignores the order; then
//! the deliveries the job run covered are settled. A backend supplies the transactional
//! reads and writes ([`ImportTx`]) with its SQL and locking, and runs [`apply_imports`]
//! inside its transaction.

use crate::events::{order_data, update_type};
use crate::{
    EventNotes, ImportApplied, ImportCommit, ImportResult, JobLease, JobOutcome, PolledApplied,
    StoreResult, TimelineNote, TimelineNotes,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::action::Fulfilment;
use ponte_core::event::EventType;
use ponte_core::import::{decide, ImportDecision, Known, SkipReason};
use ponte_core::order::{MappedOrder, OrderData};
use ponte_core::order_view::OrderView;
use ponte_core::{OrderId, TenantId};
use serde_json::json;

/// What is stored of the order an import is about: the order itself or a skip record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExistingOrder {
    /// The imported order.
    pub order: Option<(OrderId, OrderData)>,
    /// The imported order's fulfilment and first import (what its events show besides
    /// its data).
    pub recorded: Option<(Fulfilment, DateTime<Utc>)>,
    /// A skip record, with the platform version it was skipped at.
    pub skipped: Option<Option<DateTime<Utc>>>,
}

/// The reads and writes of imports, on one open transaction of a backend. The order is
/// the one of an [`ImportCommit`] (its tenant, channel and external id).
#[async_trait]
pub trait ImportTx: Send {
    /// Whether `lease` still holds the job (which stays).
    async fn job_held(&mut self, lease: &JobLease) -> StoreResult<bool>;

    /// Deletes the job while `lease` still holds it; whether it did.
    async fn take_job(&mut self, lease: &JobLease) -> StoreResult<bool>;

    /// Retries or fails the leased job per `outcome`.
    async fn finish_job(&mut self, lease: &JobLease, outcome: &JobOutcome) -> StoreResult<()>;

    /// What is stored of the order.
    async fn existing(&mut self, c: &ImportCommit) -> StoreResult<ExistingOrder>;

    /// Stores the order, new, under `id`.
    async fn insert_order(
        &mut self,
        c: &ImportCommit,
        id: OrderId,
        order: &MappedOrder,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Replaces the stored order `id`'s data and platform payload.
    async fn update_order(
        &mut self,
        tenant: TenantId,
        id: OrderId,
        data: &OrderData,
        raw: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Deletes the order's skip record.
    async fn clear_skip(&mut self, c: &ImportCommit) -> StoreResult<()>;

    /// Records (or replaces) why the order was skipped, at its platform version.
    async fn record_skip(
        &mut self,
        c: &ImportCommit,
        reason: SkipReason,
        platform_updated_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Marks the order's deliveries still `received` that arrived by `read_at` as
    /// `state` with `message`; how many.
    async fn settle_deliveries(
        &mut self,
        c: &ImportCommit,
        read_at: DateTime<Utc>,
        state: &'static str,
        message: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Writes the timeline entries.
    async fn write_notes(&mut self, notes: &[TimelineNote]) -> StoreResult<()>;

    /// Writes the events (the transaction's last write: see [`crate::NewEvent`]).
    async fn write_events(&mut self, events: &[crate::NewEvent]) -> StoreResult<()>;

    /// Brings the stock effects of the created or changed orders up to date.
    async fn order_effects(
        &mut self,
        orders: &[(TenantId, OrderId)],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Applies a batch of import results in the caller's transaction: each one, then the
/// timeline entries, then the stock effects of the orders created or changed, then
/// the events. Each result says whether it settled a waiting delivery (`announced`).
pub async fn apply_imports<T: ImportTx + ?Sized>(
    tx: &mut T,
    batch: Vec<ImportCommit>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<PolledApplied>> {
    let mut out = Vec::with_capacity(batch.len());
    let mut notes = TimelineNotes::default();
    let mut events = EventNotes::default();
    let mut touched = vec![];
    for c in batch {
        let tenant = c.tenant_id;
        let (applied, settled) = apply_import(tx, &mut notes, &mut events, c, now).await?;
        if let ImportApplied::Created(o) | ImportApplied::Updated(o) = applied {
            touched.push((tenant, o));
        }
        out.push(PolledApplied {
            applied,
            announced: settled > 0,
        });
    }
    tx.write_notes(notes.as_slice()).await?;
    tx.order_effects(&touched, now).await?;
    tx.write_events(events.as_slice()).await?;
    Ok(out)
}

/// Adds an entry to the timeline of the commit's order.
fn note(
    notes: &mut TimelineNotes,
    c: &ImportCommit,
    at: DateTime<Utc>,
    kind: &'static str,
    detail: serde_json::Value,
) {
    notes.add(c.tenant_id, c.channel_id, &c.external_id, at, kind, detail);
}

/// Notes the fetch call on the order's timeline.
fn note_fetched(notes: &mut TimelineNotes, c: &ImportCommit, now: DateTime<Utc>) {
    let call = serde_json::to_value(&c.call).unwrap_or_default();
    note(notes, c, now, "fetched", call);
}

/// Applies one commit; the result with the number of waiting deliveries it settled.
async fn apply_import<T: ImportTx + ?Sized>(
    tx: &mut T,
    notes: &mut TimelineNotes,
    events: &mut EventNotes,
    mut c: ImportCommit,
    now: DateTime<Utc>,
) -> StoreResult<(ImportApplied, u64)> {
    // A job named by a pointer (a Mercado Livre shipment) stores the order it led to
    // under the order's own id; the pointer's deliveries settle with it.
    let pointer = match &c.result {
        ImportResult::Fetched { order, .. } if order.data.external_id != c.external_id => {
            let id = order.data.external_id.clone();
            Some(ImportCommit {
                lease: c.lease.clone(),
                tenant_id: c.tenant_id,
                channel_id: c.channel_id,
                external_id: std::mem::replace(&mut c.external_id, id),
                call: c.call.clone(),
                read_at: c.read_at,
                result: ImportResult::FetchFailed {
                    outcome: JobOutcome::Done,
                },
            })
        }
        _ => None,
    };
    let (order, policy) = match &c.result {
        ImportResult::FetchFailed { outcome } => {
            return apply_failed(tx, notes, &c, outcome, now).await;
        }
        ImportResult::Fetched { order, policy } => (order, *policy),
        ImportResult::Remapped { order, policy } => {
            return apply_remapped(tx, notes, &c, order, *policy, now).await;
        }
    };
    // The job is done whatever the order turns out to be: removing it proves the lease.
    if let Some(lease) = &c.lease {
        if !tx.take_job(lease).await? {
            return Ok((ImportApplied::LeaseLost, 0));
        }
    }
    note_fetched(notes, &c, now);
    let ex = tx.existing(&c).await?;
    let known = match (&ex.order, ex.skipped) {
        (Some((_, d)), _) => Some(Known::Order(d)),
        (None, Some(at)) => Some(Known::Skipped(at)),
        (None, None) => None,
    };
    let applied = match decide(known, order, policy) {
        ImportDecision::Create => {
            let oid = OrderId::new();
            tx.insert_order(&c, oid, order, now).await?;
            if ex.skipped.is_some() {
                tx.clear_skip(&c).await?;
            }
            let detail = json!({ "order_id": oid, "status": order.data.status });
            note(notes, &c, now, "imported", detail);
            let view = OrderView::new(
                oid,
                c.channel_id,
                order.data.clone(),
                Fulfilment::default(),
                now,
                now,
            );
            let data = order_data(&view);
            let (t, ch) = (c.tenant_id, Some(c.channel_id));
            events.add(t, EventType::OrderCreated, now, ch, Some(oid), data);
            ImportApplied::Created(oid)
        }
        ImportDecision::Update { data, status_from } => {
            let Some((oid, _)) = ex.order else {
                return Ok((ImportApplied::Stale, 0));
            };
            tx.update_order(c.tenant_id, oid, &data, &order.raw, now)
                .await?;
            let kind = update_type(status_from, &data);
            let (t, ch) = (c.tenant_id, Some(c.channel_id));
            let (fulfilment, created_at) = ex
                .recorded
                .clone()
                .unwrap_or_else(|| (Fulfilment::default(), now));
            let view = OrderView::new(
                oid,
                c.channel_id,
                (*data).clone(),
                fulfilment,
                created_at,
                now,
            );
            events.add(t, kind, now, ch, Some(oid), order_data(&view));
            match status_from {
                Some(from) => {
                    let detail = json!({ "from": from, "to": data.status, "by": "platform" });
                    note(notes, &c, now, "status_changed", detail);
                }
                None => note(notes, &c, now, "updated", json!({ "status": data.status })),
            }
            ImportApplied::Updated(oid)
        }
        ImportDecision::Unchanged => match ex.order {
            Some((oid, _)) => ImportApplied::Unchanged(oid),
            None => ImportApplied::Stale,
        },
        ImportDecision::Stale => {
            let detail = json!({ "platform_updated_at": order.data.platform_updated_at });
            note(notes, &c, now, "stale_ignored", detail);
            ImportApplied::Stale
        }
        ImportDecision::Skip(reason) => {
            let at = order.data.platform_updated_at;
            tx.record_skip(&c, reason, at, now).await?;
            note(
                notes,
                &c,
                now,
                "skipped",
                json!({ "reason": reason.as_str() }),
            );
            let data = json!({
                "channel_id": c.channel_id, "external_id": c.external_id,
                "reason": reason.as_str(), "status": order.data.status,
            });
            let (t, ch) = (c.tenant_id, Some(c.channel_id));
            events.add(t, EventType::OrderSkipped, now, ch, None, data);
            ImportApplied::Skipped(reason)
        }
    };
    let note_text = applied.delivery_note();
    let mut settled = tx
        .settle_deliveries(&c, c.read_at, "processed", note_text.clone(), now)
        .await?;
    if let Some(p) = pointer {
        settled += tx
            .settle_deliveries(&p, p.read_at, "processed", note_text, now)
            .await?;
    }
    Ok((applied, settled))
}

/// A stored payload mapped again: only an order ponte has changes (a skipped one has
/// no payload kept), its status still only moving forward; the change is noted
/// `remapped`. No delivery is settled: the platform was not asked.
async fn apply_remapped<T: ImportTx + ?Sized>(
    tx: &mut T,
    notes: &mut TimelineNotes,
    c: &ImportCommit,
    order: &MappedOrder,
    policy: ponte_core::import::ImportPolicy,
    now: DateTime<Utc>,
) -> StoreResult<(ImportApplied, u64)> {
    let ex = tx.existing(c).await?;
    let Some((oid, known)) = &ex.order else {
        return Ok((ImportApplied::Stale, 0));
    };
    let applied = match decide(Some(Known::Order(known)), order, policy) {
        ImportDecision::Update { data, status_from } => {
            tx.update_order(c.tenant_id, *oid, &data, &order.raw, now)
                .await?;
            let detail = json!({
                "from": status_from,
                "to": status_from.map(|_| data.status),
                "status": data.status,
            });
            note(notes, c, now, "remapped", detail);
            ImportApplied::Updated(*oid)
        }
        ImportDecision::Unchanged => ImportApplied::Unchanged(*oid),
        _ => ImportApplied::Stale,
    };
    Ok((applied, 0))
}

/// A failed fetch: the job is retried or failed (a failure fails the deliveries its run
/// covered). A listing never fails one order: without a job there is nothing to retry.
async fn apply_failed<T: ImportTx + ?Sized>(
    tx: &mut T,
    notes: &mut TimelineNotes,
    c: &ImportCommit,
    outcome: &JobOutcome,
    now: DateTime<Utc>,
) -> StoreResult<(ImportApplied, u64)> {
    let Some(lease) = &c.lease else {
        return Ok((ImportApplied::Failed, 0));
    };
    if !tx.job_held(lease).await? {
        return Ok((ImportApplied::LeaseLost, 0));
    }
    note_fetched(notes, c, now);
    if let JobOutcome::Failed { error } = outcome {
        tx.settle_deliveries(c, c.read_at, "failed", Some(error.clone()), now)
            .await?;
    }
    tx.finish_job(lease, outcome).await?;
    let applied = if matches!(outcome, JobOutcome::Failed { .. }) {
        ImportApplied::Failed
    } else {
        ImportApplied::Retrying
    };
    Ok((applied, 0))
}

#[cfg(test)]
mod tests;
