//! `ponte tenant ...` and `ponte user ...`: administration on the database directly
//! (no running server needed), as the installation's command line.

use crate::app::{open, Opened};
use crate::config::Config;
use anyhow::Context;
use ponte_core::{Addon, Plan};
use ponte_engine::{command_line, TenantInput};

/// `ponte tenant create`.
#[derive(Debug, clap::Args)]
pub struct TenantCreateArgs {
    /// The merchant's name.
    #[arg(long)]
    pub name: String,
    /// `basico`, `avancado`, `pro` or `master`.
    #[arg(long, default_value = "basico")]
    pub plan: String,
    /// Add-ons on top of the plan (`instant_events`), repeatable.
    #[arg(long = "addon")]
    pub addons: Vec<String>,
}

async fn opened(config: &Config) -> anyhow::Result<Opened> {
    let url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    open(config, &url).await
}

/// Creates a tenant and its first admin token; prints both (the token once).
pub async fn tenant_create(config: &Config, args: TenantCreateArgs) -> anyhow::Result<()> {
    let plan: Plan = args
        .plan
        .parse()
        .map_err(|_| anyhow::anyhow!("--plan: one of basico, avancado, pro, master"))?;
    let addons = args
        .addons
        .iter()
        .map(|a| match a.as_str() {
            "instant_events" => Ok(Addon::InstantEvents),
            other => Err(anyhow::anyhow!("--addon: unknown add-on `{other}`")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let o = opened(config).await?;
    let input = TenantInput {
        name: args.name,
        plan,
        addons,
    };
    let t = o.engine.create_tenant(&command_line(), input).await?;
    let (_, token) = o
        .engine
        .create_tenant_token(t.id, Some("admin".into()))
        .await?;
    println!("tenant {} ({}, plan {})", t.id, t.name, t.plan);
    println!("admin API token (shown once): {token}");
    o.backend.close().await;
    Ok(())
}

/// Lists the tenants.
pub async fn tenant_list(config: &Config) -> anyhow::Result<()> {
    let o = opened(config).await?;
    println!(
        "{:<36}  {:<8}  {:<7}  {:<14}  name",
        "id", "plan", "enabled", "addons"
    );
    for t in o.engine.tenant_list().await? {
        let addons: Vec<&str> = t.addons.iter().map(|a| a.as_str()).collect();
        println!(
            "{:<36}  {:<8}  {:<7}  {:<14}  {}{}",
            t.id,
            t.plan,
            t.enabled,
            addons.join(","),
            t.name,
            if t.is_default { " (default)" } else { "" }
        );
    }
    o.backend.close().await;
    Ok(())
}

/// Prints a one-time link for a person to set a new password.
pub async fn reset_password(config: &Config, email: &str) -> anyhow::Result<()> {
    let o = opened(config).await?;
    let link = o
        .engine
        .password_reset_link(&command_line(), email)
        .await
        .with_context(|| format!("no person signs in with {email}"))?;
    println!("one-time link (valid 24 h): {link}");
    o.backend.close().await;
    Ok(())
}
