//! Talking to a running ponte server from the command line (`ponte sync`, `ponte stock`):
//! where it is, the API token, requests, and error messages that say what to do.

use crate::config::{Config, Overrides};
use anyhow::{anyhow, bail, Context};
use ponte_core::ChannelId;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Where the server is and how to authenticate (flattened into each command's flags).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
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
}

/// `--channel`: a channel id.
pub(crate) fn parse_channel(s: &str) -> Result<ChannelId, String> {
    s.trim().parse().map_err(|e| {
        format!("not a channel id (a UUID, as `GET /api/v1/channels` lists them): {e}")
    })
}

/// An API problem document (only what the CLI prints).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Problem {
    pub(crate) code: String,
    pub(crate) detail: String,
}

/// The server's answer to a request: the expected one, or a refusal.
pub(crate) enum Answer<T> {
    Ok(T),
    No(StatusCode, Problem),
}

/// Why reading something being followed failed: the server may come back, or it
/// answered no.
pub(crate) enum ReadError {
    Unreachable(anyhow::Error),
    Refused(anyhow::Error),
}

/// A client of one server's API.
pub(crate) struct Api {
    client: reqwest::Client,
    pub(crate) base: String,
    token: String,
}

impl Api {
    /// Checks the URL and finds the token (the CLI never opens the database).
    pub(crate) fn connect(args: &ServerArgs) -> anyhow::Result<Self> {
        let base = args.url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base).with_context(|| {
            format!("invalid --url `{base}` (expected e.g. http://127.0.0.1:8080)")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("invalid --url `{base}`: only http:// and https:// are supported");
        }
        let token = resolve_token(args.token.as_deref(), args.data_dir.as_ref())?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            base,
            token,
        })
    }

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

    /// POSTs `body` to `path`: its answer when the status is `expected`, the problem
    /// otherwise. `what` names the request in errors ("the sync").
    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        expected: StatusCode,
        what: &str,
    ) -> anyhow::Result<Answer<T>> {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        if status == expected {
            return resp
                .json::<T>()
                .await
                .map(Answer::Ok)
                .with_context(|| format!("unexpected answer from {} to {what}", self.base));
        }
        Ok(Answer::No(status, problem(resp).await))
    }

    /// GETs `path` (`what` names it in errors: "run <id>"); server errors count as
    /// unreachable (a server restarting, or one instance of many going away, comes back).
    pub(crate) async fn read<T: DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<T, ReadError> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| ReadError::Unreachable(self.unreachable(e)))?;
        let status = resp.status();
        if status.is_success() {
            return resp.json::<T>().await.map_err(|e| {
                ReadError::Refused(
                    anyhow::Error::new(e)
                        .context(format!("unexpected answer from {} for {what}", self.base)),
                )
            });
        }
        let p = problem(resp).await;
        let e = self.refused(status, &p);
        if status.is_server_error() {
            Err(ReadError::Unreachable(e))
        } else {
            Err(ReadError::Refused(e))
        }
    }

    /// A 404 for a channel.
    pub(crate) fn no_channel(&self, channel: ChannelId, p: &Problem) -> anyhow::Error {
        anyhow!(
            "404 not_found: no channel {channel} on {} ({}); list them with GET /api/v1/channels",
            self.base,
            p.detail
        )
    }

    /// Any other refusal (401 says where the token comes from).
    pub(crate) fn refused(&self, status: StatusCode, p: &Problem) -> anyhow::Error {
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

/// The problem document of an error answer (empty when the body is not one).
async fn problem(resp: reqwest::Response) -> Problem {
    resp.json().await.unwrap_or_default()
}
