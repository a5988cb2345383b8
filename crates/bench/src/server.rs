//! Running ponte for a benchmark: this binary re-executed with `serve`, so the
//! server has its own process (and runtime) like in production.

use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The API token benchmarks use.
pub const TOKEN: &str = "bench-token-0123456789abcdef";

/// Arguments of the internal `serve` command.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long)]
    data_dir: PathBuf,
}

/// Runs ponte on an ephemeral port until killed.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PONTE_LOG").unwrap_or_default(),
        )
        .with_writer(std::io::stderr)
        .init();
    let overrides = ponte::config::Overrides {
        data_dir: Some(args.data_dir),
        listen: Some("127.0.0.1:0".parse()?),
        database_url: None,
    };
    let config = ponte::config::Config {
        api_token: Some(TOKEN.into()),
        ..ponte::config::Config::load(&overrides)?
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    ponte::app::run(config, listener, ponte::app::shutdown_signal()).await
}

/// A ponte process started for a scenario.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
}

impl Server {
    /// Starts ponte on a fresh data directory.
    pub fn start(data_dir: &Path, env: &[(&str, String)]) -> anyhow::Result<Server> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            // Job counts in /metrics are read in the background: often, for `settle`.
            .env("PONTE_METRICS_REFRESH_MS", "100")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            // The simulators listen on loopback.
            .env("PONTE_ALLOW_PRIVATE_NETWORKS", "true")
            .env(
                "PONTE_LOG",
                std::env::var("PONTE_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting ponte")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("ponte listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .context("ponte did not start")?;
        Ok(Server { child, base })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's socket address.
    pub fn addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        Ok(self.base.trim_start_matches("http://").parse()?)
    }

    /// Resident memory of the server process, in bytes (Linux).
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
