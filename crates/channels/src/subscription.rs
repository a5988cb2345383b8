//! Push subscriptions: ponte registers its own webhook at the platform (and removes
//! it), so that a merchant never has to paste a URL into a platform's admin.

use crate::{CallInfo, PlatformError};

/// Where the platform must push a channel's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookTarget {
    /// ponte's public webhook URL of the channel (`{PONTE_PUBLIC_URL}/webhooks/{id}`).
    pub url: String,
    /// The path every ponte URL of this channel ends with (`/webhooks/{id}`): how a
    /// registration made under an older public URL is recognised as ponte's own.
    pub path: String,
}

/// What reconciling makes of a channel's registrations at its platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookWant {
    /// ponte's webhook registered at the target URL (missing or stale ones repaired).
    Registered,
    /// Every registration of the channel (a URL ending with the target's path, under
    /// any public URL) removed.
    Removed,
}

/// What the platform has registered after reconciling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscribed {
    /// What is registered for ponte now (Nuvemshop: the events; VTEX: the hook's
    /// statuses); empty once removed.
    pub registered: Vec<String>,
    /// What reconciling changed (`created order/paid`, `removed stale hook`, ...);
    /// empty when the platform already had it right.
    pub changes: Vec<String>,
}

/// How reconciling went: every call made and the result.
#[derive(Debug, Clone)]
pub struct SubscriptionReport {
    /// Every call, in order.
    pub calls: Vec<CallInfo>,
    /// The registration now, or why it could not be made right.
    pub result: Result<Subscribed, PlatformError>,
}
