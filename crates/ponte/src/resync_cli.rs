//! `ponte stock resync` and `ponte prices resync`: marks every listing of a channel to be
//! pushed again on a running server through its API and follows the channel's flusher
//! to the end (a progress bar on a terminal, plain lines otherwise). The CLI never opens
//! the database.

use crate::sync_cli::client::{parse_channel, Answer, Api, ReadError, ServerArgs};
use crate::sync_cli::follow::{self, human, Followed, Progress, Source, Subject};
use anyhow::bail;
use ponte_core::ChannelId;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The rate is measured over this much recent time.
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// No rate before this much time has been measured.
const RATE_MIN_SPAN: Duration = Duration::from_secs(1);

/// What a resync pushes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Stock values.
    Stock,
    /// Prices.
    Prices,
}

impl Pushed {
    /// The path segment under `/api/v1/channels/{id}/`.
    fn segment(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Prices => "prices",
        }
    }

    /// Where a failed value's reason is read.
    fn why(self, base: &str, channel: ChannelId) -> String {
        match self {
            Self::Stock => format!("GET {base}/api/v1/stock/pushes?channel_id={channel}"),
            Self::Prices => format!("GET {base}/api/v1/prices/{{sku}} (last_error per channel)"),
        }
    }
}

/// `ponte stock resync`, `ponte prices resync`.
#[derive(Debug, clap::Args)]
pub struct ResyncArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The channel whose listings to push again (its id, a UUID).
    #[arg(long, value_name = "ID", value_parser = parse_channel)]
    pub channel: ChannelId,
}

/// The API's channel stock or prices view: values per state (`resynced` in a resync's
/// answer).
#[derive(Debug, Clone, Deserialize)]
struct ChannelValues {
    pending: u64,
    pushed: u64,
    failed: u64,
    #[serde(default)]
    resynced: Option<u64>,
}

/// The resync request (no options).
#[derive(Debug, Serialize)]
struct ResyncRequest {}

/// One reading of a resync.
#[derive(Debug, Clone)]
struct Resync {
    values: ChannelValues,
    /// Listings the resync pushes again.
    listings: u64,
    /// Listings per second, recently.
    rate: Option<f64>,
}

impl Resync {
    fn done(&self) -> u64 {
        self.listings.saturating_sub(self.values.pending)
    }

    /// Time left at the recent rate.
    fn eta(&self) -> Option<Duration> {
        let rate = self.rate.filter(|r| r.is_finite() && *r > 0.0)?;
        Duration::try_from_secs_f64(self.values.pending as f64 / rate).ok()
    }
}

impl Followed for Resync {
    type Counts = (u64, u64, u64);

    fn finished(&self) -> bool {
        self.values.pending == 0
    }

    fn phase(&self) -> &str {
        "pushing"
    }

    fn counts(&self) -> (u64, u64, u64) {
        (self.values.pending, self.values.pushed, self.values.failed)
    }

    fn position(&self) -> (u64, Option<u64>) {
        (self.done(), Some(self.listings.max(self.done())))
    }

    /// `pushing 20/50 pending=30 pushed=20 failed=0 rate=2.0/s eta=15s`.
    fn line(&self) -> String {
        let s = &self.values;
        let mut out = format!(
            "pushing {}/{} pending={} pushed={} failed={}",
            self.done(),
            self.listings,
            s.pending,
            s.pushed,
            s.failed
        );
        if let Some(r) = self.rate {
            out.push_str(&format!(" rate={r:.1}/s"));
        }
        if let Some(e) = self.eta() {
            out.push_str(&format!(" eta={}", human(e)));
        }
        out
    }

    /// `2.0 listings/s eta 15s failed 0`.
    fn message(&self) -> String {
        let mut out = String::new();
        if let Some(r) = self.rate {
            out.push_str(&format!("{r:.1} listings/s "));
        }
        if let Some(e) = self.eta() {
            out.push_str(&format!("eta {} ", human(e)));
        }
        out.push_str(&format!("failed {}", self.values.failed));
        out
    }
}

/// Reads the channel's values and measures the rate.
struct ValuesSource<'a> {
    api: &'a Api,
    what: Pushed,
    channel: ChannelId,
    listings: u64,
    rate: Rate,
}

impl ValuesSource<'_> {
    fn reading(&mut self, values: ChannelValues) -> Resync {
        let done = self.listings.saturating_sub(values.pending);
        let rate = self.rate.sample(Instant::now(), done);
        Resync {
            values,
            listings: self.listings,
            rate,
        }
    }
}

