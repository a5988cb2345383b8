//! Writing order timeline entries collected during a transaction.

use crate::codec::{pow2_chunks, ts};
use crate::db_err;
use ponte_store::{StoreResult, TimelineNote};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// Appends the entries to the timeline, in order.
pub(crate) async fn write_notes(
    conn: &mut SqliteConnection,
    notes: &[TimelineNote],
) -> StoreResult<()> {
    for chunk in pow2_chunks(notes) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO timeline (tenant_id, channel_id, external_id, at, kind, detail) ",
        );
        q.push_values(chunk, |mut b, n| {
            b.push_bind(n.tenant_id.to_string())
                .push_bind(n.channel_id.to_string())
                .push_bind(&n.external_id)
                .push_bind(ts(n.at))
                .push_bind(n.kind)
                .push_bind(n.detail.to_string());
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}
