//! Order timeline entries, collected during a transaction and written in one statement.

use crate::db_err;
use chrono::{DateTime, Utc};
use ponte_store::StoreResult;
use sqlx::PgConnection;
use uuid::Uuid;

/// Timeline entries collected during a transaction, written in one statement.
#[derive(Default)]
pub(crate) struct Timeline {
    tenants: Vec<Uuid>,
    channels: Vec<Uuid>,
    external_ids: Vec<String>,
    at: Vec<DateTime<Utc>>,
    kinds: Vec<&'static str>,
    details: Vec<serde_json::Value>,
}

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
        self.tenants.push(tenant);
        self.channels.push(channel);
        self.external_ids.push(external_id.to_owned());
        self.at.push(at);
        self.kinds.push(kind);
        self.details.push(detail);
    }

    /// Writes the entries.
    pub(crate) async fn write(self, conn: &mut PgConnection) -> StoreResult<()> {
        if self.kinds.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[])",
        )
        .bind(self.tenants)
        .bind(self.channels)
        .bind(self.external_ids)
        .bind(self.at)
        .bind(self.kinds)
        .bind(self.details)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}
