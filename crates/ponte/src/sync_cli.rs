//! `ponte sync orders`: starts a manual sync on a running server through its API and
//! follows it to the end (a progress bar on a terminal, plain lines otherwise). The CLI
//! never opens the database.

use crate::config::{Config, Overrides};
use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ponte_core::{ChannelId, RunId};
use ponte_store::RunCounts;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often the run is read while it goes on.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// Plain output: at most one progress line per this much time (state changes excepted).
const LINE_EVERY: Duration = Duration::from_secs(1);
/// Plain output: a line at least this often, even when nothing changed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// How long the server may stay unreachable while a run is followed.
const LOST_CONTACT_FOR: Duration = Duration::from_secs(30);

/// `ponte sync orders`.
#[derive(Debug, clap::Args)]
pub struct SyncOrdersArgs {
    /// Base URL of the running ponte server.
    #[arg(long, env = "PONTE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API token [default: the server's token file, <data-dir>/api-token]
    #[arg(long, env = "PONTE_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Data directory to read the generated `api-token` from when no token is given
    /// [env: PONTE_DATA_DIR] [default: ./ponte-data]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The channel to sync (its id, a UUID).
    #[arg(long, value_name = "ID", value_parser = parse_channel)]
    pub channel: ChannelId,
    /// Re-read the orders updated since this time: RFC 3339 (2026-01-01T12:00:00-03:00)
    /// or a date (2026-01-01, midnight UTC) [default: the channel's polling cursor]
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
}

fn parse_channel(s: &str) -> Result<ChannelId, String> {
    s.trim().parse().map_err(|e| {
        format!("not a channel id (a UUID, as `GET /api/v1/channels` lists them): {e}")
    })
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

impl Run {
    fn finished(&self) -> bool {
        matches!(self.state.as_str(), "succeeded" | "failed")
    }
}

/// An API problem document (only what the CLI prints).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Problem {
    code: String,
    detail: String,
}

