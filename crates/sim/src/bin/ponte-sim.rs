//! `ponte-sim`: run a platform simulator from the command line.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ponte-sim", about = "Platform API simulators for ponte")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Simulated Nuvemshop/Tiendanube store.
    Nuvemshop(ponte_sim::DemoArgs),
    /// Simulated VTEX account.
    Vtex(ponte_sim::VtexDemoArgs),
    /// Simulated Mercado Livre seller.
    Mercadolivre(ponte_sim::MlDemoArgs),
    /// Simulated Americanas (SkyHub API) store.
    Americanas(ponte_sim::AmDemoArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Nuvemshop(args) => ponte_sim::run_demo(args).await,
        Cmd::Vtex(args) => ponte_sim::run_vtex_demo(args).await,
        Cmd::Mercadolivre(args) => ponte_sim::run_ml_demo(args).await,
        Cmd::Americanas(args) => ponte_sim::run_americanas_demo(args).await,
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ponte-sim: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
