//! `ponte-sim vtex` / `ponte sim vtex`: a live simulated VTEX account.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::vtex::{OrderStatus, VtexConfig, VtexSim};
use crate::SimError;

/// Options of the VTEX demo.
#[derive(Debug, Clone, Args)]
pub struct VtexDemoArgs {
    /// Address to listen on (the channel's `api_base_url`).
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub listen: SocketAddr,
    /// Account name (`Origin.Account` of hook notifications).
    #[arg(long, default_value = "simstore")]
    pub account: String,
    /// Accepted `X-VTEX-API-AppKey`.
    #[arg(long, default_value = "vtexappkey-simstore-PONTE")]
    pub app_key: String,
    /// Accepted `X-VTEX-API-AppToken`.
    #[arg(long, default_value = "sim-app-token")]
    pub app_token: String,
    /// Orders generated at start.
    #[arg(long, default_value_t = 20)]
    pub orders: usize,
    /// Seed of the generated orders.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Milliseconds between live changes (new orders, payments, cancellations); 0: none.
    #[arg(long, default_value_t = 2000)]
    pub interval_ms: u64,
}

/// Serves a simulated VTEX account until Ctrl-C. Live changes reach the feed and the
/// hook registered through `POST /api/orders/hook/config` (ponte registers it when it
/// has a public URL).
pub async fn run_vtex_demo(args: VtexDemoArgs) -> Result<(), SimError> {
    let sim = VtexSim::new(VtexConfig {
        account: args.account.clone(),
        app_key: args.app_key.clone(),
        app_token: args.app_token.clone(),
        ..VtexConfig::default()
    });
    let ids = sim.generate_orders(args.orders, args.seed);
    println!("generated {} order(s) (seed {})", ids.len(), args.seed);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let server = sim.serve(listener).await;
    let base = server.base_url();
    println!(
        "VTEX simulator listening: {base} (account {})",
        args.account
    );
    println!(
        "  curl -H 'X-VTEX-API-AppKey: {}' -H 'X-VTEX-API-AppToken: {}' '{base}/api/oms/pvt/orders'",
        args.app_key, args.app_token
    );
    println!("Ctrl-C to stop");
    let result = if args.interval_ms == 0 {
        tokio::signal::ctrl_c().await.map_err(SimError::from)
    } else {
        tokio::select! {
            () = live_changes(&sim, args.interval_ms, args.seed) => Ok(()),
            r = tokio::signal::ctrl_c() => r.map_err(SimError::from),
        }
    };
    println!("stopping");
    server.shutdown().await;
    result
}

/// Every tick one change: a new order, a payment approved, or a pending order cancelled.
async fn live_changes(sim: &VtexSim, interval_ms: u64, seed: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms));
    let mut step: u64 = 0;
    loop {
        tick.tick().await;
        step += 1;
        let pending = sim
            .order_ids()
            .into_iter()
            .find(|id| sim.status(id) == Some(OrderStatus::PaymentPending));
        let done = match (step % 4, pending) {
            (1 | 3, _) | (_, None) => sim
                .generate_orders(1, seed.wrapping_add(step))
                .first()
                .map(|id| format!("order {id} created")),
            (2, Some(id)) => sim
                .approve_payment(&id)
                .ok()
                .map(|()| format!("order {id} paid")),
            (_, Some(id)) => sim
                .set_status(&id, OrderStatus::Canceled)
                .ok()
                .map(|()| format!("order {id} cancelled")),
        };
        if let Some(d) = done {
            println!("{d}");
        }
    }
}
