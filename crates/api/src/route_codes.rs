//! Which error codes each route can answer, added to the OpenAPI document as each
//! operation's `x-error-codes` (the codes themselves are `ponte_core::ErrorCode`,
//! listed in docs/errors.md). Every `/api` route can also answer [`API_COMMON`].

use ponte_core::ErrorCode as E;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::Operation;
use utoipa::Modify;

/// Codes every `/api/v1` route can answer.
pub(crate) const API_COMMON: &[E] = &[E::Unauthorized, E::StorageError, E::ShuttingDown];

const BODY: &[E] = &[
    E::MalformedJson,
    E::InvalidBody,
    E::UnsupportedMediaType,
    E::PayloadTooLarge,
];
/// Lists paged by an opaque id cursor.
const LIST: &[E] = &[E::InvalidQuery, E::InvalidCursor];
/// Lists paged by SKU (any text is a cursor) or not paged.
const QUERY: &[E] = &[E::InvalidQuery];
const SETTINGS: &[E] = &[
    E::UnknownSetting,
    E::InvalidSettings,
    E::ForbiddenAddress,
    E::CredentialsInUse,
    E::ValidationFailed,
];
/// Every ERP action (the rules of `ponte_core::action::decide` each action can meet
/// are listed with it).
const ACTION: &[E] = &[E::OrderNotFound, E::OrderCancelled, E::ActionConflict];

