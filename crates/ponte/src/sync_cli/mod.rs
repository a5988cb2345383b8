//! `ponte sync orders`: starts a manual sync on a running server through its API and
//! follows it to the end (a progress bar on a terminal, plain lines otherwise). The CLI
//! never opens the database.

pub mod client;
pub(crate) mod follow;
pub mod remap;

use anyhow::{anyhow, bail};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use client::{parse_channel, Answer, Api, ReadError, ServerArgs};
use follow::{human, Followed, Progress, Source, Subject};
use ponte_core::{ChannelId, RunId};
use ponte_store::RunCounts;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// `ponte sync orders`.
#[derive(Debug, clap::Args)]
pub struct SyncOrdersArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The channel to sync (its id, a UUID).
    #[arg(long, value_name = "ID", value_parser = parse_channel)]
    pub channel: ChannelId,
    /// Re-read the orders updated since this time: RFC 3339 (2026-01-01T12:00:00-03:00)
    /// or a date (2026-01-01, midnight UTC) [default: the channel's polling cursor]
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
}

/// RFC 3339, or a plain `YYYY-MM-DD` date meaning midnight UTC.
pub fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            "expected a date (2026-01-01, midnight UTC) or an RFC 3339 time \
             (2026-01-01T12:00:00Z, 2026-01-01T09:00:00-03:00)"
                .to_owned()
        })
}

#[derive(Debug, Serialize)]
struct SyncRequest {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    since: Option<String>,
}

/// The parts of the API's run view the CLI shows.
#[derive(Debug, Clone, Deserialize)]
struct Run {
    id: RunId,
    state: String,
    #[serde(default)]
    counts: RunCounts,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    rate_per_sec: Option<f64>,
}

impl Followed for Run {
    type Counts = RunCounts;

    fn finished(&self) -> bool {
        matches!(self.state.as_str(), "succeeded" | "failed")
    }

    fn phase(&self) -> &str {
        &self.state
    }

    fn counts(&self) -> RunCounts {
        self.counts.clone()
    }

    fn position(&self) -> (u64, Option<u64>) {
        let c = &self.counts;
        (c.seen, c.expected.map(|e| e.max(c.seen)))
    }

    fn line(&self) -> String {
        progress_text(self)
    }

    fn message(&self) -> String {
        bar_message(self)
    }
}

/// Starts a sync of a channel's orders on the server at `args.server.url` and follows
/// it; fails unless the run succeeds.
pub async fn sync_orders(args: SyncOrdersArgs) -> anyhow::Result<()> {
    let api = Api::connect(&args.server)?;
    let started = Instant::now();
    let run = start_sync(&api, args.channel, args.since).await?;
    follow_run(&api, run, "sync", started).await
}

/// Follows a run to its end (`what`: `sync`, `remap`), printing its summary; fails
/// unless it succeeds.
async fn follow_run(api: &Api, run: Run, what: &str, started: Instant) -> anyhow::Result<()> {
    let subject = Subject {
        name: format!("{what} {}", run.id),
        url: format!("{}/api/v1/task-runs/{}", api.base, run.id),
    };
    let mut view = Progress::new(
        std::io::stdout().is_terminal(),
        format!("{what} {}", run.id),
        "orders read",
    );
    let mut source = RunSource { api, id: run.id };
    let run = follow::follow(&subject, &mut view, &mut source, run).await?;
    println!("{}", summary_line(what, &run, started.elapsed()));
    if run.state == "failed" {
        bail!(
            "{what} {} failed: {}",
            run.id,
            run.error.as_deref().unwrap_or("no error reported")
        );
    }
    Ok(())
}

async fn start_sync(
    api: &Api,
    channel: ChannelId,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<Run> {
    let request = SyncRequest {
        kind: "orders",
        since: since.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
    };
    let (status, p) = match api
        .post(
            &format!("/api/v1/channels/{channel}/sync"),
            &request,
            StatusCode::ACCEPTED,
            "the sync",
        )
        .await?
    {
        Answer::Ok(run) => return Ok(run),
        Answer::No(status, p) => (status, p),
    };
    Err(match status {
        StatusCode::CONFLICT if p.code == "task_busy" => {
            let busy = busy_run(&p.detail);
            anyhow!(
                "409 task_busy: channel {channel} is already being read: run {} (its polling \
                 or another sync) is queued or running. Wait for it to finish and try again, \
                 or follow it: GET {}/api/v1/task-runs/{}",
                busy.unwrap_or("?"),
                api.base,
                busy.unwrap_or("<run id>")
            )
        }
        StatusCode::NOT_FOUND => api.no_channel(channel, &p),
        _ => api.refused(status, &p),
    })
}

/// Reads a run.
struct RunSource<'a> {
    api: &'a Api,
    id: RunId,
}

