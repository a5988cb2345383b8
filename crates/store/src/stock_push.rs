//! Stock push calls as the store keeps them, for every backend: the sequence that
//! records a batch ([`record_pushes`], over a backend's [`PushTx`]), and how the
//! history and the targets' states are read back (every kind alike).

use crate::stock_marks::MarksTx;
use crate::stock_plan::SkuKey;
use crate::target_push::PushRow;
use crate::{EventNotes, PushOutcome, PushRecord, PushState, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::TenantId;
use serde_json::json;
use std::collections::BTreeSet;

/// The primitive of [`record_pushes`].
#[async_trait]
pub trait PushTx: MarksTx {
    /// Stores the call, the SKUs it sent and its effect on their targets of its
    /// channel ([`PushRow::target_set`]).
    async fn write_push(
        &mut self,
        tenant: TenantId,
        row: &PushRow<'_, i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Writes the events (the transaction's last write: see [`crate::NewEvent`]).
    async fn write_events(&mut self, events: &[crate::NewEvent]) -> StoreResult<()>;
}

/// Records push calls and their effect on the targets; a call that succeeded or
/// failed for good is also an event (`stock.pushed`, `stock.push_failed`).
pub async fn record_pushes<T: PushTx + ?Sized>(
    tx: &mut T,
    tenant: TenantId,
    pushes: &[PushRecord],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    // The targets change under their SKUs' locks, like every other write of them.
    let skus: BTreeSet<SkuKey> = pushes
        .iter()
        .flat_map(|p| p.items.iter().map(|(sku, _, _)| (tenant, sku.clone())))
        .collect();
    tx.lock_stock(&skus, &[]).await?;
    let mut events = EventNotes::default();
    for p in pushes {
        tx.write_push(tenant, &PushRow::new(p)?, now).await?;
        let (kind, error) = match &p.outcome {
            PushOutcome::Succeeded => (EventType::StockPushed, None),
            PushOutcome::Failed { error } => (EventType::StockPushFailed, Some(error)),
            _ => continue,
        };
        let items: Vec<_> = p
            .items
            .iter()
            .map(|(sku, variant, quantity)| {
                json!({"sku": sku, "variant_id": variant, "quantity": quantity})
            })
            .collect();
        let data = json!({
            "channel_id": p.channel_id, "items": items, "request": p.request,
            "http_status": p.http_status, "error": error,
        });
        events.add(tenant, kind, now, Some(p.channel_id), None, data);
    }
    tx.write_events(events.as_slice()).await
}

/// A push history cursor: the position of the last push of the previous page.
pub fn push_cursor(cursor: &str) -> StoreResult<i64> {
    cursor
        .parse()
        .map_err(|_| StoreError::Invalid(format!("cursor {cursor:?}")))
}

/// A target's push state from its stored name.
pub fn push_state(name: &str) -> StoreResult<PushState> {
    PushState::parse(name).ok_or_else(|| StoreError::Corrupt(format!("push state {name}")))
}

/// A channel's (pending, pushed, failed) target counts from its count per stored
/// state.
pub fn push_state_counts(rows: &[(String, i64)]) -> (u64, u64, u64) {
    let count = |s: PushState| {
        rows.iter()
            .find(|(state, _)| state == s.as_str())
            .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
    };
    (
        count(PushState::Pending),
        count(PushState::Pushed),
        count(PushState::Failed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_cursors_parse_or_say_why_not() {
        assert_eq!(push_state("failed").ok(), Some(PushState::Failed));
        assert!(matches!(push_state("odd"), Err(StoreError::Corrupt(_))));
        assert_eq!(push_cursor("42").ok(), Some(42));
        assert!(matches!(push_cursor("x"), Err(StoreError::Invalid(_))));
        let rows = [("failed".to_owned(), 2), ("pending".to_owned(), 5)];
        assert_eq!(push_state_counts(&rows), (5, 0, 2));
    }
}