/// Per route (method, path): the codes beyond [`API_COMMON`].
pub(crate) const ROUTES: &[(&str, &str, &[&[E]])] = &[
    ("get", "/api/v1/admin/tenants", &[]),
    (
        "post",
        "/api/v1/admin/tenants",
        &[BODY, &[E::ValidationFailed, E::PlanRequired]],
    ),
    ("get", "/api/v1/admin/tenants/{id}", &[&[E::TenantNotFound]]),
    (
        "patch",
        "/api/v1/admin/tenants/{id}",
        &[
            BODY,
            &[E::TenantNotFound, E::ValidationFailed, E::PlanRequired],
        ],
    ),
    (
        "post",
        "/api/v1/admin/tenants/{id}/tokens",
        &[BODY, &[E::TenantNotFound, E::ValidationFailed]],
    ),
    ("get", "/api/v1/audit", &[LIST]),
    ("get", "/api/v1/events", &[LIST]),
    ("get", "/api/v1/webhook-endpoints", &[]),
    (
        "post",
        "/api/v1/webhook-endpoints",
        &[BODY, &[E::ValidationFailed, E::ForbiddenAddress]],
    ),
    (
        "get",
        "/api/v1/webhook-endpoints/{id}",
        &[&[E::EndpointNotFound]],
    ),
    (
        "patch",
        "/api/v1/webhook-endpoints/{id}",
        &[
            BODY,
            &[
                E::EndpointNotFound,
                E::ValidationFailed,
                E::ForbiddenAddress,
            ],
        ],
    ),
    (
        "delete",
        "/api/v1/webhook-endpoints/{id}",
        &[&[E::EndpointNotFound]],
    ),
    (
        "post",
        "/api/v1/webhook-endpoints/{id}/rotate-secret",
        &[&[E::EndpointNotFound]],
    ),
    (
        "post",
        "/api/v1/webhook-endpoints/{id}/recover",
        &[BODY, &[E::EndpointNotFound]],
    ),
    (
        "get",
        "/api/v1/webhook-endpoints/{id}/attempts",
        &[LIST, &[E::EndpointNotFound]],
    ),
    (
        "post",
        "/api/v1/webhook-endpoints/{id}/attempts/{attempt_id}/resend",
        &[&[E::EndpointNotFound, E::AttemptNotFound]],
    ),
    ("get", "/api/v1/tokens", &[]),
    ("post", "/api/v1/tokens", &[BODY, &[E::ValidationFailed]]),
    ("delete", "/api/v1/tokens/{id}", &[&[E::TokenNotFound]]),
    ("get", "/api/v1/users", &[]),
    (
        "post",
        "/api/v1/users",
        &[BODY, &[E::ValidationFailed, E::EmailTaken]],
    ),
    ("get", "/api/v1/users/{id}", &[&[E::UserNotFound]]),
    (
        "patch",
        "/api/v1/users/{id}",
        &[BODY, &[E::UserNotFound, E::ValidationFailed, E::EmailTaken]],
    ),
    ("delete", "/api/v1/users/{id}", &[&[E::UserNotFound]]),
    ("get", "/api/v1/carrier-accounts", &[]),
    (
        "post",
        "/api/v1/carrier-accounts",
        &[
            BODY,
            &[
                E::UnknownCarrier,
                E::UnknownSetting,
                E::InvalidSettings,
                E::ForbiddenAddress,
                E::ValidationFailed,
                E::CarrierAccountNameTaken,
            ],
        ],
    ),
    (
        "get",
        "/api/v1/carrier-accounts/{id}",
        &[&[E::CarrierAccountNotFound]],
    ),
    (
        "delete",
        "/api/v1/carrier-accounts/{id}",
        &[&[E::CarrierAccountNotFound]],
    ),
    ("get", "/api/v1/tickets", &[QUERY]),
    (
        "post",
        "/api/v1/tickets",
        &[BODY, &[E::ValidationFailed, E::OrderNotFound]],
    ),
    ("get", "/api/v1/tickets/{id}", &[&[E::TicketNotFound]]),
    (
        "post",
        "/api/v1/tickets/{id}/messages",
        &[
            BODY,
            &[
                E::TicketNotFound,
                E::ValidationFailed,
                E::TicketNotFromChannel,
                E::TicketClosed,
            ],
        ],
    ),
    (
        "post",
        "/api/v1/tickets/{id}/close",
        &[&[
            E::TicketNotFound,
            E::TicketNotFromChannel,
            E::TicketClosed,
            E::TicketCloseUnsupported,
        ]],
    ),
    (
        "post",
        "/api/v1/tickets/{id}/messages/{message_id}/resend",
        &[&[E::TicketNotFound]],
    ),
    ("get", "/api/v1/channels", &[]),
    (
        "post",
        "/api/v1/channels",
        &[BODY, SETTINGS, &[E::UnknownPlatform, E::PlanRequired]],
    ),
    ("get", "/api/v1/channels/{id}", &[&[E::ChannelNotFound]]),
    ("delete", "/api/v1/channels/{id}", &[&[E::ChannelNotFound]]),
    (
        "patch",
        "/api/v1/channels/{id}",
        &[
            BODY,
            SETTINGS,
            &[E::ChannelNotFound, E::CredentialsRequired, E::PlanRequired],
        ],
    ),
    (
        "get",
        "/api/v1/channels/{id}/listings",
        &[QUERY, &[E::ChannelNotFound]],
    ),
    (
        "post",
        "/api/v1/channels/{id}/listings",
        &[
            BODY,
            &[E::ChannelNotFound, E::UnknownSku, E::ValidationFailed],
        ],
    ),
    (
        "get",
        "/api/v1/channels/{id}/stock",
        &[&[E::ChannelNotFound]],
    ),
    (
        "post",
        "/api/v1/channels/{id}/stock/resync",
        &[&[E::ChannelNotFound]],
    ),
    (
        "get",
        "/api/v1/channels/{id}/prices",
        &[&[E::ChannelNotFound]],
    ),
    (
        "post",
        "/api/v1/channels/{id}/prices/resync",
        &[&[E::ChannelNotFound]],
    ),
    (
        "post",
        "/api/v1/channels/{id}/subscription/check",
        &[&[E::ChannelNotFound]],
    ),
    (
        "get",
        "/api/v1/channels/{id}/status-map",
        &[&[E::ChannelNotFound]],
    ),
    (
        "put",
        "/api/v1/channels/{id}/status-map",
        &[BODY, &[E::ChannelNotFound, E::InvalidMapping]],
    ),
    (
        "get",
        "/api/v1/channels/{id}/unmapped-statuses",
        &[&[E::ChannelNotFound]],
    ),
    (
        "get",
        "/api/v1/channels/{id}/payment-map",
        &[&[E::ChannelNotFound]],
    ),
    (
        "put",
        "/api/v1/channels/{id}/payment-map",
        &[BODY, &[E::ChannelNotFound, E::InvalidMapping]],
    ),
    (
        "get",
        "/api/v1/channels/{id}/unmapped-payments",
        &[&[E::ChannelNotFound]],
    ),
    (
        "get",
        "/api/v1/channels/{id}/customer-fields",
        &[&[E::ChannelNotFound]],
    ),
    (
        "put",
        "/api/v1/channels/{id}/customer-fields",
        &[BODY, &[E::ChannelNotFound, E::InvalidMapping]],
    ),
    (
        "post",
        "/api/v1/channels/{id}/remap",
        &[
            BODY,
            &[E::ChannelNotFound, E::ValidationFailed, E::TaskBusy],
        ],
    ),
    (
        "post",
        "/api/v1/channels/{id}/sync",
        &[
            BODY,
            &[E::ChannelNotFound, E::ValidationFailed, E::TaskBusy],
        ],
    ),
    ("get", "/api/v1/orders", &[LIST]),
    ("get", "/api/v1/orders/{id}", &[&[E::OrderNotFound]]),
    (
        "post",
        "/api/v1/orders/{id}/cancel",
        &[BODY, ACTION, &[E::AlreadyShipped]],
    ),
    (
        "post",
        "/api/v1/orders/{id}/collection-order",
        &[
            BODY,
            ACTION,
            &[
                E::OrderNotPaid,
                E::InvalidTransition,
                E::ValidationFailed,
                E::NotInvoiced,
            ],
        ],
    ),
    (
        "post",
        "/api/v1/orders/{id}/delivery",
        &[BODY, ACTION, &[E::OrderNotPaid, E::NotShipped]],
    ),
    (
        "post",
        "/api/v1/orders/{id}/invoice",
        &[
            BODY,
            ACTION,
            &[
                E::OrderNotPaid,
                E::InvalidNfeKey,
                E::InvalidNfeXml,
                E::NfeNotAuthorized,
                E::NfeXmlMismatch,
                E::InvalidInvoice,
            ],
        ],
    ),
    (
        "post",
        "/api/v1/orders/{id}/separation",
        &[BODY, ACTION, &[E::OrderNotPaid, E::InvalidTransition]],
    ),
    (
        "post",
        "/api/v1/orders/{id}/shipment",
        &[BODY, ACTION, &[E::OrderNotPaid, E::ValidationFailed]],
    ),
    (
        "post",
        "/api/v1/orders/{id}/shipment-exception",
        &[
            BODY,
            ACTION,
            &[
                E::OrderNotPaid,
                E::NotShipped,
                E::InvalidTransition,
                E::ValidationFailed,
            ],
        ],
    ),
    (
        "post",
        "/api/v1/prices",
        &[
            BODY,
            &[
                E::UnknownSku,
                E::NegativePrice,
                E::PromotionalAboveRegular,
                E::InvalidPromotionalWindow,
                E::ValidationFailed,
            ],
        ],
    ),
    ("get", "/api/v1/prices/pushes", &[LIST]),
    ("get", "/api/v1/prices/scheduled", &[LIST]),
    (
        "delete",
        "/api/v1/prices/scheduled/{id}",
        &[&[E::ScheduledPriceNotFound]],
    ),
    ("get", "/api/v1/prices/{sku}", &[&[E::ProductNotFound]]),
    (
        "post",
        "/api/v1/product-data",
        &[
            BODY,
            &[
                E::UnknownSku,
                E::InvalidGtin,
                E::InvalidNcm,
                E::InvalidMeasure,
                E::ValidationFailed,
            ],
        ],
    ),
    ("get", "/api/v1/product-data/pushes", &[LIST]),
    (
        "get",
        "/api/v1/product-data/{sku}",
        &[&[E::ProductNotFound]],
    ),
    ("get", "/api/v1/products", &[QUERY]),
    (
        "post",
        "/api/v1/products",
        &[BODY, &[E::SkuExists, E::InvalidGtin, E::ValidationFailed]],
    ),
    ("get", "/api/v1/products/{sku}", &[&[E::ProductNotFound]]),
    (
        "patch",
        "/api/v1/products/{sku}",
        &[
            BODY,
            &[E::ProductNotFound, E::InvalidGtin, E::ValidationFailed],
        ],
    ),
    ("get", "/api/v1/scheduled-tasks", &[QUERY]),
    ("get", "/api/v1/scheduled-tasks/{id}", &[&[E::TaskNotFound]]),
    (
        "patch",
        "/api/v1/scheduled-tasks/{id}",
        &[BODY, &[E::TaskNotFound, E::ValidationFailed]],
    ),
    (
        "post",
        "/api/v1/scheduled-tasks/{id}/run",
        &[&[E::TaskNotFound, E::TaskBusy]],
    ),
    (
        "get",
        "/api/v1/scheduled-tasks/{id}/runs",
        &[LIST, &[E::TaskNotFound]],
    ),
    ("get", "/api/v1/settings", &[]),
    ("patch", "/api/v1/settings", &[BODY, &[E::ValidationFailed]]),
    ("get", "/api/v1/status-sends", &[LIST]),
    (
        "post",
        "/api/v1/status-sends/resend",
        &[BODY, &[E::ChannelNotFound, E::ValidationFailed]],
    ),
    (
        "get",
        "/api/v1/status-sends/{id}",
        &[&[E::StatusSendNotFound]],
    ),
    (
        "post",
        "/api/v1/stock/movements",
        &[
            BODY,
            &[E::UnknownSku, E::UnknownWarehouse, E::ValidationFailed],
        ],
    ),
    ("get", "/api/v1/stock/pushes", &[LIST]),
    ("get", "/api/v1/stock/{sku}", &[&[E::ProductNotFound]]),
    ("get", "/api/v1/task-runs/{id}", &[&[E::TaskRunNotFound]]),
    ("get", "/api/v1/unmapped-skus", &[QUERY]),
    ("get", "/api/v1/warehouses", &[]),
    (
        "post",
        "/api/v1/warehouses",
        &[BODY, &[E::WarehouseExists, E::ValidationFailed]],
    ),
    ("get", "/api/v1/webhook-deliveries", &[LIST]),
    (
        "post",
        "/webhooks/{channel_id}",
        &[&[
            E::ChannelNotFound,
            E::MissingSignature,
            E::InvalidSignature,
            E::MalformedJson,
            E::StoreMismatch,
            E::ChannelDisabled,
            E::TenantDisabled,
            E::PayloadTooLarge,
            E::StorageError,
            E::ShuttingDown,
        ]],
    ),
];

