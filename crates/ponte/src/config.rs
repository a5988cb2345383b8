//! Configuration: defaults, then an optional `ponte.toml`, then `PONTE_*`
//! environment variables, then command-line flags.

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `ponte serve` needs.
#[derive(Clone, Serialize, Deserialize)]
pub struct Config {
    /// Where the embedded database, keys and the generated token live.
    pub data_dir: PathBuf,
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// `postgres://...` to share the work of many instances; unset: embedded SQLite.
    pub database_url: Option<String>,
    /// How long to keep retrying an unreachable database at start, in seconds.
    pub database_connect_timeout_secs: u64,
    /// PostgreSQL pool size per instance.
    pub database_max_connections: u32,
    /// Job lease length in seconds (a dead instance's jobs return after this).
    pub job_lease_secs: u64,
    /// Base URL platforms reach this server at (default: `http://{listen}`).
    pub public_url: Option<String>,
    /// API token for the default tenant; generated into `<data_dir>/api-token` when unset.
    pub api_token: Option<String>,
    /// The installation's admin token: manages tenants through `/api/v1/admin`; unset:
    /// tenants are managed with `ponte tenant` only.
    pub admin_token: Option<String>,
    /// Master key for credentials at rest (base64 or hex, 32 bytes); a key file in the data dir when unset.
    pub master_key: Option<String>,
    /// Concurrent job claim loops.
    pub workers: usize,
    /// Seconds to wait for in-flight work at shutdown.
    pub shutdown_grace_secs: u64,
    /// First retry delay of a failed order fetch, in milliseconds (doubles each time).
    pub import_retry_base_ms: u64,
    /// First retry delay of a failed status send, in milliseconds (doubles each time).
    pub send_retry_base_ms: u64,
    /// Divides every wait of the webhook retry schedule (5 s, 5 min, ... 10 h) by this
    /// factor (tests and benchmarks; 1 in production).
    pub webhook_retry_divisor: u32,
    /// Longest a webhook endpoint may take to answer, in milliseconds.
    pub webhook_timeout_ms: u64,
    /// Webhook deliveries in flight at once per instance (an endpoint holds at most its
    /// share: all with one endpoint, half with two, never less than a quarter).
    pub webhook_concurrency: usize,
    /// Longest a platform call may take, in milliseconds.
    pub platform_timeout_ms: u64,
    /// Let platform calls reach loopback and private addresses (simulators, sandboxes,
    /// tests); off by default.
    pub allow_private_networks: bool,
    /// Shortest interval a scheduled task accepts, in seconds (lower it for tests and
    /// sandboxes).
    pub min_task_interval_seconds: u64,
    /// How far before its cursor a polling run starts reading again, in seconds.
    pub poll_overlap_seconds: u64,
    /// Days raw webhook deliveries, status-send attempts, task runs and stock push
    /// records are kept once finished (orders, timelines and the stock ledger stay
    /// forever); 0 keeps nothing finished.
    pub retention_days: u32,
    /// Seconds between retention sweeps; 0 turns retention off.
    pub retention_sweep_secs: u64,
    /// How often the job counts and database size `/metrics` and `/ready` show are
    /// read, in milliseconds.
    pub metrics_refresh_ms: u64,
    /// Serve `/metrics` on this address instead of the main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// The console shows dates in this IANA time zone.
    pub time_zone: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|u| redact(u)),
            )
            .field("public_url", &self.public_url)
            .field("api_token", &self.api_token.as_ref().map(|_| "<set>"))
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field("master_key", &self.master_key.as_ref().map(|_| "<set>"))
            .field("workers", &self.workers)
            .field("allow_private_networks", &self.allow_private_networks)
            .field("retention_days", &self.retention_days)
            .field("metrics_listen", &self.metrics_listen)
            .field("time_zone", &self.time_zone)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./ponte-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            database_connect_timeout_secs: 60,
            database_max_connections: 16,
            job_lease_secs: 60,
            public_url: None,
            api_token: None,
            admin_token: None,
            master_key: None,
            workers: 4,
            shutdown_grace_secs: 10,
            import_retry_base_ms: 2000,
            send_retry_base_ms: 5000,
            webhook_retry_divisor: 1,
            webhook_timeout_ms: 15_000,
            webhook_concurrency: 64,
            platform_timeout_ms: 20_000,
            allow_private_networks: false,
            min_task_interval_seconds: 60,
            poll_overlap_seconds: 600,
            retention_days: 90,
            retention_sweep_secs: 3600,
            metrics_refresh_ms: 5000,
            metrics_listen: None,
            time_zone: "America/Sao_Paulo".into(),
        }
    }
}

/// Command-line overrides.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// A database URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Loads defaults <- `ponte.toml` (or `PONTE_CONFIG`) <- `PONTE_*` <- flags.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Self> {
        let file = std::env::var("PONTE_CONFIG").unwrap_or_else(|_| "ponte.toml".into());
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("PONTE_").ignore(&["CONFIG", "LOG"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact("postgres://ponte:s3cret@db:5432/ponte"),
            "postgres://ponte:***@db:5432/ponte"
        );
        assert_eq!(redact("postgres://db/ponte"), "postgres://db/ponte");
    }
}
