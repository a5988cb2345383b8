//! Who may open which console route, and which changes the audit trail records: one
//! table ([`policy`]) for every route, applied by one middleware ([`guard`]), the
//! same roles and audit kinds as the API's (`crates/api/src/access.rs`). Templates ask
//! the same table whether to show a form ([`crate::render::Chrome::may`]).

use crate::render::{page_with, Chrome};
use crate::session::{resolve, Session};
use crate::Console;
use askama::Template;
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ponte_core::Role;

/// What a route needs and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The least role that may open it; `None`: no session needed (sign-in).
    pub role: Option<Role>,
    /// The audit-trail kind a successful post records.
    pub audit: Option<&'static str>,
}

const fn public() -> Policy {
    Policy {
        role: None,
        audit: None,
    }
}

const fn needs(role: Role) -> Policy {
    Policy {
        role: Some(role),
        audit: None,
    }
}

const fn records(role: Role, kind: &'static str) -> Policy {
    Policy {
        role: Some(role),
        audit: Some(kind),
    }
}

/// The policy of a console route (its path template under `/console`). Pages read with
/// `viewer` (the audit trail, people, tokens and the new-channel form: `admin`); ERP
/// actions, resends, task runs, syncs, stock and prices `operator`; channels, settings and task
/// settings `admin`.
pub(crate) fn policy(method: &Method, path: &str) -> Policy {
    use Role::*;
    let path = path.strip_prefix("/console").unwrap_or(path);
    if matches!(path, "/login" | "/password" | "/lang/{tag}") {
        return public();
    }
    if path == "/audit"
        || path.starts_with("/people")
        || path.starts_with("/tokens")
        || path == "/channels/new"
    {
        return match (method.as_str(), path) {
            ("POST", "/channels/new") => records(Admin, "channel.created"),
            // People and tokens record their own changes (the engine knows their ids).
            _ => needs(Admin),
        };
    }
    if *method == Method::GET || *method == Method::HEAD {
        return needs(Viewer);
    }
    match path {
        "/logout" => needs(Viewer),
        "/channels/{id}/platform"
        | "/channels/{id}/automations"
        | "/channels/{id}/stock"
        | "/channels/{id}/enabled" => records(Admin, "channel.updated"),
        // The same audit actions as the API's routes for these tables.
        "/channels/{id}/status-map" => records(Admin, "channel.status_map_updated"),
        "/channels/{id}/payment-map" => records(Admin, "channel.payment_map_updated"),
        "/channels/{id}/customer-fields" => records(Admin, "channel.customer_fields_updated"),
        "/settings" => records(Admin, "settings.updated"),
        "/tasks/{id}" => records(Admin, "task.updated"),
        "/tasks/{id}/run" => records(Operator, "task.run"),
        "/tasks/sync" => records(Operator, "channel.synced"),
        "/errors/resend" | "/errors/resend-channel" => records(Operator, "status_sends.resent"),
        "/stock/resync" => records(Operator, "stock.resynced"),
        "/tickets/{id}/answer" => records(Operator, "ticket.answered"),
        "/tickets/{id}/messages/{message_id}/resend" => records(Operator, "ticket.message_resent"),
        "/prices/scheduled/{id}/cancel" => records(Operator, "price.schedule_cancelled"),
        "/channels/{id}/webhooks/check" => records(Operator, "subscription.checked"),
        "/channels/{id}/remap" => records(Operator, "channel.remapped"),
        "/webhook-endpoints" => records(Admin, "webhook_endpoint.created"),
        "/webhook-endpoints/{id}/recover" => records(Operator, "webhook_endpoint.recovered"),
        "/webhook-endpoints/{id}/attempts/{attempt_id}/resend" => {
            records(Operator, "webhook_attempt.resent")
        }
        _ => needs(Operator),
    }
}

/// Whether `role` may post to the console route `path` (a template, as in [`policy`]).
pub(crate) fn may_post(role: Role, path: &str) -> bool {
    policy(&Method::POST, path)
        .role
        .is_none_or(|needed| role.allows(needed))
}

/// Largest form kept for an audited post (they are small url-encoded forms).
const MAX_AUDITED_BODY: usize = 1024 * 1024;