/// Starts a sync of a channel's orders on the server at `args.url` and follows it;
/// fails unless the run succeeds.
pub async fn sync_orders(args: SyncOrdersArgs) -> anyhow::Result<()> {
    let base = args.url.trim().trim_end_matches('/').to_owned();
    let parsed = reqwest::Url::parse(&base)
        .with_context(|| format!("invalid --url `{base}` (expected e.g. http://127.0.0.1:8080)"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("invalid --url `{base}`: only http:// and https:// are supported");
    }
    let token = resolve_token(args.token.as_deref(), args.data_dir.as_ref())?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let api = Api {
        client,
        base,
        token,
    };
    let started = Instant::now();
    let run = api.start_sync(args.channel, args.since).await?;
    let run = follow(&api, run).await?;
    println!("{}", summary_line(&run, started.elapsed()));
    if run.state == "failed" {
        bail!(
            "sync {} failed: {}",
            run.id,
            run.error.as_deref().unwrap_or("no error reported")
        );
    }
    Ok(())
}

/// `--token` / `PONTE_API_TOKEN`, then the configuration's `api_token`, then the file
/// `ponte serve` writes its generated token to.
fn resolve_token(given: Option<&str>, data_dir: Option<&PathBuf>) -> anyhow::Result<String> {
    if let Some(t) = given.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok(t.to_owned());
    }
    let config = Config::load(&Overrides {
        data_dir: data_dir.cloned(),
        ..Overrides::default()
    })?;
    if let Some(t) = config
        .api_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Ok(t.to_owned());
    }
    let path = config.data_dir.join("api-token");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Ok(_) => bail!("the API token file {} is empty", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no API token: pass --token or set PONTE_API_TOKEN (or --data-dir pointing at the \
             server's data directory; {} does not exist)",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("reading the API token from {}", path.display())),
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// Why reading the run failed: the server may come back, or it answered no.
enum ReadError {
    Unreachable(anyhow::Error),
    Refused(anyhow::Error),
}

impl Api {
    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        let what = if e.is_connect() {
            format!(
                "cannot connect to ponte at {}: is `ponte serve` running there? (set --url or PONTE_URL)",
                self.base
            )
        } else if e.is_timeout() {
            format!("ponte at {} did not answer in time", self.base)
        } else {
            format!("request to ponte at {} failed", self.base)
        };
        anyhow::Error::new(e).context(what)
    }

    async fn start_sync(
        &self,
        channel: ChannelId,
        since: Option<DateTime<Utc>>,
    ) -> anyhow::Result<Run> {
        let resp = self
            .client
            .post(format!("{}/api/v1/channels/{channel}/sync", self.base))
            .bearer_auth(&self.token)
            .json(&SyncRequest {
                kind: "orders",
                since: since.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            })
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        if status == StatusCode::ACCEPTED {
            return resp
                .json::<Run>()
                .await
                .with_context(|| format!("unexpected answer from {} to the sync", self.base));
        }
        let p = problem(resp).await;
        Err(match status {
            StatusCode::CONFLICT if p.code == "task_busy" => {
                let busy = busy_run(&p.detail);
                anyhow!(
                    "409 task_busy: channel {channel} is already being read: run {} (its polling \
                     or another sync) is queued or running. Wait for it to finish and try again, \
                     or follow it: GET {}/api/v1/task-runs/{}",
                    busy.unwrap_or("?"),
                    self.base,
                    busy.unwrap_or("<run id>")
                )
            }
            StatusCode::NOT_FOUND => anyhow!(
                "404 not_found: no channel {channel} on {} ({}); list them with GET /api/v1/channels",
                self.base,
                p.detail
            ),
            _ => self.refused(status, &p),
        })
    }

    async fn run(&self, id: RunId) -> Result<Run, ReadError> {
        let resp = self
            .client
            .get(format!("{}/api/v1/task-runs/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| ReadError::Unreachable(self.unreachable(e)))?;
        let status = resp.status();
        if status.is_success() {
            return resp.json::<Run>().await.map_err(|e| {
                ReadError::Refused(
                    anyhow::Error::new(e)
                        .context(format!("unexpected answer from {} for run {id}", self.base)),
                )
            });
        }
        let p = problem(resp).await;
        let e = self.refused(status, &p);
        // A server restarting (or one instance of many going away) comes back.
        if status.is_server_error() {
            Err(ReadError::Unreachable(e))
        } else {
            Err(ReadError::Refused(e))
        }
    }

    fn refused(&self, status: StatusCode, p: &Problem) -> anyhow::Error {
        let detail = if p.detail.is_empty() {
            status.canonical_reason().unwrap_or("error")
        } else {
            &p.detail
        };
        if status == StatusCode::UNAUTHORIZED {
            return anyhow!(
                "401 unauthorized: ponte at {} refused the API token ({detail}); check --token, \
                 PONTE_API_TOKEN or <data-dir>/api-token",
                self.base
            );
        }
        let code = if p.code.is_empty() { "error" } else { &p.code };
        anyhow!("{} {code}: {detail}", status.as_u16())
    }
}

/// The problem document of an error answer (empty when the body is not one).
async fn problem(resp: reqwest::Response) -> Problem {
    resp.json().await.unwrap_or_default()
}

/// The run id at the end of a `task_busy` detail ("... queued or running: <id>").
fn busy_run(detail: &str) -> Option<&str> {
    let last = detail.rsplit(':').next()?.trim();
    last.parse::<RunId>().is_ok().then_some(last)
}

/// Reads the run every [`POLL_EVERY`] until it ends, showing its progress.
async fn follow(api: &Api, mut run: Run) -> anyhow::Result<Run> {
    let mut view = Progress::new(std::io::stdout().is_terminal(), run.id);
    view.show(&run);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut last_answer = Instant::now();
    let mut lost = false;
    while !run.finished() {
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = &mut ctrl_c => {
                view.clear();
                bail!(
                    "stopped following; sync {} goes on on the server: GET {}/api/v1/task-runs/{}",
                    run.id, api.base, run.id
                );
            }
        }
        match api.run(run.id).await {
            Ok(r) => {
                run = r;
                last_answer = Instant::now();
                lost = false;
            }
            Err(ReadError::Unreachable(e)) if last_answer.elapsed() < LOST_CONTACT_FOR => {
                if !lost {
                    view.note(&format!("{e:#}; retrying"));
                    lost = true;
                }
                continue;
            }
            Err(ReadError::Unreachable(e)) => {
                view.clear();
                return Err(e.context(format!(
                    "lost contact with ponte for {}s; sync {} may go on on the server: GET {}/api/v1/task-runs/{}",
                    LOST_CONTACT_FOR.as_secs(),
                    run.id,
                    api.base,
                    run.id
                )));
            }
            Err(ReadError::Refused(e)) => {
                view.clear();
                return Err(e.context(format!("reading sync {}", run.id)));
            }
        }
        view.show(&run);
    }
    view.clear();
    Ok(run)
}

/// A progress bar on a terminal, plain lines elsewhere (CI, pipes).
enum Progress {
    Bar {
        bar: ProgressBar,
        sized: bool,
    },
    Lines {
        id: RunId,
        last: Option<(Instant, String, RunCounts)>,
    },
}

impl Progress {
    fn new(terminal: bool, id: RunId) -> Self {
        if !terminal {
            return Self::Lines { id, last: None };
        }
        // The id once (to follow the run elsewhere), then a bar short enough for one line.
        println!("sync {id}: started");
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        bar.set_style(spinner_style());
        bar.enable_steady_tick(Duration::from_millis(100));
        Self::Bar { bar, sized: false }
    }

    fn show(&mut self, run: &Run) {
        match self {
            Self::Bar { bar, sized } => {
                let c = &run.counts;
                if let Some(expected) = c.expected {
                    if !*sized {
                        bar.set_style(bar_style());
                        *sized = true;
                    }
                    bar.set_length(expected.max(c.seen));
                }
                bar.set_position(c.seen);
                bar.set_message(bar_message(run));
            }
            Self::Lines { id, last } => {
                let due = match last {
                    None => true,
                    Some((at, state, counts)) => {
                        *state != run.state
                            || (at.elapsed() >= LINE_EVERY && *counts != run.counts)
                            || at.elapsed() >= HEARTBEAT_EVERY
                    }
                };
                if due && !run.finished() {
                    println!("sync {id}: {}", progress_text(run));
                    *last = Some((Instant::now(), run.state.clone(), run.counts.clone()));
                }
            }
        }
    }

    fn note(&self, text: &str) {
        match self {
            Self::Bar { bar, .. } => bar.set_message(text.to_owned()),
            Self::Lines { id, .. } => println!("sync {id}: {text}"),
        }
    }

    fn clear(&self) {
        if let Self::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.green} {pos} orders read {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.green} [{bar:20.cyan/blue}] {pos}/{len} {wide_msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
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

/// `sync <id>: succeeded seen=... created=... ... in 2.3s`.
fn summary_line(run: &Run, took: Duration) -> String {
    let c = &run.counts;
    let mut out = format!(
        "sync {}: {} seen={} created={} updated={} unchanged={} skipped={} gaps={}",
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
    Some(Duration::from_secs_f64(left / rate))
}

/// `0s`, `42s`, `2m05s`, `1h02m`.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
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
