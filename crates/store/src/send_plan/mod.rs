//! Status-send decisions shared by the backends. Pure: from the rows a transaction
//! loaded (under the backend's locks), what it writes. Applying ERP actions (the send's
//! sequence, blocked behind a failed one, its job), beginning sends (one job per order,
//! an attempt left `started` by a crash counts, out of attempts -> failed) and finishing
//! them (outcome -> attempt, send state, job requeue). Backends keep loading, locking
//! and writing SQL.

mod actions;
mod begin;
mod finish;

pub use actions::*;
pub use begin::*;
pub use finish::*;

use crate::{send_job_key, AttemptOutcome, NewJob, SendJob, SendOutcome, SEND_JOB_KIND};
use chrono::{DateTime, Utc};
use ponte_core::{ChannelId, OrderId};

/// Error code of an attempt the process did not live to finish.
pub const INTERRUPTED: &str = "interrupted";

/// Its text.
pub const INTERRUPTED_TEXT: &str = "the process stopped during the call; its result is unknown";

/// The job that runs an order's sends (one per order: its key coalesces them), due at `at`.
pub fn send_job(channel: ChannelId, order: OrderId, at: DateTime<Utc>) -> NewJob {
    let payload = SendJob {
        order_id: order,
        channel_id: channel,
    };
    NewJob {
        kind: SEND_JOB_KIND.to_owned(),
        payload: serde_json::to_value(payload).unwrap_or_default(),
        unique_key: Some(send_job_key(channel, order)),
        run_at: at,
    }
}

impl From<&SendOutcome> for AttemptOutcome {
    fn from(o: &SendOutcome) -> Self {
        match o {
            SendOutcome::Succeeded => AttemptOutcome::Succeeded,
            SendOutcome::Retry { .. } => AttemptOutcome::Retrying,
            SendOutcome::RateLimited { .. } => AttemptOutcome::RateLimited,
            SendOutcome::Held { .. } => AttemptOutcome::Held,
            SendOutcome::Failed => AttemptOutcome::Failed,
        }
    }
}
