//! `ponte sim americanas`: a live simulated Americanas (SkyHub) store.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::americanas::{AmConfig, AmSim, NewAmItem, NewAmOrder};
use crate::SimError;

/// Options of the Americanas demo.
#[derive(Debug, Clone, Args)]
pub struct AmDemoArgs {
    /// Address to listen on (the channel's `api_base_url`).
    #[arg(long, default_value = "127.0.0.1:9903")]
    pub listen: SocketAddr,
    /// Orders created at start.
    #[arg(long, default_value_t = 5)]
    pub orders: usize,
    /// Milliseconds between new orders; 0: none.
    #[arg(long, default_value_t = 3000)]
    pub interval_ms: u64,
    /// Seconds a handed-out order stays hidden unless deleted (SkyHub: 300).
    #[arg(long, default_value_t = 300)]
    pub queue_return_secs: u64,
    /// Turn off the documented per-endpoint limits.
    #[arg(long)]
    pub no_limits: bool,
}

fn order(n: usize) -> NewAmOrder {
    NewAmOrder {
        items: vec![NewAmItem {
            sku: format!("SKU-{}", 1 + n % 4),
            product_id: None,
            name: format!("Produto {}", 1 + n % 4),
            qty: 1 + i64::try_from(n % 2).unwrap_or(0),
            price_cents: 4_990 + 1_000 * i64::try_from(n % 5).unwrap_or(0),
        }],
        status: if n.is_multiple_of(3) {
            "book_product"
        } else {
            "payment_received"
        }
        .into(),
        shipping_cost_cents: 1_590,
        new_code_format: n.is_multiple_of(2),
        ..NewAmOrder::default()
    }
}

/// Serves a simulated store until Ctrl-C.
pub async fn run_americanas_demo(args: AmDemoArgs) -> Result<(), SimError> {
    let sim = AmSim::new(AmConfig {
        queue_return: Duration::from_secs(args.queue_return_secs),
        limits: !args.no_limits,
        ..AmConfig::default()
    });
    for i in 1..=4 {
        sim.add_product(&format!("SKU-{i}"), 10);
    }
    for n in 0..args.orders {
        sim.create_order(order(n));
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let server = sim.serve(listener).await;
    let cfg = sim.config();
    println!("Americanas simulator listening: {}", server.base_url());
    println!(
        "  channel: settings {{\"api_base_url\": \"{}\"}}",
        server.base_url()
    );
    println!(
        "  credentials {{\"user_email\": \"{}\", \"api_key\": \"{}\", \"account_manager_key\": \"{}\"}}",
        cfg.user_email, cfg.api_key, cfg.account_manager_key
    );
    println!("Ctrl-C to stop");
    let result = crate::server::live_until_ctrl_c(args.interval_ms, args.orders, |n| {
        let code = sim.create_order(order(n));
        println!("order {code} created");
    })
    .await;
    println!("stopping");
    server.shutdown().await;
    result
}