impl Source for ValuesSource<'_> {
    type Item = Resync;

    async fn read(&mut self) -> Result<Resync, ReadError> {
        let segment = self.what.segment();
        let values = self
            .api
            .read(
                &format!("/api/v1/channels/{}/{segment}", self.channel),
                &format!("the {segment} of channel {}", self.channel),
            )
            .await?;
        Ok(self.reading(values))
    }
}

/// Progress per second over the last [`RATE_WINDOW`].
#[derive(Debug, Default)]
struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// Records `done` at `at`; the rate once [`RATE_MIN_SPAN`] has been measured.
    fn sample(&mut self, at: Instant, done: u64) -> Option<f64> {
        self.samples.push_back((at, done));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| at.duration_since(*t) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let (t0, d0) = *self.samples.front()?;
        let span = at.duration_since(t0);
        (span >= RATE_MIN_SPAN).then(|| done.saturating_sub(d0) as f64 / span.as_secs_f64())
    }
}

/// Starts a resync of a channel's stock or prices on the server at `args.server.url`
/// and follows it until nothing is pending; fails if any value failed.
pub async fn resync(what: Pushed, args: ResyncArgs) -> anyhow::Result<()> {
    let api = Api::connect(&args.server)?;
    let channel = args.channel;
    let started = Instant::now();
    let segment = what.segment();
    let path = format!("/api/v1/channels/{channel}/{segment}/resync");
    let first: ChannelValues = match api
        .post(&path, &ResyncRequest {}, StatusCode::ACCEPTED, "the resync")
        .await?
    {
        Answer::Ok(s) => s,
        Answer::No(StatusCode::NOT_FOUND, p) => return Err(api.no_channel(channel, &p)),
        Answer::No(status, p) => return Err(api.refused(status, &p)),
    };
    let label = format!("resync {channel}");
    let listings = first.resynced.unwrap_or(first.pending);
    if listings == 0 {
        let hint = match what {
            Pushed::Stock => "the channel has no listings",
            Pushed::Prices => {
                "no listing of the channel has a price to push (or `send_prices` is off)"
            }
        };
        println!(
            "{label}: {hint} (link SKUs to its products with \
             POST /api/v1/channels/{channel}/listings)"
        );
    }
    let mut source = ValuesSource {
        api: &api,
        what,
        channel,
        listings,
        rate: Rate::default(),
    };
    let first = source.reading(first);
    let subject = Subject {
        name: format!("the resync of channel {channel}"),
        url: format!("{}/api/v1/channels/{channel}/{segment}", api.base),
    };
    let mut view = Progress::new(
        std::io::stdout().is_terminal(),
        label.clone(),
        "listings pushed",
    );
    let last = follow::follow(&subject, &mut view, &mut source, first).await?;
    println!(
        "{label}: pushed={} failed={} in {:.1}s",
        last.values.pushed,
        last.values.failed,
        started.elapsed().as_secs_f64()
    );
    if last.values.failed > 0 {
        bail!(
            "{} {segment} value(s) of channel {channel} failed to push: see why with {} \
             (failed values are pushed again on the next change or resync)",
            last.values.failed,
            what.why(&api.base, channel)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resync(pending: u64, pushed: u64, rate: Option<f64>) -> Resync {
        Resync {
            values: ChannelValues {
                pending,
                pushed,
                failed: 0,
                resynced: None,
            },
            listings: 50,
            rate,
        }
    }

    #[test]
    fn lines_rate_and_eta() {
        let r = resync(30, 20, Some(2.0));
        assert_eq!(
            r.line(),
            "pushing 20/50 pending=30 pushed=20 failed=0 rate=2.0/s eta=15s"
        );
        assert_eq!(r.message(), "2.0 listings/s eta 15s failed 0");
        assert_eq!(r.position(), (20, Some(50)));
        assert!(!r.finished());
        let r = resync(0, 50, None);
        assert_eq!(r.line(), "pushing 50/50 pending=0 pushed=50 failed=0");
        assert!(r.finished());
        assert_eq!(resync(10, 0, Some(0.0)).eta(), None);
    }

    #[test]
    fn rate_over_a_window() {
        let mut rate = Rate::default();
        let t = Instant::now();
        assert_eq!(rate.sample(t, 0), None);
        assert_eq!(rate.sample(t + Duration::from_millis(500), 1), None);
        assert_eq!(rate.sample(t + Duration::from_secs(2), 4), Some(2.0));
        // Old samples leave the window: a burst at the start stops counting.
        assert_eq!(rate.sample(t + Duration::from_secs(12), 24), Some(2.0));
        assert_eq!(rate.sample(t + Duration::from_secs(22), 24), Some(0.0));
    }
}
