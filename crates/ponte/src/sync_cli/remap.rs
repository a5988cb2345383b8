//! `ponte remap --channel`: re-applies a channel's current DE-PARA tables to the orders
//! ponte stored (no platform call) on a running server through its API, following the
//! run to the end like `ponte sync orders`.

use super::client::{parse_channel, Answer, Api, ServerArgs};
use super::{busy_run, follow_run, parse_since, Run};
use anyhow::anyhow;
use chrono::{DateTime, SecondsFormat, Utc};
use ponte_core::ChannelId;
use reqwest::StatusCode;
use serde::Serialize;
use std::time::Instant;

/// `ponte remap`.
#[derive(Debug, clap::Args)]
pub struct RemapArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The channel whose orders to remap (its id, a UUID).
    #[arg(long, value_name = "ID", value_parser = parse_channel)]
    pub channel: ChannelId,
    /// Orders placed since: RFC 3339 or a date (midnight UTC) [default: 2000-01-01, all]
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Orders placed before: RFC 3339 or a date [default: now]
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct RemapRequest {
    since: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<String>,
}

/// Starts a remap of a channel's orders and follows it; fails unless it succeeds.
pub async fn remap_orders(args: RemapArgs) -> anyhow::Result<()> {
    let api = Api::connect(&args.server)?;
    let started = Instant::now();
    let since = args
        .since
        .or_else(|| parse_since("2000-01-01").ok())
        .unwrap_or_default();
    let request = RemapRequest {
        since: since.to_rfc3339_opts(SecondsFormat::Secs, true),
        until: args
            .until
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
    };
    let channel = args.channel;
    let run: Run = match api
        .post(
            &format!("/api/v1/channels/{channel}/remap"),
            &request,
            StatusCode::ACCEPTED,
            "the remap",
        )
        .await?
    {
        Answer::Ok(run) => run,
        Answer::No(StatusCode::CONFLICT, p) if p.code == "task_busy" => {
            let busy = busy_run(&p.detail);
            return Err(anyhow!(
                "409 task_busy: a remap of channel {channel} is already queued or running \
                 (run {}). Follow it: GET {}/api/v1/task-runs/{}",
                busy.unwrap_or("?"),
                api.base,
                busy.unwrap_or("<run id>")
            ));
        }
        Answer::No(StatusCode::NOT_FOUND, p) => return Err(api.no_channel(channel, &p)),
        Answer::No(status, p) => return Err(api.refused(status, &p)),
    };
    follow_run(&api, run, "remap", started).await
}
