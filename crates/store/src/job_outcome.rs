//! Finishing a leased job, one rule for every backend: what its outcome writes (done:
//! the job goes; retry: back to pending at its time, the attempt counted or not;
//! failed: kept as failed, the attempt counted), and a retry that meets a pending twin
//! with the same unique key folds into it (the job goes, the twin does the work). A
//! backend implements [`LeasedJob`]'s two statements; [`finish_leased`] runs them.

use crate::{JobOutcome, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The stored state a finished job keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptState {
    /// Back in the queue.
    Pending,
    /// Failed for good.
    Failed,
}

impl KeptState {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
        }
    }
}

/// What a finish writes to a job it keeps; its lease (owner and expiry) is cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobUpdate<'a> {
    /// Its new state.
    pub state: KeptState,
    /// Its new `run_at` (`None`: unchanged).
    pub run_at: Option<DateTime<Utc>>,
    /// Added to its attempts.
    pub attempts: i32,
    /// Its last error.
    pub error: &'a str,
}

impl JobOutcome {
    /// The update of the job this outcome keeps; `None`: the job is deleted.
    pub fn update(&self) -> Option<JobUpdate<'_>> {
        match self {
            Self::Done => None,
            Self::Retry {
                run_at,
                count_attempt,
                error,
            } => Some(JobUpdate {
                state: KeptState::Pending,
                run_at: Some(*run_at),
                attempts: i32::from(*count_attempt),
                error,
            }),
            Self::Failed { error } => Some(JobUpdate {
                state: KeptState::Failed,
                run_at: None,
                attempts: 1,
                error,
            }),
        }
    }
}

/// A backend's statements on one leased job; each touches the job only while its
/// lease holds it (running, leased by the lease's owner).
#[async_trait]
pub trait LeasedJob: Send {
    /// Deletes the job; rows deleted.
    async fn delete(&mut self) -> StoreResult<u64>;
    /// Writes `update` and clears the lease; rows changed. A pending job with the same
    /// unique key makes it fail with [`StoreError::Conflict`], leaving the job as it was.
    async fn update(&mut self, update: &JobUpdate<'_>) -> StoreResult<u64>;
}

/// Finishes the job as `outcome` says; false if its lease was lost.
pub async fn finish_leased(job: &mut impl LeasedJob, outcome: &JobOutcome) -> StoreResult<bool> {
    let Some(update) = outcome.update() else {
        return Ok(job.delete().await? == 1);
    };
    match job.update(&update).await {
        Ok(n) => Ok(n == 1),
        // A pending twin with the same unique key exists: this run's retry folds into it.
        Err(StoreError::Conflict(_)) => {
            job.delete().await?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ready::ready;
    use chrono::TimeZone;

    /// A job that records what was asked of it.
    struct Recorded {
        twin: bool,
        held: bool,
        asked: Vec<String>,
    }

    #[async_trait]
    impl LeasedJob for Recorded {
        async fn delete(&mut self) -> StoreResult<u64> {
            self.asked.push("delete".into());
            Ok(u64::from(self.held))
        }

        async fn update(&mut self, u: &JobUpdate<'_>) -> StoreResult<u64> {
            self.asked
                .push(format!("{} +{} {}", u.state.as_str(), u.attempts, u.error));
            if self.twin && u.state == KeptState::Pending {
                return Err(StoreError::Conflict("twin".into()));
            }
            Ok(u64::from(self.held))
        }
    }

    fn job(twin: bool, held: bool) -> Recorded {
        Recorded {
            twin,
            held,
            asked: vec![],
        }
    }

    #[test]
    fn outcomes_say_what_is_kept() {
        let at = Utc.timestamp_opt(7, 0).unwrap();
        let retry = JobOutcome::Retry {
            run_at: at,
            count_attempt: false,
            error: "429".into(),
        };
        assert_eq!(JobOutcome::Done.update(), None);
        assert_eq!(
            retry.update(),
            Some(JobUpdate {
                state: KeptState::Pending,
                run_at: Some(at),
                attempts: 0,
                error: "429"
            })
        );
        let failed = JobOutcome::Failed { error: "no".into() };
        assert_eq!(
            failed.update().map(|u| (u.state, u.run_at, u.attempts)),
            Some((KeptState::Failed, None, 1))
        );
    }

    #[test]
    fn a_retry_meeting_a_twin_folds_into_it() {
        let retry = JobOutcome::Retry {
            run_at: Utc.timestamp_opt(7, 0).unwrap(),
            count_attempt: true,
            error: "e".into(),
        };
        let mut j = job(true, true);
        assert!(ready(finish_leased(&mut j, &retry)).unwrap());
        assert_eq!(j.asked, ["pending +1 e", "delete"]);
        let mut j = job(false, true);
        assert!(ready(finish_leased(&mut j, &retry)).unwrap());
        assert_eq!(j.asked, ["pending +1 e"]);
    }

    #[test]
    fn a_lost_lease_finishes_nothing() {
        let mut j = job(false, false);
        assert!(!ready(finish_leased(&mut j, &JobOutcome::Done)).unwrap());
        let failed = JobOutcome::Failed { error: "x".into() };
        assert!(!ready(finish_leased(&mut j, &failed)).unwrap());
        assert_eq!(j.asked, ["delete", "failed +1 x"]);
    }
}