/// The codes a route can answer, in table order without repeats; `None` for a route
/// missing from [`ROUTES`].
pub(crate) fn codes(method: &str, path: &str) -> Option<Vec<E>> {
    let (_, _, groups) = ROUTES.iter().find(|(m, p, _)| *m == method && *p == path)?;
    let common = path.starts_with("/api/").then_some(API_COMMON);
    let mut out: Vec<E> = Vec::new();
    let access = access_codes(method, path);
    for c in (common.into_iter().chain(groups.iter().copied()).flatten()).chain(&access) {
        if !out.contains(c) {
            out.push(*c);
        }
    }
    Some(out)
}

/// What a route answers for who calls it: `/api/v1/admin` refuses a tenant's token
/// (`forbidden_role`); a tenant route refuses a disabled tenant (`tenant_disabled`) and,
/// when it needs more than `viewer`, a lesser role (`forbidden_role`).
fn access_codes(method: &str, path: &str) -> Vec<E> {
    if path.starts_with("/api/v1/admin/") {
        return vec![E::ForbiddenRole];
    }
    if !path.starts_with("/api/") {
        return vec![];
    }
    let m = axum::http::Method::from_bytes(method.to_uppercase().as_bytes())
        .unwrap_or(axum::http::Method::GET);
    let mut out = vec![E::TenantDisabled];
    if crate::access::policy(&m, path).role > ponte_core::Role::Viewer {
        out.push(E::ForbiddenRole);
    }
    out
}

/// Adds `x-error-codes` to every operation.
pub(crate) struct ErrorCodes;

impl Modify for ErrorCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops: [(&str, &mut Option<Operation>); 5] = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, op) in ops {
                let (Some(op), Some(list)) = (op.as_mut(), codes(method, path)) else {
                    continue;
                };
                let names: Vec<&str> = list.iter().map(|c| c.as_str()).collect();
                op.extensions
                    .get_or_insert_with(Extensions::default)
                    .insert("x-error-codes".into(), serde_json::json!(names));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_lists_its_codes_and_every_code_is_an_answer() {
        let ops = crate::openapi::operations();
        assert!(!ops.is_empty());
        for (m, p) in &ops {
            let list = codes(m, p).unwrap_or_else(|| panic!("{m} {p} is not in ROUTES"));
            for c in list {
                assert!(c.http_status().is_some(), "{m} {p}: {c} is never answered");
            }
        }
        for (m, p, _) in ROUTES {
            assert!(
                ops.iter().any(|(om, op)| om == m && op == p),
                "{m} {p} is in ROUTES but not a route"
            );
        }
    }
}
