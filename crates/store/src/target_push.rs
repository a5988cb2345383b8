//! What pushing values to channel targets shares across its kinds (stock, prices,
//! product data), for every backend: the tables and job of a kind ([`PushKind`]), a
//! recorded call as the history stores it ([`PushRow`]) and what its outcome makes of
//! the targets ([`target_set`]).

use crate::catalog::{catalog_job_key, catalog_text, CatalogPushRecord, CATALOG_JOB_KIND};
use crate::{
    price_job_key, price_text, stock_job_key, NewJob, PricePushRecord, PushOutcome, PushRecord,
    StoreError, StoreResult, PRICE_JOB_KIND, STOCK_JOB_KIND,
};
use chrono::{DateTime, Utc};
use ponte_core::catalog::CatalogValue;
use ponte_core::price::PriceValue;
use ponte_core::ChannelId;
use serde::Serialize;
use std::collections::BTreeMap;

/// One kind of target push: its job and the tables the backends' shared statements
/// name (the same shape for every kind).
#[derive(Debug, Clone, Copy)]
pub struct PushKind {
    /// The job kind that pushes a channel's pending values.
    pub job_kind: &'static str,
    /// The coalescing key of a channel's push job.
    pub job_key: fn(ChannelId) -> String,
    /// The name of the tenant-wide lock its writers take (prices, product data).
    pub lock: &'static str,
    /// What each channel should show per SKU, and what it was last told.
    pub targets: &'static str,
    /// The push calls.
    pub calls: &'static str,
    /// Each call's SKUs.
    pub call_skus: &'static str,
    /// Whether a call stamps `attempted_at` on the targets it carried.
    pub stamps_attempts: bool,
    /// Whether a claim forgets what the channel last took of the targets it hands out
    /// (`pushed`, until a call's success records it again). A kind whose calls send
    /// only what changed since then needs it: after a call whose outcome was never
    /// recorded (a crash, a timeout), the channel may show anything, and the next call
    /// must send every field.
    pub claim_forgets_pushed: bool,
}

impl PushKind {
    /// Stock: quantities.
    pub const STOCK: Self = Self {
        job_kind: STOCK_JOB_KIND,
        job_key: stock_job_key,
        lock: "stock",
        targets: "stock_targets",
        calls: "stock_pushes",
        call_skus: "stock_push_skus",
        stamps_attempts: false,
        claim_forgets_pushed: false,
    };
    /// Prices (markup applied).
    pub const PRICES: Self = Self {
        job_kind: PRICE_JOB_KIND,
        job_key: price_job_key,
        lock: "prices",
        targets: "price_targets",
        calls: "price_pushes",
        call_skus: "price_push_skus",
        stamps_attempts: true,
        claim_forgets_pushed: false,
    };
    /// Product data (the fields a channel carries).
    pub const CATALOG: Self = Self {
        job_kind: CATALOG_JOB_KIND,
        job_key: catalog_job_key,
        lock: "catalog",
        targets: "catalog_targets",
        calls: "catalog_pushes",
        call_skus: "catalog_push_skus",
        stamps_attempts: true,
        claim_forgets_pushed: true,
    };

    /// The push job of a channel, due now.
    pub fn push_job(self, channel: ChannelId, now: DateTime<Utc>) -> StoreResult<NewJob> {
        #[derive(Serialize)]
        struct Payload {
            channel_id: ChannelId,
        }
        Ok(NewJob {
            kind: self.job_kind.into(),
            payload: serde_json::to_value(Payload {
                channel_id: channel,
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            unique_key: Some((self.job_key)(channel)),
            run_at: now,
        })
    }
}

/// A push call of any kind: what it sent and how it ended, owned or borrowed from a
/// record ([`CallParts`]). Each kind's record is made of one ([`PushCall::from_call`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call<I, S = String, O = PushOutcome> {
    /// Channel.
    pub channel_id: ChannelId,
    /// What was sent: (SKU, variant id, value).
    pub items: I,
    /// Method and path.
    pub request: S,
    /// HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Duration.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: O,
}

/// The items of a call as a record holds them.
pub type Items<V> = Vec<(String, String, V)>;

/// A call as borrowed from its record.
pub type CallParts<'a, V> = Call<&'a Items<V>, &'a str, &'a PushOutcome>;

/// A recorded push call of one kind.
pub trait PushCall: Sized {
    /// An item's value as sent.
    type Value: Serialize;
    /// A value as the targets store it (what `desired` and `pushed` compare).
    type Stored;
    /// The name of an item's value in the stored items.
    const VALUE_KEY: &'static str;
    /// The record of a call (a price record priced at no moment).
    fn from_call(call: Call<Items<Self::Value>>) -> Self;
    /// The call a record holds.
    fn parts(&self) -> CallParts<'_, Self::Value>;
    /// A sent value as the targets store it.
    fn stored(v: &Self::Value) -> StoreResult<Self::Stored>;
}

/// Implements [`PushCall`] for a record with the fields of a [`Call`] (and `extra`
/// ones, as they start).
macro_rules! push_call {
    ($record:ty, $value:ty => $stored:ty, $key:literal, $text:expr $(, $extra:ident)*) => {
        impl PushCall for $record {
            type Value = $value;
            type Stored = $stored;
            const VALUE_KEY: &'static str = $key;
            fn from_call(c: Call<Items<$value>>) -> Self {
                let Call { channel_id, items, request, http_status, duration_ms, outcome } = c;
                Self { channel_id, items, request, http_status, duration_ms, outcome $(, $extra: None)* }
            }
            fn parts(&self) -> CallParts<'_, $value> {
                Call {
                    channel_id: self.channel_id,
                    items: &self.items,
                    request: &self.request,
                    http_status: self.http_status,
                    duration_ms: self.duration_ms,
                    outcome: &self.outcome,
                }
            }
            fn stored(v: &$value) -> StoreResult<$stored> {
                $text(v)
            }
        }
    };
}

