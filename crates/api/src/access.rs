//! Who may call which /api/v1 route, and which calls the audit trail records: one
//! table ([`policy`]) for every route, applied by one middleware ([`guard`]).

use crate::problem::Problem;
use crate::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ponte_core::{ErrorCode, Role};
use ponte_engine::Caller;

/// The authenticated tenant, available to handlers as an extension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tenant(pub ponte_core::TenantId);

/// What a route needs and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The least role that may call it.
    pub role: Role,
    /// The audit-trail kind a successful call records.
    pub audit: Option<&'static str>,
}

const fn needs(role: Role) -> Policy {
    Policy { role, audit: None }
}

const fn records(role: Role, kind: &'static str) -> Policy {
    Policy {
        role,
        audit: Some(kind),
    }
}

/// The policy of a route (its path template under `/api/v1`, as the router matched it).
/// Reads need `viewer` (tokens, people and the audit trail: `admin`); ERP actions,
/// resends, task runs, syncs, stock, prices and webhook recover/resend `operator`; channels,
/// carrier accounts, credentials, settings, webhook endpoints, tokens and people `admin`.
pub(crate) fn policy(method: &Method, path: &str) -> Policy {
    use Role::*;
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let read = *method == Method::GET || *method == Method::HEAD;
    if path.starts_with("/tokens") || path.starts_with("/users") || path == "/audit" {
        // Tokens and people record their own changes (the engine knows their ids).
        return needs(Admin);
    }
    if read {
        return needs(Viewer);
    }
    match (method.as_str(), path) {
        ("POST", "/channels") => records(Admin, "channel.created"),
        ("PATCH", "/channels/{id}") => records(Admin, "channel.updated"),
        ("DELETE", "/channels/{id}") => records(Admin, "channel.disabled"),
        ("POST", "/carrier-accounts") => records(Admin, "carrier_account.created"),
        ("DELETE", "/carrier-accounts/{id}") => records(Admin, "carrier_account.deleted"),
        ("PATCH", "/settings") => records(Admin, "settings.updated"),
        ("PATCH", "/scheduled-tasks/{id}") => records(Admin, "task.updated"),
        ("POST", "/scheduled-tasks/{id}/run") => records(Operator, "task.run"),
        ("POST", "/channels/{id}/sync") => records(Operator, "channel.synced"),
        ("POST", "/status-sends/resend") => records(Operator, "status_sends.resent"),
        ("POST", "/tickets") => records(Operator, "ticket.created"),
        ("POST", "/tickets/{id}/messages") => records(Operator, "ticket.answered"),
        ("POST", "/tickets/{id}/close") => records(Operator, "ticket.close_requested"),
        ("POST", "/tickets/{id}/messages/{message_id}/resend") => {
            records(Operator, "ticket.message_resent")
        }
        ("POST", "/channels/{id}/stock/resync") => records(Operator, "stock.resynced"),
        ("POST", "/channels/{id}/prices/resync") => records(Operator, "prices.resynced"),
        ("POST", "/prices") => needs(Operator),
        ("DELETE", "/prices/scheduled/{id}") => records(Operator, "price.schedule_cancelled"),
        ("POST", "/channels/{id}/subscription/check") => records(Operator, "subscription.checked"),
        ("PUT", "/channels/{id}/status-map") => records(Admin, "channel.status_map_updated"),
        ("PUT", "/channels/{id}/payment-map") => records(Admin, "channel.payment_map_updated"),
        ("PUT", "/channels/{id}/customer-fields") => {
            records(Admin, "channel.customer_fields_updated")
        }
        ("POST", "/channels/{id}/remap") => records(Operator, "channel.remapped"),
        ("POST", "/webhook-endpoints") => records(Admin, "webhook_endpoint.created"),
        ("PATCH", "/webhook-endpoints/{id}") => records(Admin, "webhook_endpoint.updated"),
        ("DELETE", "/webhook-endpoints/{id}") => records(Admin, "webhook_endpoint.deleted"),
        ("POST", "/webhook-endpoints/{id}/rotate-secret") => {
            records(Admin, "webhook_endpoint.secret_rotated")
        }
        ("POST", "/webhook-endpoints/{id}/recover") => {
            records(Operator, "webhook_endpoint.recovered")
        }
        ("POST", "/webhook-endpoints/{id}/attempts/{attempt_id}/resend") => {
            records(Operator, "webhook_attempt.resent")
        }
        _ => needs(Operator),
    }
}