impl Source for RunSource<'_> {
    type Item = Run;

    async fn read(&mut self) -> Result<Run, ReadError> {
        self.api
            .read(
                &format!("/api/v1/task-runs/{}", self.id),
                &format!("run {}", self.id),
            )
            .await
    }
}

/// The run id at the end of a `task_busy` detail ("... queued or running: <id>").
fn busy_run(detail: &str) -> Option<&str> {
    let last = detail.rsplit(':').next()?.trim();
    last.parse::<RunId>().is_ok().then_some(last)
}

/// The bar's message: rate, ETA, created and updated (and the state unless running).
fn bar_message(run: &Run) -> String {
    let c = &run.counts;
    let mut out = String::new();
    if run.state != "running" {
        out.push_str(&format!("({}) ", run.state));
    }
    if let Some(rate) = run.rate_per_sec {
        out.push_str(&format!("{rate:.0} orders/s "));
    }
    if let Some(eta) = eta(run) {
        out.push_str(&format!("eta {} ", human(eta)));
    }
    out.push_str(&format!("created {} updated {}", c.created, c.updated));
    out
}

/// `running seen=400/1000 created=380 updated=0 rate=812/s eta=1s`.
fn progress_text(run: &Run) -> String {
    let c = &run.counts;
    let mut out = format!("{} seen={}", run.state, c.seen);
    if let Some(expected) = c.expected {
        out.push_str(&format!("/{expected}"));
    }
    out.push_str(&format!(" created={} updated={}", c.created, c.updated));
    if let Some(rate) = run.rate_per_sec {
        out.push_str(&format!(" rate={rate:.0}/s"));
    }
    if let Some(eta) = eta(run) {
        out.push_str(&format!(" eta={}", human(eta)));
    }
    out
}

/// `sync <id>: succeeded seen=... created=... ... in 2.3s` (or `remap <id>: ...`).
fn summary_line(what: &str, run: &Run, took: Duration) -> String {
    let c = &run.counts;
    let mut out = format!(
        "{what} {}: {} seen={} created={} updated={} unchanged={} skipped={} gaps={}",
        run.id, run.state, c.seen, c.created, c.updated, c.unchanged, c.skipped, c.gaps
    );
    if c.unreadable > 0 {
        out.push_str(&format!(" unreadable={}", c.unreadable));
    }
    out.push_str(&format!(" in {:.1}s", took.as_secs_f64()));
    out
}

/// Time left at the current rate, when the platform said how many orders to expect.
fn eta(run: &Run) -> Option<Duration> {
    let expected = run.counts.expected?;
    let rate = run.rate_per_sec.filter(|r| r.is_finite() && *r > 0.0)?;
    let left = expected.saturating_sub(run.counts.seen) as f64;
    Duration::try_from_secs_f64(left / rate).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_rfc3339_or_a_date() {
        assert_eq!(
            parse_since("2026-01-01").map(|t| t.to_rfc3339()),
            Ok("2026-01-01T00:00:00+00:00".to_owned())
        );
        assert_eq!(
            parse_since("2026-01-01T09:00:00-03:00").map(|t| t.to_rfc3339()),
            Ok("2026-01-01T12:00:00+00:00".to_owned())
        );
        assert!(parse_since("2026-13-01").is_err());
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn lines_and_eta() {
        let run = Run {
            id: RunId::new(),
            state: "running".into(),
            counts: RunCounts {
                seen: 400,
                created: 380,
                expected: Some(1000),
                ..RunCounts::default()
            },
            error: None,
            rate_per_sec: Some(812.4),
        };
        assert_eq!(
            progress_text(&run),
            "running seen=400/1000 created=380 updated=0 rate=812/s eta=1s"
        );
        assert_eq!(human(Duration::from_secs(125)), "2m05s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
        let id = RunId::new().to_string();
        assert_eq!(
            busy_run(&format!(
                "a run of this task is already queued or running: {id}"
            )),
            Some(id.as_str())
        );
        assert_eq!(busy_run("something else"), None);
    }
}
