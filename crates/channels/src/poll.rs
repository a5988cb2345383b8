//! Listing orders for the polling safety net and manual syncs: a walk over the
//! platform's order listing, one page per call, driven by the engine.

use crate::PlatformError;
use chrono::{DateTime, Utc};
use ponte_core::order::MappedOrder;

/// What a listing walk is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    /// The scheduled safety net: what changed since `since`. A platform with a change
    /// queue (VTEX Feed v3) reads the queue instead of a listing.
    Changes,
    /// A manual sync: every order updated (or, where the platform can only filter by
    /// creation, created) since `since`.
    Backfill,
}

/// Where a listing walk is. The engine starts it at `since` (page 1, part 0) and
/// passes back whatever [`PollPage::next`] says until it is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollCursor {
    /// What the walk is for.
    pub mode: PollMode,
    /// Orders updated at or after this instant (inclusive).
    pub since: DateTime<Utc>,
    /// Page of the current query, from 1.
    pub page: u32,
    /// Which of the platform's queries (a platform may need several to see every
    /// order, e.g. one per payment state its default filter hides), from 0.
    pub part: u32,
    /// The walk's first `since`: `since` may move forward within a part, and
    /// each part starts over from `origin`.
    pub origin: DateTime<Utc>,
}

impl PollCursor {
    /// The first page of a walk over orders updated at or after `since`
    /// ([`PollMode::Changes`]).
    pub fn start(since: DateTime<Utc>) -> Self {
        Self::start_as(PollMode::Changes, since)
    }

    /// The first page of a walk of `mode` from `since`.
    pub fn start_as(mode: PollMode, since: DateTime<Utc>) -> Self {
        Self {
            mode,
            since,
            page: 1,
            part: 0,
            origin: since,
        }
    }
}

/// An order of a page that could not be read (the rest of the page still counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableOrder {
    /// The platform id, when it could be read.
    pub external_id: Option<String>,
    /// Why.
    pub message: String,
}

/// One page of a listing walk.
#[derive(Debug, Clone)]
pub struct PollPage {
    /// The page's orders, mapped.
    pub orders: Vec<Result<MappedOrder, UnreadableOrder>>,
    /// Where to continue; `None` when the walk is over.
    pub next: Option<PollCursor>,
    /// How many orders the platform says the current query matches, when it says.
    pub total: Option<u64>,
    /// What to hand back to [`crate::Connector::ack_listed`] once the page's orders are
    /// stored (VTEX feed handles); empty when the platform needs no acknowledgement.
    pub receipt: Vec<String>,
    /// Requests the page made beyond its listing call (VTEX fetches each listed
    /// order); the engine charges them to the channel's request budget.
    pub extra_requests: u32,
}

/// A listing call's result.
pub type PollResult = Result<PollPage, PlatformError>;
