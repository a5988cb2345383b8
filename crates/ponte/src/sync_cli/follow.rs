//! Following something a server works through (a sync run, a stock or prices resync) until it
//! ends: a progress bar on a terminal, plain lines elsewhere (CI, pipes).

use super::client::ReadError;
use anyhow::bail;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// How often it is read while it goes on.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(250);
/// Plain output: at most one progress line per this much time (phase changes excepted).
const LINE_EVERY: Duration = Duration::from_secs(1);
/// Plain output: a line at least this often, even when nothing changed.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// How long the server may stay unreachable while it is followed.
const LOST_CONTACT_FOR: Duration = Duration::from_secs(30);

/// One reading of what is followed.
pub(crate) trait Followed {
    /// What a plain line is printed again for (with [`Followed::phase`]).
    type Counts: PartialEq + Clone;
    /// Nothing left to follow.
    fn finished(&self) -> bool;
    /// A change of this prints a plain line at once.
    fn phase(&self) -> &str;
    fn counts(&self) -> Self::Counts;
    /// Done so far and, once known, out of how many.
    fn position(&self) -> (u64, Option<u64>);
    /// A plain progress line (after `<label>: `).
    fn line(&self) -> String;
    /// The bar's message.
    fn message(&self) -> String;
}

/// Reads what is followed.
pub(crate) trait Source {
    type Item: Followed;
    async fn read(&mut self) -> Result<Self::Item, ReadError>;
}

/// What is followed, for the messages: `sync <id>` and the URL to read it at.
pub(crate) struct Subject {
    pub(crate) name: String,
    pub(crate) url: String,
}

/// Reads `source` every [`POLL_EVERY`] until it is finished, showing its progress;
/// the last reading.
pub(crate) async fn follow<S: Source>(
    subject: &Subject,
    view: &mut Progress<<S::Item as Followed>::Counts>,
    source: &mut S,
    mut current: S::Item,
) -> anyhow::Result<S::Item> {
    view.show(&current);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut last_answer = Instant::now();
    let mut lost = false;
    while !current.finished() {
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = &mut ctrl_c => {
                view.clear();
                bail!(
                    "stopped following; {} goes on on the server: GET {}",
                    subject.name, subject.url
                );
            }
        }
        match source.read().await {
            Ok(r) => {
                current = r;
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
                    "lost contact with ponte for {}s; {} may go on on the server: GET {}",
                    LOST_CONTACT_FOR.as_secs(),
                    subject.name,
                    subject.url
                )));
            }
            Err(ReadError::Refused(e)) => {
                view.clear();
                return Err(e.context(format!("reading {}", subject.name)));
            }
        }
        view.show(&current);
    }
    view.clear();
    Ok(current)
}

/// A progress bar on a terminal, plain lines elsewhere (CI, pipes).
pub(crate) enum Progress<C> {
    Bar {
        bar: ProgressBar,
        sized: bool,
    },
    Lines {
        label: String,
        last: Option<(Instant, String, C)>,
    },
}

impl<C: PartialEq + Clone> Progress<C> {
    /// `label` starts every line ("sync <id>"); `unit` follows the count while the
    /// total is unknown ("orders read").
    pub(crate) fn new(terminal: bool, label: String, unit: &str) -> Self {
        if !terminal {
            return Self::Lines { label, last: None };
        }
        // The label once (to follow it elsewhere), then a bar short enough for one line.
        println!("{label}: started");
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        bar.set_style(spinner_style(unit));
        bar.enable_steady_tick(Duration::from_millis(100));
        Self::Bar { bar, sized: false }
    }

    pub(crate) fn show<T: Followed<Counts = C>>(&mut self, item: &T) {
        match self {
            Self::Bar { bar, sized } => {
                let (pos, len) = item.position();
                if let Some(len) = len {
                    if !*sized {
                        bar.set_style(bar_style());
                        *sized = true;
                    }
                    bar.set_length(len);
                }
                bar.set_position(pos);
                bar.set_message(item.message());
            }
            Self::Lines { label, last } => {
                let counts = item.counts();
                let due = match last {
                    None => true,
                    Some((at, phase, c)) => {
                        phase != item.phase()
                            || (at.elapsed() >= LINE_EVERY && *c != counts)
                            || at.elapsed() >= HEARTBEAT_EVERY
                    }
                };
                if due && !item.finished() {
                    println!("{label}: {}", item.line());
                    *last = Some((Instant::now(), item.phase().to_owned(), counts));
                }
            }
        }
    }

    pub(crate) fn note(&self, text: &str) {
        match self {
            Self::Bar { bar, .. } => bar.set_message(text.to_owned()),
            Self::Lines { label, .. } => println!("{label}: {text}"),
        }
    }

    pub(crate) fn clear(&self) {
        if let Self::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

fn spinner_style(unit: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!("{{spinner:.green}} {{pos}} {unit} {{wide_msg}}"))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner:.green} [{bar:20.cyan/blue}] {pos}/{len} {wide_msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// `0s`, `42s`, `2m05s`, `1h02m`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
