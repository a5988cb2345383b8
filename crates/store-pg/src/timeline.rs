//! Order timeline entries, collected during a transaction and written in one statement.

use crate::db_err;
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, TenantId};
use ponte_store::{StoreResult, TimelineNote, TimelineNotes};
use sqlx::PgConnection;
use uuid::Uuid;

/// [`TimelineNotes`] keyed by the ids' UUIDs, as the status sends collect them.
#[derive(Default)]
pub(crate) struct Timeline(TimelineNotes);

impl Timeline {
    /// Adds an entry to the order (`channel`, `external_id`) of `tenant`.
    pub(crate) fn add(
        &mut self,
        tenant: Uuid,
        channel: Uuid,
        external_id: &str,
        at: DateTime<Utc>,
        kind: &'static str,
        detail: serde_json::Value,
    ) {
        let (tenant, channel) = (TenantId(tenant), ChannelId(channel));
        self.0.add(tenant, channel, external_id, at, kind, detail);
    }

    /// Writes the entries.
    pub(crate) async fn write(self, conn: &mut PgConnection) -> StoreResult<()> {
        write_notes(conn, self.0.as_slice()).await
    }
}

/// Appends the entries to the timeline, in order, with one statement.
pub(crate) async fn write_notes(
    conn: &mut PgConnection,
    notes: &[TimelineNote],
) -> StoreResult<()> {
    if notes.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = notes.iter().map(|n| n.tenant_id.0).collect();
    let channels: Vec<Uuid> = notes.iter().map(|n| n.channel_id.0).collect();
    let external_ids: Vec<&str> = notes.iter().map(|n| n.external_id.as_str()).collect();
    let at: Vec<DateTime<Utc>> = notes.iter().map(|n| n.at).collect();
    let kinds: Vec<&str> = notes.iter().map(|n| n.kind).collect();
    let details: Vec<&serde_json::Value> = notes.iter().map(|n| &n.detail).collect();
    sqlx::query(
        "INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[])",
    )
    .bind(tenants)
    .bind(channels)
    .bind(external_ids)
    .bind(at)
    .bind(kinds)
    .bind(details)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}