/// Resolves the session (except on sign-in routes), checks the route's role (403 page
/// naming the role needed; nothing runs), runs the route, and records an audited post
/// that succeeded with the form's fields by name (the engine redacts credentials).
pub(crate) async fn guard(State(state): State<Console>, req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let policy = policy(req.method(), &template);
    let Some(needed) = policy.role else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let session = match resolve(&parts, &state).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session.caller.role.allows(needed) {
        return forbidden(&state, &session, needed);
    }
    parts.extensions.insert(session.clone());
    let Some(kind) = policy.audit else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let path_target = path_id(&template, parts.uri.path());
    let Ok(bytes) = to_bytes(body, MAX_AUDITED_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let detail = form_detail(&bytes);
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if res.status().is_client_error() || res.status().is_server_error() {
        return res;
    }
    let target = path_target.or_else(|| created_id(&res)).or_else(|| {
        detail
            .get("channel_id")
            .and_then(|c| c.as_str())
            .map(str::to_owned)
    });
    let c = &session.caller;
    state
        .engine
        .audit(c.tenant, &c.actor, kind, target, detail)
        .await;
    res
}

/// A form's fields by name (the CSRF token left out): one value as a string, a
/// repeated name as a list, a blank value as null (a blank credential is unchanged).
fn form_detail(body: &[u8]) -> serde_json::Value {
    use serde_json::{Map, Value};
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        if k == "csrf" {
            continue;
        }
        let v = if v.trim().is_empty() {
            Value::Null
        } else {
            Value::from(v.into_owned())
        };
        match out.get_mut(k.as_ref()) {
            Some(Value::Array(items)) => items.push(v),
            Some(first) => *first = Value::Array(vec![first.take(), v]),
            None => {
                out.insert(k.into_owned(), v);
            }
        }
    }
    Value::Object(out)
}

/// The value of the template's `{id}` in the path, if it has one (either may start
/// with `/console`: the nested router strips it from the path).
fn path_id(template: &str, path: &str) -> Option<String> {
    let under = |p: &'_ str| p.strip_prefix("/console").unwrap_or(p).to_owned();
    under(template)
        .split('/')
        .zip(under(path).split('/'))
        .find(|(t, _)| *t == "{id}")
        .map(|(_, p)| p.to_owned())
}

/// The id of the channel a create redirected to (`/console/channels/{id}/...`).
fn created_id(res: &Response) -> Option<String> {
    let to = res.headers().get(header::LOCATION)?.to_str().ok()?;
    let rest = to.strip_prefix("/console/channels/")?;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

#[derive(Template)]
#[template(path = "forbidden.html")]
struct ForbiddenPage<'a> {
    chrome: Chrome<'a>,
    needed: &'static str,
    role: &'static str,
}

/// 403: the page names the role needed and the session's.
fn forbidden(state: &Console, s: &Session, needed: Role) -> Response {
    let p = ForbiddenPage {
        chrome: Chrome::new(state, s, "forbidden", "/console"),
        needed: needed.as_str(),
        role: s.caller.role.as_str(),
    };
    page_with(StatusCode::FORBIDDEN, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_as_the_issue_says() {
        let p = |m: Method, path: &str| policy(&m, path);
        assert_eq!(p(Method::GET, "/console/orders").role, Some(Role::Viewer));
        assert_eq!(p(Method::GET, "/console/audit").role, Some(Role::Admin));
        assert_eq!(p(Method::POST, "/console/login").role, None);
        assert_eq!(p(Method::GET, "/console/password").role, None);
        assert_eq!(
            p(Method::POST, "/console/orders/{id}/invoice").role,
            Some(Role::Operator)
        );
        assert_eq!(
            p(Method::POST, "/console/errors/resend"),
            records(Role::Operator, "status_sends.resent")
        );
        assert_eq!(
            p(Method::POST, "/console/channels/{id}/automations"),
            records(Role::Admin, "channel.updated")
        );
        assert_eq!(
            p(Method::POST, "/console/channels/new"),
            records(Role::Admin, "channel.created")
        );
        assert_eq!(p(Method::POST, "/console/people").role, Some(Role::Admin));
        assert_eq!(
            p(Method::POST, "/console/webhook-endpoints"),
            records(Role::Admin, "webhook_endpoint.created")
        );
        assert_eq!(
            p(
                Method::POST,
                "/console/webhook-endpoints/{id}/attempts/{attempt_id}/resend"
            ),
            records(Role::Operator, "webhook_attempt.resent")
        );
        assert_eq!(
            p(Method::POST, "/console/prices/scheduled/{id}/cancel"),
            records(Role::Operator, "price.schedule_cancelled")
        );
        assert!(may_post(Role::Operator, "/webhook-endpoints/{id}/recover"));
        assert!(!may_post(Role::Operator, "/webhook-endpoints"));
        assert!(may_post(Role::Operator, "/errors/resend"));
        assert!(!may_post(Role::Viewer, "/errors/resend"));
        assert!(!may_post(Role::Operator, "/settings"));
    }

    #[test]
    fn a_form_is_recorded_by_field_name() {
        let d = form_detail(b"csrf=x&name=Loja&ids=1&ids=2&app_secret=&days=");
        assert_eq!(
            d,
            serde_json::json!({"name": "Loja", "ids": ["1", "2"], "app_secret": null, "days": null})
        );
        assert_eq!(
            path_id("/console/tasks/{id}/run", "/console/tasks/abc/run"),
            Some("abc".into())
        );
        assert_eq!(
            path_id("/console/tasks/{id}/run", "/tasks/abc/run"),
            Some("abc".into())
        );
        let r =
            axum::response::Redirect::to("/console/channels/c1/platform?created=1").into_response();
        assert_eq!(created_id(&r), Some("c1".into()));
    }
}
