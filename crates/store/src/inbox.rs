//! Inbox rules both backends apply: a batch of deliveries is stored with the jobs its
//! deliveries carry, in one transaction.

use crate::{NewDelivery, NewJob};
use ponte_core::TenantId;

/// The jobs a batch of deliveries enqueues, with their tenants, in the batch's order.
pub fn delivery_jobs(batch: &[NewDelivery]) -> Vec<(TenantId, &NewJob)> {
    batch
        .iter()
        .filter_map(|d| d.job.as_ref().map(|j| (d.tenant_id, j)))
        .collect()
}
