//! The pages, one module each.

mod audit;
mod channel;
mod channel_customer_fields;
mod channel_form;
mod channel_new;
mod channel_payment_map;
mod channel_status_map;
mod channel_webhooks;
mod channels;
mod deliveries;
mod errors;
mod history;
pub(crate) mod login;
pub(crate) mod order_actions;
pub(crate) mod orders;
mod password;
mod people;
mod prices;
mod settings;
mod stock;
mod task_runs;
mod tasks;
mod tickets;
mod tokens;
mod webhook_endpoint;
mod webhook_endpoints;

use crate::Console;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/orders") }))
        .merge(login::routes())
        .merge(password::routes())
        .merge(orders::routes())
        .merge(order_actions::routes())
        .merge(errors::routes())
        .merge(history::routes())
        .merge(tickets::routes())
        .merge(channels::routes())
        .merge(channel_new::routes())
        .merge(channel::routes())
        .merge(channel_status_map::routes())
        .merge(channel_webhooks::routes())
        .merge(tasks::routes())
        .merge(task_runs::routes())
        .merge(stock::routes())
        .merge(prices::routes())
        .merge(deliveries::routes())
        .merge(settings::routes())
        .merge(audit::routes())
        .merge(people::routes())
        .merge(tokens::routes())
        .merge(webhook_endpoints::routes())
        .merge(webhook_endpoint::routes())
}