push_call!(PushRecord, i64 => i64, "quantity", |v: &i64| Ok(*v));
push_call!(PricePushRecord, PriceValue => String, "price", price_text, priced_at);
push_call!(CatalogPushRecord, CatalogValue => String, "fields", catalog_text);

/// One push call as the history stores it, with the value it sent per target.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRow<'a, S> {
    /// Channel.
    pub channel_id: ChannelId,
    /// Method and path.
    pub request: &'a str,
    /// HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// The outcome's stored name.
    pub outcome: &'static str,
    /// The failure.
    pub error: Option<&'a str>,
    /// The items: SKU, variant id and value of each.
    pub items: serde_json::Value,
    /// Duration in milliseconds.
    pub duration_ms: i64,
    /// The stored value sent per SKU (the last one given for a SKU), in SKU order: one
    /// per target.
    pub sent: BTreeMap<&'a str, S>,
    /// The call's outcome (it decides what the targets become).
    ended: &'a PushOutcome,
}

impl<'a, S> PushRow<'a, S> {
    /// The row of a recorded call.
    pub fn new<C: PushCall<Stored = S>>(record: &'a C) -> StoreResult<Self> {
        let call = record.parts();
        let (outcome, error) = match call.outcome {
            PushOutcome::Succeeded => ("succeeded", None),
            PushOutcome::Retrying { error } => ("retrying", Some(error.as_str())),
            PushOutcome::Failed { error } => ("failed", Some(error.as_str())),
            PushOutcome::Waiting { error } => ("waiting", Some(error.as_str())),
        };
        let mut sent = BTreeMap::new();
        let mut items = Vec::with_capacity(call.items.len());
        for (sku, variant, v) in call.items {
            sent.insert(sku.as_str(), C::stored(v)?);
            let mut item = serde_json::Map::new();
            item.insert("sku".into(), sku.as_str().into());
            item.insert("variant_id".into(), variant.as_str().into());
            let value = serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            item.insert(C::VALUE_KEY.into(), value);
            items.push(serde_json::Value::Object(item));
        }
        Ok(Self {
            channel_id: call.channel_id,
            request: call.request,
            http_status: call.http_status,
            outcome,
            error,
            items: items.into(),
            duration_ms: i64::try_from(call.duration_ms).unwrap_or(i64::MAX),
            sent,
            ended: call.outcome,
        })
    }

    /// The assignments of the statement that applies the call to its targets
    /// ([`target_set`]).
    pub fn target_set(&self, t: &str, q: &str, at: &str, error: &str) -> String {
        target_set(self.ended, t, q, at, error)
    }
}

/// The assignments of the statement that applies a push call to its targets (every
/// kind alike): `t` names the target row, `q` the value sent for it, `at` and `error`
/// the placeholders of the call's time and error (only one of them appears). A success
/// records the value as pushed and clears the attempts (the target is `pushed` when
/// the value is still the desired one, else `pending`); a retry counts an attempt; a
/// failure counts one and leaves the target `failed` when the value is still the
/// desired one; a wait only notes the error.
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

#[cfg(test)]
mod tests {
    use super::*;
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
        let row = PushRow::new(&r).unwrap();
        assert_eq!((row.outcome, row.error), ("succeeded", None));
        assert_eq!(row.items.as_array().map(Vec::len), Some(3));
        assert_eq!(
            row.items[0],
            serde_json::json!({"sku": "B", "variant_id": "vb", "quantity": 1})
        );
        assert_eq!(
            row.sent.into_iter().collect::<Vec<_>>(),
            vec![("A", 2), ("B", 3)]
        );
        assert_eq!(row.duration_ms, i64::MAX);
        let r = record(PushOutcome::Waiting {
            error: "429".into(),
        });
        let row = PushRow::new(&r).unwrap();
        assert_eq!((row.outcome, row.error), ("waiting", Some("429")));
    }

    #[test]
    fn a_push_job_is_keyed_by_its_kind() {
        let c = ChannelId(Uuid::from_u128(2));
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let job = PushKind::PRICES.push_job(c, now).unwrap();
        assert_eq!(job.kind, PRICE_JOB_KIND);
        assert_eq!(job.unique_key, Some(price_job_key(c)));
        assert_eq!(job.payload, serde_json::json!({"channel_id": c}));
        let job = PushKind::CATALOG.push_job(c, now).unwrap();
        assert_eq!(job.unique_key, Some(catalog_job_key(c)));
    }
}
