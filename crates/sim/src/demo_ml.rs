//! `ponte sim mercadolivre`: a live simulated Mercado Livre seller.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::mercadolivre::{MlConfig, MlSim, NewMlItem, NewMlOrder};
use crate::SimError;

/// Options of the Mercado Livre demo.
#[derive(Debug, Clone, Args)]
pub struct MlDemoArgs {
    /// Address to listen on (the channel's `api_base_url`).
    #[arg(long, default_value = "127.0.0.1:9902")]
    pub listen: SocketAddr,
    /// Where notifications are POSTed (ponte's `{public_url}/webhooks/{channel_id}`).
    #[arg(long)]
    pub callback_url: Option<String>,
    /// The seller's user id.
    #[arg(long, default_value = "468424240")]
    pub seller_id: String,
    /// The application id (`client_id`).
    #[arg(long, default_value = "5503910054141466")]
    pub client_id: String,
    /// Orders created at start.
    #[arg(long, default_value_t = 5)]
    pub orders: usize,
    /// Milliseconds between new orders; 0: none.
    #[arg(long, default_value_t = 3000)]
    pub interval_ms: u64,
    /// Access token lifetime in seconds (ML: 6 hours).
    #[arg(long, default_value_t = 21_600)]
    pub access_ttl_secs: u64,
}

fn order(n: usize) -> NewMlOrder {
    let me1 = n % 3 == 2;
    NewMlOrder {
        items: vec![NewMlItem {
            item_id: format!("MLB{}", 1_000_000_001 + n % 4),
            variation_id: None,
            seller_sku: Some(format!("SKU-{}", 1 + n % 4)),
            title: format!("Produto {}", 1 + n % 4),
            quantity: 1 + i64::try_from(n % 2).unwrap_or(0),
            unit_price_cents: 4_990 + 1_000 * i64::try_from(n % 5).unwrap_or(0),
        }],
        mode: if me1 { "me1" } else { "me2" }.into(),
        logistic_type: if me1 { "default" } else { "drop_off" }.into(),
        shipping_cost_cents: 1_590,
        ..NewMlOrder::default()
    }
}

/// Serves a simulated seller until Ctrl-C.
pub async fn run_ml_demo(args: MlDemoArgs) -> Result<(), SimError> {
    let sim = MlSim::new(MlConfig {
        seller_id: args.seller_id.clone(),
        client_id: args.client_id.clone(),
        callback_url: args.callback_url.clone(),
        access_ttl: Duration::from_secs(args.access_ttl_secs),
        ..MlConfig::default()
    });
    for i in 1..=4 {
        sim.add_item(&format!("MLB{}", 1_000_000_000 + i), 10, &[]);
    }
    for n in 0..args.orders {
        sim.create_order(order(n));
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let server = sim.serve(listener).await;
    let cfg = sim.config();
    println!("Mercado Livre simulator listening: {}", server.base_url());
    println!(
        "  channel: settings {{\"seller_id\": \"{}\", \"api_base_url\": \"{}\"}}",
        cfg.seller_id,
        server.base_url()
    );
    println!(
        "  credentials {{\"client_id\": \"{}\", \"client_secret\": \"{}\", \"refresh_token\": \"{}\"}}",
        cfg.client_id, cfg.client_secret, cfg.refresh_token
    );
    println!("Ctrl-C to stop");
    let result = crate::server::live_until_ctrl_c(args.interval_ms, args.orders, |n| {
        let id = sim.create_order(order(n));
        println!("order {id} created");
    })
    .await;
    println!("stopping");
    server.shutdown().await;
    result
}
