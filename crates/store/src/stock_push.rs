//! Push calls as the store keeps them, for every backend: what one recorded call
//! writes ([`PushRow`]), the sequence that records a batch ([`record_pushes`], over a
//! backend's [`PushTx`]), and how the history and the targets' states are read back.

use crate::stock_marks::MarksTx;
use crate::stock_plan::SkuKey;
use crate::{EventNotes, PushOutcome, PushRecord, PushState, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ponte_core::event::EventType;
use ponte_core::TenantId;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// One push call as the history stores it, with the value it sent per target.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRow<'a> {
    /// The call (its outcome decides what the targets become).
    pub record: &'a PushRecord,
    /// The outcome's stored name.
    pub outcome: &'static str,
    /// The failure.
    pub error: Option<&'a str>,
    /// The items: SKU, variant id and quantity of each.
    pub items: serde_json::Value,
    /// Duration in milliseconds.
    pub duration_ms: i64,
    /// The value sent per SKU (the last one given for a SKU), in SKU order: one per
    /// target.
    pub sent: BTreeMap<&'a str, i64>,
}

impl<'a> PushRow<'a> {
    /// The row of a recorded call.
    pub fn new(record: &'a PushRecord) -> Self {
        let (outcome, error) = match &record.outcome {
            PushOutcome::Succeeded => ("succeeded", None),
            PushOutcome::Retrying { error } => ("retrying", Some(error.as_str())),
            PushOutcome::Failed { error } => ("failed", Some(error.as_str())),
            PushOutcome::Waiting { error } => ("waiting", Some(error.as_str())),
        };
        Self {
            record,
            outcome,
            error,
            items: record
                .items
                .iter()
                .map(|(sku, variant, q)| {
                    serde_json::json!({"sku": sku, "variant_id": variant, "quantity": q})
                })
                .collect(),
            duration_ms: i64::try_from(record.duration_ms).unwrap_or(i64::MAX),
            sent: record
                .items
                .iter()
                .map(|(sku, _, q)| (sku.as_str(), *q))
                .collect(),
        }
    }
}

impl PushRow<'_> {
    /// The assignments of the statement that applies the call to its targets
    /// ([`target_set`]).
    pub fn target_set(&self, t: &str, q: &str, at: &str, error: &str) -> String {
        target_set(&self.record.outcome, t, q, at, error)
    }
}

/// Which push history a listing reads: stock's or prices' (the same shape: the calls
/// and, per call, the SKUs it carried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushHistory {
    /// `stock_pushes`, `stock_push_skus`.
    Stock,
    /// `price_pushes`, `price_push_skus`.
    Prices,
    /// `catalog_pushes`, `catalog_push_skus`.
    Catalog,
}

impl PushHistory {
    /// The table of the calls.
    pub fn calls_table(self) -> &'static str {
        match self {
            Self::Stock => "stock_pushes",
            Self::Prices => "price_pushes",
            Self::Catalog => "catalog_pushes",
        }
    }

    /// The table of each call's SKUs.
    pub fn skus_table(self) -> &'static str {
        match self {
            Self::Stock => "stock_push_skus",
            Self::Prices => "price_push_skus",
            Self::Catalog => "catalog_push_skus",
        }
    }
}

/// The assignments of the statement that applies a push call to its targets (stock
/// and prices alike): `t` names the target row, `q` the value sent for it, `at` and
/// `error` the placeholders of the call's time and error (only one of them appears).
/// A success records the value as pushed and clears the attempts (the target is
/// `pushed` when the value is still the desired one, else `pending`); a retry counts
/// an attempt; a failure counts one and leaves the target `failed` when the value is
/// still the desired one; a wait only notes the error.
pub fn target_set(outcome: &PushOutcome, t: &str, q: &str, at: &str, error: &str) -> String {
    match outcome {
        PushOutcome::Succeeded => format!(
            "pushed = {q}, pushed_at = {at}, attempts = 0, last_error = NULL, \
             state = CASE WHEN {t}.desired = {q} THEN 'pushed' ELSE 'pending' END"
        ),
        PushOutcome::Retrying { .. } => {
            format!("attempts = {t}.attempts + 1, last_error = {error}")
        }
        PushOutcome::Failed { .. } => format!(
            "attempts = {t}.attempts + 1, last_error = {error}, \
             state = CASE WHEN {t}.desired = {q} THEN 'failed' ELSE 'pending' END"
        ),
        PushOutcome::Waiting { .. } => format!("last_error = {error}"),
    }
}

/// The primitive of [`record_pushes`].
#[async_trait]
pub trait PushTx: MarksTx {
    /// Stores the call, the SKUs it sent and its effect on their targets of its
    /// channel ([`PushRow::target_set`]).
    async fn write_push(
        &mut self,
        tenant: TenantId,
        row: &PushRow<'_>,
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
        tx.write_push(tenant, &PushRow::new(p), now).await?;
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
    use ponte_core::ChannelId;
    use uuid::Uuid;

    fn record(outcome: PushOutcome) -> PushRecord {
        PushRecord {
            channel_id: ChannelId(Uuid::from_u128(2)),
            items: vec![
                ("B".into(), "vb".into(), 1),
                ("A".into(), "va".into(), 2),
                ("B".into(), "vb".into(), 3),
            ],
            request: "PUT /stock".into(),
            http_status: Some(200),
            duration_ms: u64::MAX,
            outcome,
        }
    }

    #[test]
    fn a_row_keeps_every_item_and_the_last_value_per_sku() {
        let r = record(PushOutcome::Succeeded);
        let row = PushRow::new(&r);
        assert_eq!((row.outcome, row.error), ("succeeded", None));
        assert_eq!(row.items.as_array().map(Vec::len), Some(3));
        assert_eq!(row.items[0]["variant_id"], "vb");
        assert_eq!(
            row.sent.into_iter().collect::<Vec<_>>(),
            vec![("A", 2), ("B", 3)]
        );
        assert_eq!(row.duration_ms, i64::MAX);
        let r = record(PushOutcome::Waiting {
            error: "429".into(),
        });
        let row = PushRow::new(&r);
        assert_eq!((row.outcome, row.error), ("waiting", Some("429")));
    }

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
