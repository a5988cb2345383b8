//! Writing order timeline entries a transaction collected, in one statement.

use crate::db_err;
use chrono::{DateTime, Utc};
use ponte_store::{StoreResult, TimelineNote};
use sqlx::PgConnection;
use uuid::Uuid;

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
