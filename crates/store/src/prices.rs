//! Prices as the store keeps them: a SKU's current price, scheduled prices (timers
//! fired by the job queue), a channel's price settings and what each channel should
//! show, with the jobs that push and apply them.

use crate::{NewJob, PushOutcome, PushState, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use ponte_core::price::PriceValue;
use ponte_core::{ChannelId, ScheduledPriceId};
use serde::{Deserialize, Serialize};

/// The job kind that pushes a channel's pending prices.
pub const PRICE_JOB_KIND: &str = "price_push";

/// The coalescing key of a channel's price push job.
pub fn price_job_key(channel: ChannelId) -> String {
    format!("price_push:{channel}")
}

/// The payload of a price push job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceJob {
    /// The channel whose pending prices to push.
    pub channel_id: ChannelId,
}

/// The job kind that applies a scheduled price at its time.
pub const PRICE_SCHEDULE_JOB_KIND: &str = "price_schedule";

/// The job kind that pushes prices again when promotional windows open or close.
pub const PRICE_EDGE_JOB_KIND: &str = "price_edge";

/// The payload of a window edge's timer job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceEdgeJob {
    /// The moment promotional windows open or close.
    pub at: DateTime<Utc>,
}

/// The timer job of a window edge: due then, one per tenant and moment (every
/// window opening or closing at that moment shares it), to the microsecond the
/// store keeps.
pub fn edge_job(at: DateTime<Utc>) -> StoreResult<NewJob> {
    let micros = at.timestamp_micros();
    let at = DateTime::from_timestamp_micros(micros).unwrap_or(at);
    Ok(NewJob {
        kind: PRICE_EDGE_JOB_KIND.into(),
        payload: serde_json::to_value(PriceEdgeJob { at })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        unique_key: Some(format!("price_edge:{micros}")),
        run_at: at,
    })
}

/// Whether a promotional window of `v` opens or closes at `at` (to the microsecond).
pub fn has_edge_at(v: &PriceValue, at: DateTime<Utc>) -> bool {
    let us = at.timestamp_micros();
    v.promotional_price.is_some()
        && [v.promotional_from, v.promotional_until]
            .into_iter()
            .flatten()
            .any(|t| t.timestamp_micros() == us)
}

/// The payload of a scheduled price's job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceScheduleJob {
    /// The scheduled price.
    pub scheduled_id: ScheduledPriceId,
}

/// The timer job of a scheduled price: due at its time, keyed by its id (one per
/// scheduled price, whatever the instance).
pub fn schedule_job(id: ScheduledPriceId, at: DateTime<Utc>) -> StoreResult<NewJob> {
    Ok(NewJob {
        kind: PRICE_SCHEDULE_JOB_KIND.into(),
        payload: serde_json::to_value(PriceScheduleJob { scheduled_id: id })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        unique_key: Some(format!("price_schedule:{id}")),
        run_at: at,
    })
}

/// One row of a price write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrice {
    /// The SKU (must be a product).
    pub sku: String,
    /// The price (checked by the caller: `PriceValue::check`).
    pub value: PriceValue,
    /// When it takes effect: now when absent or not in the future, else it is
    /// scheduled.
    pub effective_at: Option<DateTime<Utc>>,
}

/// A channel's price settings as the store uses them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelPrices {
    /// Push prices to the channel.
    pub send_prices: bool,
    /// Markup in basis points (1200 = +12%).
    pub markup_bp: i64,
    /// Push a price again when its promotional window opens or closes (a platform
    /// that keeps no windows of its own shows the promotion in force when pushed).
    pub window_edges: bool,
}

/// Where a scheduled price is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// Waiting for its time.
    Waiting,
    /// It took effect.
    Applied,
    /// Cancelled before its time.
    Cancelled,
}

impl ScheduleState {
    /// Storage / API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Applied => "applied",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> StoreResult<Self> {
        [Self::Waiting, Self::Applied, Self::Cancelled]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("schedule state {s}")))
    }
}