/// Largest body kept for an audited call (they are small JSON objects).
const MAX_AUDITED_BODY: usize = 1024 * 1024;

/// Authenticates the bearer token, checks the route's role, runs the route, and
/// records an audited call that succeeded.
pub(crate) async fn guard(State(engine): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req) else {
        return unauthorized("missing bearer token");
    };
    let caller = match engine.authenticate(token).await {
        Ok(c) => c,
        Err(e) if e.code() == ErrorCode::Unauthorized => return unauthorized(&e.to_string()),
        Err(e) => return Problem::from(e).into_response(),
    };
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let policy = policy(req.method(), &template);
    if let Err(e) = caller.require(policy.role) {
        return Problem::from(e).into_response();
    }
    let Some(kind) = policy.audit else {
        return next.run(with_caller(req, caller)).await;
    };
    let target = path_id(&template, req.uri().path());
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_AUDITED_BODY).await else {
        return Problem::new(ErrorCode::PayloadTooLarge, "body too large").into_response();
    };
    let detail = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let req = with_caller(
        Request::from_parts(parts, Body::from(bytes)),
        caller.clone(),
    );
    let res = next.run(req).await;
    if !res.status().is_success() {
        return res;
    }
    let (res, target) = match target {
        Some(t) => (res, Some(t)),
        None => created_id(res).await,
    };
    engine
        .audit(caller.tenant, &caller.actor, kind, target, detail)
        .await;
    res
}

fn with_caller(mut req: Request, caller: Caller) -> Request {
    req.extensions_mut().insert(Tenant(caller.tenant));
    req.extensions_mut().insert(caller);
    req
}

/// The bearer token of a request.
pub(crate) fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The value of the template's `{id}` in the path, if it has one.
fn path_id(template: &str, path: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| *t == "{id}")
        .map(|(_, p)| p.to_owned())
}

/// The `id` of the record a create answered, and the answer unchanged.
async fn created_id(res: Response) -> (Response, Option<String>) {
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_AUDITED_BODY).await else {
        return (Response::from_parts(parts, Body::empty()), None);
    };
    let id = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned));
    (Response::from_parts(parts, Body::from(bytes)), id)
}

pub(crate) fn unauthorized(detail: &str) -> Response {
    let mut r = Problem::new(ErrorCode::Unauthorized, detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_as_the_issue_says() {
        let p = |m: Method, path: &str| policy(&m, path).role;
        assert_eq!(p(Method::GET, "/api/v1/orders"), Role::Viewer);
        assert_eq!(
            p(Method::POST, "/api/v1/orders/{id}/invoice"),
            Role::Operator
        );
        assert_eq!(
            p(Method::POST, "/api/v1/status-sends/resend"),
            Role::Operator
        );
        assert_eq!(p(Method::POST, "/api/v1/stock/movements"), Role::Operator);
        assert_eq!(p(Method::POST, "/api/v1/prices"), Role::Operator);
        assert_eq!(p(Method::GET, "/api/v1/prices/scheduled"), Role::Viewer);
        assert_eq!(
            policy(&Method::DELETE, "/api/v1/prices/scheduled/{id}").audit,
            Some("price.schedule_cancelled")
        );
        assert_eq!(p(Method::PATCH, "/api/v1/channels/{id}"), Role::Admin);
        assert_eq!(p(Method::POST, "/api/v1/carrier-accounts"), Role::Admin);
        assert_eq!(
            p(Method::DELETE, "/api/v1/carrier-accounts/{id}"),
            Role::Admin
        );
        assert_eq!(p(Method::GET, "/api/v1/carrier-accounts"), Role::Viewer);
        assert_eq!(p(Method::GET, "/api/v1/tickets/{id}"), Role::Viewer);
        assert_eq!(
            p(Method::POST, "/api/v1/tickets/{id}/messages"),
            Role::Operator
        );
        assert_eq!(p(Method::GET, "/api/v1/tokens"), Role::Admin);
        assert_eq!(p(Method::DELETE, "/api/v1/users/{id}"), Role::Admin);
        assert_eq!(
            path_id("/api/v1/channels/{id}/sync", "/api/v1/channels/abc/sync"),
            Some("abc".into())
        );
        assert_eq!(path_id("/api/v1/channels", "/api/v1/channels"), None);
    }
}
