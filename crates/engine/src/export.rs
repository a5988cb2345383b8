//! Exports: the status-send history as CSV ("Histórico de Envio de Situação"), the
//! same for the API and the console.

use crate::csv_cell::cell;
use crate::{Engine, EngineError};
use ponte_core::TenantId;
use ponte_store::{PageRequest, SendFilter};

/// Largest CSV export, in rows.
pub const CSV_MAX_ROWS: usize = 100_000;

/// The columns, in order.
const HEADER: [&str; 15] = [
    "id",
    "created_at",
    "channel_id",
    "order_id",
    "external_id",
    "seq",
    "kind",
    "state",
    "attempts_used",
    "max_attempts",
    "attempts",
    "last_http_status",
    "last_error_code",
    "last_error",
    "updated_at",
];

impl Engine {
    /// Up to `max` status sends (newest first, from `page.cursor`) as CSV, with the
    /// cursor of the rows left over, if any. Cells a spreadsheet would run as formulas
    /// are neutralised.
    pub async fn status_sends_csv(
        &self,
        tenant: TenantId,
        filter: &SendFilter,
        mut page: PageRequest,
        max: usize,
    ) -> Result<(Vec<u8>, Option<String>), EngineError> {
        let max = max.min(CSV_MAX_ROWS);
        let mut out = csv::Writer::from_writer(vec![]);
        let csv_err = |e: csv::Error| EngineError::Invalid(format!("csv: {e}"));
        out.write_record(HEADER).map_err(csv_err)?;
        let mut rows = 0;
        loop {
            page.limit = u32::try_from((max - rows).min(500)).unwrap_or(500);
            let p = self.store.status_sends(tenant, filter, &page).await?;
            for s in &p.items {
                let last_status = s.attempts.iter().rev().find_map(|a| a.http_status);
                let err = s.last_error.as_ref();
                out.write_record(
                    [
                        s.id.to_string(),
                        s.created_at.to_rfc3339(),
                        s.channel_id.to_string(),
                        s.order_id.to_string(),
                        s.external_id.clone(),
                        s.seq.to_string(),
                        s.kind().as_str().to_owned(),
                        s.state.as_str().to_owned(),
                        s.attempts_used.to_string(),
                        s.max_attempts.to_string(),
                        s.attempts.len().to_string(),
                        last_status.map(|c| c.to_string()).unwrap_or_default(),
                        err.map(|e| e.code.clone()).unwrap_or_default(),
                        err.map(|e| e.message.clone()).unwrap_or_default(),
                        s.updated_at.to_rfc3339(),
                    ]
                    .map(cell),
                )
                .map_err(csv_err)?;
            }
            rows += p.items.len();
            page.cursor = p.next_cursor;
            if page.cursor.is_none() || rows >= max {
                break;
            }
        }
        let bytes = out
            .into_inner()
            .map_err(|e| EngineError::Invalid(format!("csv: {e}")))?;
        Ok((bytes, page.cursor))
    }
}