/// A price that takes effect at a given moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledPrice {
    /// Id.
    pub id: ScheduledPriceId,
    /// The SKU.
    pub sku: String,
    /// The price it sets.
    #[serde(flatten)]
    pub value: PriceValue,
    /// When it takes effect.
    pub effective_at: DateTime<Utc>,
    /// Where it is.
    pub state: ScheduleState,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// When it was applied or cancelled.
    pub settled_at: Option<DateTime<Utc>>,
}

/// What one channel should show for a SKU's price, and what it was last told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceTarget {
    /// Channel.
    pub channel_id: ChannelId,
    /// SKU.
    pub sku: String,
    /// The platform's product id.
    pub product_id: String,
    /// The platform's variant id.
    pub variant_id: String,
    /// The price the channel should show (markup applied).
    pub desired: PriceValue,
    /// When `desired` last changed.
    pub changed_at: DateTime<Utc>,
    /// The last price the channel took.
    pub pushed: Option<PriceValue>,
    /// When.
    pub pushed_at: Option<DateTime<Utc>>,
    /// Where it is.
    pub state: PushState,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When a push call last carried it, whatever its outcome.
    pub attempted_at: Option<DateTime<Utc>>,
}

/// A SKU's prices: current, scheduled, and every channel's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuPrices {
    /// The SKU.
    pub sku: String,
    /// The current price and when it was set (none until one is).
    pub current: Option<(PriceValue, DateTime<Utc>)>,
    /// Scheduled prices still waiting, soonest first.
    pub scheduled: Vec<ScheduledPrice>,
    /// Per channel listing the SKU with prices on.
    pub channels: Vec<PriceTarget>,
}

/// The outcome of a price write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricesWritten {
    /// Rows that took effect now.
    pub applied: u64,
    /// Rows scheduled for later, in row order.
    pub scheduled: Vec<ScheduledPrice>,
}

/// One price push call: what it sent and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricePushRecord {
    /// Channel.
    pub channel_id: ChannelId,
    /// What was sent: (SKU, variant id, price as the channel shows it).
    pub items: Vec<(String, String, PriceValue)>,
    /// Method and path.
    pub request: String,
    /// HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Duration.
    pub duration_ms: u64,
    /// Succeeded, or the failure.
    pub outcome: PushOutcome,
    /// For a channel pushed again at window edges: the moment whose promotion the
    /// call carried. A window edge passed since it leaves the target pending.
    pub priced_at: Option<DateTime<Utc>>,
}

/// Stored text of a price (what targets compare: equal prices, equal text).
pub fn price_text(v: &PriceValue) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A price from its stored text.
pub fn price_from_text(s: &str) -> StoreResult<PriceValue> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stored price: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_states_round_trip_their_stored_text() {
        let v = PriceValue {
            price: 1990,
            promotional_price: Some(1790),
            promotional_from: None,
            promotional_until: Some(chrono::DateTime::UNIX_EPOCH),
        };
        assert_eq!(price_from_text(&price_text(&v).unwrap()).unwrap(), v);
        assert!(price_from_text("x").is_err());
        assert_eq!(
            ScheduleState::parse("applied").ok(),
            Some(ScheduleState::Applied)
        );
        assert!(ScheduleState::parse("odd").is_err());
        let j = schedule_job(ScheduledPriceId::new(), chrono::DateTime::UNIX_EPOCH).unwrap();
        assert_eq!(j.kind, PRICE_SCHEDULE_JOB_KIND);
    }

    #[test]
    fn edges_are_kept_to_the_microsecond() {
        let at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::nanoseconds(1_000_001_234);
        let j = edge_job(at).unwrap();
        assert_eq!(j.unique_key.as_deref(), Some("price_edge:1000001"));
        assert_eq!(j.run_at.timestamp_nanos_opt(), Some(1_000_001_000));
        let mut v = PriceValue {
            price: 100,
            promotional_price: Some(90),
            promotional_from: None,
            promotional_until: Some(j.run_at),
        };
        assert!(has_edge_at(&v, at));
        assert!(!has_edge_at(&v, chrono::DateTime::UNIX_EPOCH));
        v.promotional_price = None;
        assert!(!has_edge_at(&v, at));
    }
}
