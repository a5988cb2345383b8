//! The OpenAPI document, generated from the handlers and served at
//! `/api/v1/openapi.json` (a copy is committed at `docs/openapi.json`).

use crate::route_codes::ErrorCodes;
use crate::AppState;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "ponte", description = "Order and stock hub: channels, carrier accounts, orders, SAC tickets, ERP actions, status sends, webhook deliveries, outbound events (feed and webhook endpoints), tokens, people, the audit trail and (installation admin) tenants."),
    paths(
        crate::channels::create, crate::channels::list, crate::channels::show, crate::channels::update,
        crate::channels::disable, crate::carriers::create, crate::carriers::list,
        crate::carriers::show, crate::carriers::remove, crate::tickets::list, crate::tickets::create,
        crate::tickets::show, crate::tickets::answer, crate::tickets::close, crate::tickets::resend, crate::orders::list, crate::orders::show, crate::deliveries::list, crate::events::feed,
        crate::webhook_endpoints::create, crate::webhook_endpoints::list, crate::webhook_endpoints::show,
        crate::webhook_endpoints::update, crate::webhook_endpoints::remove, crate::webhook_endpoints::rotate,
        crate::webhook_endpoints::recover, crate::webhook_endpoints::attempts, crate::webhook_endpoints::resend,
        crate::webhooks::receive, crate::actions::separation, crate::actions::invoice,
        crate::actions::collection_order, crate::actions::shipment,
        crate::actions::shipment_exception, crate::actions::delivery,
        crate::actions::cancel, crate::sends::list, crate::sends::show, crate::sends::resend,
        crate::tasks::list, crate::tasks::show, crate::tasks::update, crate::tasks::run_now,
        crate::tasks::runs, crate::tasks::show_run, crate::tasks::sync, crate::tasks::settings,
        crate::tasks::update_settings, crate::stock::create_product, crate::stock::products,
        crate::stock::product, crate::stock::update_product, crate::stock::create_warehouse,
        crate::stock::warehouses, crate::stock::set_listings, crate::stock::listings,
        crate::stock::movements, crate::stock::sku_stock, crate::stock::pushes,
        crate::stock::channel_stock, crate::stock::resync, crate::stock::unmapped,
        crate::prices::write, crate::prices::sku_prices, crate::prices::scheduled, crate::prices::cancel,
        crate::prices::channel_prices, crate::prices::resync, crate::prices::pushes,
        crate::catalog::write, crate::catalog::sku_data, crate::catalog::pushes,
        crate::subscriptions::check, crate::mappings::status_map, crate::mappings::set_status_map,
        crate::mappings::unmapped_statuses, crate::remap::remap,
        crate::mappings::payment_map, crate::mappings::set_payment_map, crate::mappings::unmapped_payments,
        crate::mappings::customer_fields, crate::mappings::set_customer_fields, crate::tokens::create, crate::tokens::list,
        crate::tokens::revoke, crate::users::create, crate::users::list, crate::users::show,
        crate::users::update, crate::users::remove, crate::audit::list, crate::admin::create,
        crate::admin::list, crate::admin::show, crate::admin::update, crate::admin::create_token,
    ),
    modifiers(&Bearer, &ErrorCodes),
    tags((name = "channels"), (name = "carriers"), (name = "tickets"), (name = "orders"), (name = "order actions"), (name = "status sends"),
        (name = "webhooks"), (name = "events"), (name = "scheduled tasks"), (name = "settings"), (name = "stock"), (name = "prices"), (name = "tokens"), (name = "users"),
        (name = "audit"), (name = "admin"))
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// The API's (method, path) pairs as the document lists them.
#[cfg(test)]
pub(crate) fn operations() -> Vec<(String, String)> {
    let doc = ApiDoc::openapi();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (m, op) in [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ] {
            if op.is_some() {
                out.push((m.to_owned(), path.clone()));
            }
        }
    }
    out
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/openapi.json",
        get(|| async { Json(serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()) }),
    )
}
