//! Order timeline entries a transaction adds: collected while it decides, then written
//! by the backend in one batch before it commits.

use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};

/// One entry for the timeline of the order (`channel_id`, `external_id`) of `tenant_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineNote {
    /// Owner.
    pub tenant_id: TenantId,
    /// The order's channel.
    pub channel_id: ChannelId,
    /// The platform order id.
    pub external_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What (`fetched`, `imported`, `status_send_attempt`, ...).
    pub kind: &'static str,
    /// Its details.
    pub detail: serde_json::Value,
}

/// Timeline entries collected during a transaction, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineNotes(Vec<TimelineNote>);

impl TimelineNotes {
    /// Adds an entry to the order (`channel`, `external_id`) of `tenant`.
    pub fn add(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        external_id: &str,
        at: DateTime<Utc>,
        kind: &'static str,
        detail: serde_json::Value,
    ) {
        self.0.push(TimelineNote {
            tenant_id: tenant,
            channel_id: channel,
            external_id: external_id.to_owned(),
            at,
            kind,
            detail,
        });
    }

    /// The entries, in the order they were added.
    pub fn as_slice(&self) -> &[TimelineNote] {
        &self.0
    }
}
