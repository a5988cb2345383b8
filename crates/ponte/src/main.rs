//! `ponte`: the command line.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ponte::config::{Config, Overrides};
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// mimalloc: under load glibc's malloc and free were a sixth of ponte's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "ponte",
    version,
    about = "Order and stock hub between an ERP and its sales channels"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// Data directory for the embedded database [env: PONTE_DATA_DIR] [default: ./ponte-data]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host/db) instead of the embedded database [env: PONTE_DATABASE_URL]
    #[arg(long, global = true)]
    database_url: Option<String>,
}

impl Common {
    fn config(self) -> anyhow::Result<Config> {
        Config::load(&Overrides {
            data_dir: self.data_dir,
            listen: None,
            database_url: self.database_url,
        })
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the HTTP server and the workers.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Listen address [env: PONTE_LISTEN] [default: 127.0.0.1:8080]
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Print every public error code (code, HTTP status, title, when) as Markdown.
    Errors,
    /// Run a platform simulator (demos and sandboxes).
    Sim {
        #[command(subcommand)]
        platform: SimCmd,
    },
    /// Sync a channel now through a running server's API, following its progress.
    Sync {
        #[command(subcommand)]
        what: SyncCmd,
    },
    /// Re-apply a channel's current DE-PARA tables (statuses, ...) to the orders ponte
    /// stored, without calling the platform, through a running server's API.
    Remap(ponte::sync_cli::remap::RemapArgs),
    /// Stock on a running server's channels, through its API, following the progress.
    Stock {
        #[command(subcommand)]
        what: StockCmd,
    },
    /// Prices on a running server's channels, through its API, following the progress.
    Prices {
        #[command(subcommand)]
        what: PricesCmd,
    },
    /// The installation's tenants (merchants), on the database directly.
    Tenant {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        what: TenantCmd,
    },
    /// People who sign in to the console, on the database directly.
    User {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        what: UserCmd,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCmd {
    /// Create a tenant and print its first admin API token.
    Create(ponte::admin_cli::TenantCreateArgs),
    /// List the tenants.
    List,
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Print a one-time link for a person to set a new password (no mail server needed).
    ResetPassword {
        /// The person's sign-in e-mail.
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum SyncCmd {
    /// Re-read a channel's orders updated since a time (imports missing ones, updates changed ones).
    Orders(ponte::sync_cli::SyncOrdersArgs),
}

#[derive(Debug, Subcommand)]
enum StockCmd {
    /// Push every listing of a channel again (the platform then shows ponte's values).
    Resync(ponte::resync_cli::ResyncArgs),
}

#[derive(Debug, Subcommand)]
enum PricesCmd {
    /// Push the price of every listing of a channel again (the platform then shows
    /// ponte's prices).
    Resync(ponte::resync_cli::ResyncArgs),
}

#[derive(Debug, Subcommand)]
enum SimCmd {
    /// A simulated Nuvemshop store.
    Nuvemshop(ponte_sim::DemoArgs),
    /// A simulated VTEX account.
    Vtex(ponte_sim::VtexDemoArgs),
    /// A simulated Mercado Livre seller.
    Mercadolivre(ponte_sim::MlDemoArgs),
    /// A simulated Americanas (SkyHub API) store.
    Americanas(ponte_sim::AmDemoArgs),
}

fn main() -> anyhow::Result<()> {
    ponte::runtime::runtime()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PONTE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().cmd {
        Cmd::Serve { common, listen } => {
            let config = Config::load(&Overrides {
                data_dir: common.data_dir,
                listen,
                database_url: common.database_url,
            })?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            ponte::app::run(config, listener, ponte::app::shutdown_signal()).await
        }
        Cmd::Tenant { common, what } => {
            let config = common.config()?;
            match what {
                TenantCmd::Create(args) => ponte::admin_cli::tenant_create(&config, args).await,
                TenantCmd::List => ponte::admin_cli::tenant_list(&config).await,
            }
        }
        Cmd::User {
            common,
            what: UserCmd::ResetPassword { email },
        } => ponte::admin_cli::reset_password(&common.config()?, &email).await,
        Cmd::Migrate { common } => {
            let config = common.config()?;
            let backend = ponte::backend::Backend::open(&config).await?;
            backend.close().await;
            match &config.database_url {
                Some(url) => println!(
                    "PostgreSQL database {} is up to date",
                    ponte::config::redact(url)
                ),
                None => println!(
                    "embedded database in {} is up to date",
                    config.data_dir.display()
                ),
            }
            Ok(())
        }
        Cmd::Errors => {
            print!("{}", ponte_core::ErrorCode::markdown());
            Ok(())
        }
        Cmd::Openapi => {
            println!("{}", ponte_api::openapi_json());
            Ok(())
        }
        Cmd::Sim {
            platform: SimCmd::Nuvemshop(args),
        } => ponte_sim::run_demo(args).await.map_err(Into::into),
        Cmd::Sim {
            platform: SimCmd::Vtex(args),
        } => ponte_sim::run_vtex_demo(args).await.map_err(Into::into),
        Cmd::Sim {
            platform: SimCmd::Mercadolivre(args),
        } => ponte_sim::run_ml_demo(args).await.map_err(Into::into),
        Cmd::Sim {
            platform: SimCmd::Americanas(args),
        } => ponte_sim::run_americanas_demo(args)
            .await
            .map_err(Into::into),
        Cmd::Sync {
            what: SyncCmd::Orders(args),
        } => ponte::sync_cli::sync_orders(args).await,
        Cmd::Remap(args) => ponte::sync_cli::remap::remap_orders(args).await,
        Cmd::Stock {
            what: StockCmd::Resync(args),
        } => ponte::resync_cli::resync(ponte::resync_cli::Pushed::Stock, args).await,
        Cmd::Prices {
            what: PricesCmd::Resync(args),
        } => ponte::resync_cli::resync(ponte::resync_cli::Pushed::Prices, args).await,
    }
}
