//! HTTP routes. Handlers translate between HTTP and the engine; nothing else.

mod access;
mod actions;
mod admin;
mod audit;
mod carriers;
mod catalog;
mod channels;
mod deliveries;
mod events;
mod json_body;
mod mappings;
mod openapi;
mod ops;
mod orders;
mod prices;
mod problem;
mod remap;
mod route_codes;
mod sends;
mod stock;
mod subscriptions;
mod tasks;
mod tickets;
mod tokens;
mod users;
mod webhook_endpoints;
mod webhooks;

pub use openapi::openapi_json;
pub use problem::Problem;

use axum::Router;
use ponte_engine::Engine;
use std::sync::Arc;

/// Shared handler state.
pub(crate) type AppState = Arc<Engine>;

/// Largest webhook body accepted (Nuvemshop sends ~100 bytes).
pub const MAX_WEBHOOK_BODY: usize = 64 * 1024;

/// The whole HTTP application, `/metrics` included.
pub fn router(engine: Arc<Engine>) -> Router {
    app(engine, true)
}

/// The HTTP application without `/metrics` (served on its own listener by
/// [`metrics_router`]).
pub fn router_without_metrics(engine: Arc<Engine>) -> Router {
    app(engine, false)
}

/// `/metrics` alone, for a listener of its own; every other path is 404.
pub fn metrics_router(engine: Arc<Engine>) -> Router {
    ops::metrics_route().fallback(not_found).with_state(engine)
}

fn app(engine: Arc<Engine>, with_metrics: bool) -> Router {
    let api = Router::new()
        .merge(channels::routes())
        .merge(carriers::routes())
        .merge(tickets::routes())
        .merge(mappings::routes())
        .merge(remap::routes())
        .merge(orders::routes())
        .merge(actions::routes())
        .merge(sends::routes())
        .merge(deliveries::routes())
        .merge(events::routes())
        .merge(webhook_endpoints::routes())
        .merge(tasks::routes())
        .merge(stock::routes())
        .merge(prices::routes())
        .merge(catalog::routes())
        .merge(subscriptions::routes())
        .merge(tokens::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(openapi::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            engine.clone(),
            access::guard,
        ));
    let admin = admin::routes().route_layer(axum::middleware::from_fn_with_state(
        engine.clone(),
        admin::guard,
    ));
    let mut app = Router::new()
        .nest("/api/v1/admin", admin)
        .nest("/api/v1", api)
        .merge(webhooks::routes())
        .merge(ops::probes());
    if with_metrics {
        app = app.merge(ops::metrics_route());
    }
    app.fallback(not_found).with_state(engine)
}

async fn not_found() -> Problem {
    Problem::new(ponte_core::ErrorCode::NotFound, "no such route")
}
