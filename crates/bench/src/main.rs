//! `ponte-bench`: measures ponte against its budget. Each scenario starts ponte (as a
//! separate process, this binary re-executed) and a simulator on loopback, drives
//! load, checks the results are right, prints a table and writes
//! `bench-results/<scenario>.json`.

/// The allocator `ponte` uses (this binary runs ponte for the scenarios).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod americanas;
mod console;
mod events;
mod held;
mod jobs;
mod load;
mod mercadolivre;
mod pg;
mod poll;
mod prices;
mod remap;
mod report;
mod retention;
mod scenarios;
mod sends;
mod server;
mod stock;
mod tenants;
mod tracking;
mod vtex;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ponte-bench")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Signed webhooks accepted per second, next to the same server's `/health` rate.
    Ingest(scenarios::IngestArgs),
    /// Notification to order stored, at a fixed open-loop arrival rate.
    E2e(scenarios::E2eArgs),
    /// No-op jobs claimed and completed per second, SQLite and PostgreSQL.
    Jobs(jobs::JobsArgs),
    /// ERP action to platform request p50/p99 with an idle queue, and sends per
    /// second to the simulator.
    Sends(sends::SendsArgs),
    /// Orders imported per second by a manual sync of a simulator backlog (pages of
    /// 200), and the server's peak memory, per backlog size.
    Poll(poll::PollArgs),
    /// Stock change to platform push p99 on an idle channel; time and calls to
    /// propagate many changes to several channels, without and with Nuvemshop's rate
    /// limit.
    Stock(stock::StockArgs),
    /// Price change to platform push p99 on an idle channel, scheduled price lateness,
    /// and calls per channel next to the coalesced minimum for a bulk of changes.
    Prices(prices::PricesArgs),
    /// Orders imported per second from a simulated VTEX account through Feed v3 (the
    /// scheduled run) and through a manual sync of the OMS list.
    Vtex(vtex::VtexArgs),
    /// Mercado Livre: notification -> order stored (with billing data and shipment),
    /// and stock pushes per second, against the simulator.
    Mercadolivre(mercadolivre::MlArgs),
    /// Orders re-mapped per second when a new status row is applied to a channel's
    /// stored orders (remap, no platform call).
    Remap(remap::RemapArgs),
    /// Shipped orders tracked over the Correios and Melhor Envio simulators: polls/s
    /// within the carriers' budgets.
    Tracking(tracking::TrackingArgs),
    /// Americanas (SkyHub): orders imported per second from the order queue, with and
    /// without the documented limits.
    Americanas(americanas::AmArgs),
    /// Signed webhooks accepted per second with the retention sweep off, then while it
    /// deletes a database full of old deliveries.
    Retention(retention::RetentionArgs),
    /// Every console page's server time with a million orders and three million
    /// status sends in the database.
    Console(console::ConsoleArgs),
    /// 2,000 tenants with 5 channels each polling every 10 minutes: how late scheduled
    /// runs start, CPU while idle, peak memory, tenant-scoped API reads per second.
    Tenants(tenants::TenantsArgs),
    /// Outbound webhooks: notification -> ERP endpoint gets `order.created` (p50/p99),
    /// delivery throughput to one fast endpoint, the same beside a 1 s endpoint, and an
    /// endpoint down for a while then back (nothing lost).
    Events(events::EventsArgs),
    /// Every scenario.
    All {
        /// Small sizes and short measurements: a smoke run of every scenario (seconds
        /// each), as CI runs it so the bench code cannot rot.
        #[arg(long)]
        quick: bool,
        /// Only the embedded backend (no PostgreSQL needed).
        #[arg(long)]
        sqlite_only: bool,
    },
    /// (internal) Run a ponte server for a scenario.
    #[command(hide = true)]
    Serve(server::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The server it starts (`serve`) runs on ponte's own runtime settings.
    let rt = ponte::runtime::runtime()?;
    rt.block_on(async {
        match cli.cmd {
            Cmd::Ingest(a) => scenarios::ingest(a).await.map(|_| ()),
            Cmd::E2e(a) => scenarios::e2e(a).await.map(|_| ()),
            Cmd::Jobs(a) => jobs::jobs(a).await,
            Cmd::Sends(a) => sends::sends(a).await.map(|_| ()),
            Cmd::Poll(a) => poll::poll(a).await.map(|_| ()),
            Cmd::Stock(a) => stock::stock(a).await.map(|_| ()),
            Cmd::Prices(a) => prices::prices(a).await.map(|_| ()),
            Cmd::Vtex(a) => vtex::vtex(a).await.map(|_| ()),
            Cmd::Mercadolivre(a) => mercadolivre::mercadolivre(a).await.map(|_| ()),
            Cmd::Americanas(a) => americanas::americanas(a).await.map(|_| ()),
            Cmd::Retention(a) => retention::retention(a).await.map(|_| ()),
            Cmd::Remap(a) => remap::remap(a).await.map(|_| ()),
            Cmd::Tracking(a) => tracking::tracking(a).await.map(|_| ()),
            Cmd::Console(a) => console::console(a).await.map(|_| ()),
            Cmd::Tenants(a) => tenants::tenants(a).await,
            Cmd::Events(a) => events::events(a).await.map(|_| ()),
            Cmd::All { quick, sqlite_only } => {
                use scenarios::{E2eArgs, IngestArgs, Target};
                let started = chrono::Utc::now();
                let targets = if sqlite_only {
                    vec![Target::sqlite()]
                } else {
                    vec![Target::sqlite(), Target::postgres(1), Target::postgres(2)]
                };
                for target in targets {
                    scenarios::ingest(IngestArgs::preset(quick, target.clone())).await?;
                    scenarios::e2e(E2eArgs::preset(quick, target.clone())).await?;
                    sends::sends(sends::SendsArgs::preset(quick, target.clone())).await?;
                    if target.instances == 1 {
                        poll::poll(poll::PollArgs::preset(quick, target.clone())).await?;
                        stock::stock(stock::StockArgs::preset(quick, target.clone())).await?;
                        prices::prices(prices::PricesArgs::preset(quick, target.clone())).await?;
                        vtex::vtex(vtex::VtexArgs::preset(quick, target.clone())).await?;
                        mercadolivre::mercadolivre(mercadolivre::MlArgs::preset(
                            quick,
                            target.clone(),
                        ))
                        .await?;
                        remap::remap(remap::RemapArgs::preset(quick, target.clone())).await?;
                        tracking::tracking(tracking::TrackingArgs::preset(quick, target.clone()))
                            .await?;
                        americanas::americanas(americanas::AmArgs::preset(quick, target.clone()))
                            .await?;
                        retention::retention(retention::RetentionArgs::preset(
                            quick,
                            target.clone(),
                        ))
                        .await?;
                        console::console(console::ConsoleArgs::preset(quick, target.clone()))
                            .await?;
                        tenants::tenants(tenants::TenantsArgs::preset(quick, target)).await?;
                    }
                }
                if !sqlite_only {
                    jobs::jobs(jobs::JobsArgs::preset(quick)).await?;
                }
                report::summary(started).map(|_| ())
            }
            Cmd::Serve(a) => server::serve(a).await,
        }
    })
}
