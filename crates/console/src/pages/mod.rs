//! The pages, one module each.

mod channels;
mod deliveries;
mod errors;
mod history;
mod login;
pub(crate) mod order_actions;
pub(crate) mod orders;
mod settings;
mod stock;

use crate::Console;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;

pub(crate) fn routes() -> Router<Console> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/orders") }))
        .merge(login::routes())
        .merge(orders::routes())
        .merge(order_actions::routes())
        .merge(errors::routes())
        .merge(history::routes())
        .merge(channels::routes())
        .merge(stock::routes())
        .merge(deliveries::routes())
        .merge(settings::routes())
}
