//! Job queue rules both backends apply around their own statements: which rows an
//! enqueue batch inserts (coalesced by unique key), and the count of jobs per state.

use crate::{JobCounts, NewJob};
use chrono::{DateTime, Utc};
use ponte_core::TenantId;
use std::collections::HashMap;

/// The rows to insert for an enqueue batch, in the batch's order: a unique key is
/// inserted once per tenant, by its first job, with the earliest `run_at` of the jobs
/// holding it (a key already pending in the table only pulls that job's `run_at`
/// earlier, which is the backend's conflict clause).
pub fn coalesce_jobs<'a>(
    jobs: &[(TenantId, &'a NewJob)],
) -> Vec<(TenantId, &'a NewJob, DateTime<Utc>)> {
    let mut rows: Vec<(TenantId, &NewJob, DateTime<Utc>)> = Vec::with_capacity(jobs.len());
    let mut by_key: HashMap<(TenantId, &str), usize> = HashMap::new();
    for &(t, j) in jobs {
        let slot = j
            .unique_key
            .as_deref()
            .map(|k| *by_key.entry((t, k)).or_insert(rows.len()));
        match slot {
            Some(i) if i < rows.len() => rows[i].2 = rows[i].2.min(j.run_at),
            _ => rows.push((t, j, j.run_at)),
        }
    }
    rows
}

impl JobCounts {
    /// Counts `n` jobs in the stored state `state` (other states are not counted).
    pub fn add(&mut self, state: &str, n: i64) {
        match state {
            "pending" => self.pending = n,
            "running" => self.running = n,
            "failed" => self.failed = n,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn job(key: Option<&str>, at: i64) -> NewJob {
        NewJob {
            kind: "k".into(),
            payload: serde_json::json!({ "at": at }),
            unique_key: key.map(str::to_owned),
            run_at: Utc.timestamp_opt(at, 0).single().unwrap_or_default(),
        }
    }

    #[test]
    fn a_key_is_inserted_once_with_its_earliest_run_at() {
        let (t1, t2) = (TenantId::new(), TenantId::new());
        let (a, b, c, d, e) = (
            job(Some("x"), 50),
            job(None, 40),
            job(Some("x"), 10),
            job(Some("x"), 30),
            job(None, 40),
        );
        let batch = [(t1, &a), (t1, &b), (t1, &c), (t2, &d), (t1, &e)];
        let rows = coalesce_jobs(&batch);
        let got: Vec<(TenantId, i64, i64)> = rows
            .iter()
            .map(|(t, j, at)| (*t, j.run_at.timestamp(), at.timestamp()))
            .collect();
        assert_eq!(
            got,
            vec![(t1, 50, 10), (t1, 40, 40), (t2, 30, 30), (t1, 40, 40)]
        );
    }

    #[test]
    fn counts_known_states() {
        let mut c = JobCounts::default();
        for (s, n) in [("pending", 3), ("running", 2), ("failed", 1), ("odd", 9)] {
            c.add(s, n);
        }
        assert_eq!(
            c,
            JobCounts {
                pending: 3,
                running: 2,
                failed: 1
            }
        );
    }
}
