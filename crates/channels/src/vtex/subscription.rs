//! The VTEX order hook: ponte configures the appKey's hook to post to the channel's
//! URL, and removes it.
//!
//! Calls (platforms.md §2 "Notifications", `VX:VTEX - Orders API.json`):
//! `GET /api/orders/hook/config` (404: no hook), `POST /api/orders/hook/config
//! {filter, hook: {url, headers}}` (creates or replaces: one hook per appKey),
//! `DELETE /api/orders/hook/config`.
//!
//! - The hook carries [`SECRET_HEADER`] = the channel's hook secret (VTEX does not sign
//!   notifications; `hook.rs` checks the header).
//! - Filter: without a sales channel `FromWorkflow` with every status of
//!   [`super::map::STATUSES`]; with one, `FromOrders` `salesChannel = "<sc>"` with
//!   `disableSingleFire` (assumption: every change of that sales channel's orders then
//!   fires, not only the first).
//! - With a target: nothing is done when the hook has exactly the target URL, the
//!   secret header and the filter; else the configuration is posted (replacing
//!   whatever hook the appKey had). VTEX pings the URL with `{"hookConfig":"ping"}`
//!   and answers 400 unless it gets 200: that is the result's error (`Permanent`).
//! - Removing: the hook is removed only when it is this channel's: its URL ends with
//!   the target's path (under any public URL) and its [`SECRET_HEADER`] is the
//!   channel's secret; any other hook is left alone.
//! - The simulator's GET renders `hook.headers`. Assumption: when a GET answer has no
//!   `headers` object at all (not rendered), the secret cannot be compared: the URL
//!   and the filter decide alone, and removing relies on the URL alone.

use super::client::VtexConnector;
use super::hook::SECRET_HEADER;
use crate::{
    CallInfo, HookTarget, HookWant, PlatformError, PlatformErrorKind, Subscribed,
    SubscriptionReport,
};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

const PATH: &str = "/api/orders/hook/config";

/// A hook filter, compared by meaning (status order and absent defaults ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Filter {
    FromWorkflow(BTreeSet<String>),
    FromOrders {
        expression: String,
        disable_single_fire: bool,
    },
}

impl Filter {
    pub(super) fn to_json(&self) -> Value {
        match self {
            Self::FromWorkflow(status) => json!({"type": "FromWorkflow", "status": status}),
            Self::FromOrders {
                expression,
                disable_single_fire,
            } => json!({
                "type": "FromOrders",
                "expression": expression,
                "disableSingleFire": disable_single_fire,
            }),
        }
    }

    /// What the hook fires on, for [`Subscribed::registered`].
    fn registered(&self) -> Vec<String> {
        match self {
            Self::FromWorkflow(status) => status.iter().cloned().collect(),
            Self::FromOrders { expression, .. } => vec![format!("FromOrders: {expression}")],
        }
    }

    /// Reads a GET answer's `filter`; `None` when it is of no known shape.
    pub(super) fn read(v: &Value) -> Option<Self> {
        match v["type"].as_str()? {
            "FromWorkflow" => {
                let status = v["status"]
                    .as_array()?
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<_>>()?;
                Some(Self::FromWorkflow(status))
            }
            "FromOrders" => Some(Self::FromOrders {
                expression: v["expression"].as_str()?.to_owned(),
                disable_single_fire: v["disableSingleFire"].as_bool().unwrap_or(false),
            }),
            _ => None,
        }
    }
}

/// The filter ponte wants for the channel.
pub(super) fn wanted_filter(conn: &VtexConnector) -> Filter {
    match &conn.settings().sales_channel {
        None => Filter::FromWorkflow(
            super::map::STATUSES
                .iter()
                .map(|(s, _)| (*s).to_owned())
                .collect(),
        ),
        Some(sc) => Filter::FromOrders {
            // A JSON string literal is a JSONata string literal: quotes are escaped.
            expression: format!("salesChannel = {}", Value::String(sc.clone())),
            disable_single_fire: true,
        },
    }
}

/// The appKey's hook as GET answers it.
#[derive(Debug)]
struct Current {
    url: String,
    /// `None` when the answer renders no headers.
    headers: Option<Map<String, Value>>,
    filter: Option<Filter>,
}

impl Current {
    /// Whether the secret header is ours; `None` when the headers are not rendered.
    fn has_secret(&self, secret: &str) -> Option<bool> {
        let headers = self.headers.as_ref()?;
        Some(
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(SECRET_HEADER) && v.as_str() == Some(secret)),
        )
    }
}

/// Makes the appKey's hook what `want` says.
pub(super) async fn reconcile(
    conn: &VtexConnector,
    target: &HookTarget,
    want: HookWant,
) -> SubscriptionReport {
    let mut calls = Vec::new();
    let result = run(conn, target, want, &mut calls).await;
    SubscriptionReport { calls, result }
}

async fn run(
    conn: &VtexConnector,
    target: &HookTarget,
    want: HookWant,
    calls: &mut Vec<CallInfo>,
) -> Result<Subscribed, PlatformError> {
    let current = get(conn, calls).await?;
    let secret = conn.hook_secret();
    if want == HookWant::Removed {
        let ours = !target.path.is_empty()
            && current.as_ref().is_some_and(|c| {
                c.url.ends_with(&target.path) && c.has_secret(secret).unwrap_or(true)
            });
        if !ours {
            return Ok(Subscribed::default());
        }
        write(conn, Method::DELETE, None, calls).await?;
        return Ok(Subscribed {
            registered: Vec::new(),
            changes: vec!["removed hook".into()],
        });
    }
    let filter = wanted_filter(conn);
    let registered = filter.registered();
    let change = match &current {
        Some(c)
            if c.url == target.url
                && c.has_secret(secret).unwrap_or(true)
                && c.filter.as_ref() == Some(&filter) =>
        {
            return Ok(Subscribed {
                registered,
                changes: Vec::new(),
            })
        }
        None => "configured hook",
        Some(c) if c.url == target.url => "reconfigured hook (filter or secret header out of date)",
        Some(c) if c.url.ends_with(&target.path) => "replaced stale hook (older public URL)",
        Some(_) => "configured hook (replaced another hook of this appKey)",
    };
    let mut headers = Map::new();
    headers.insert(SECRET_HEADER.to_owned(), Value::String(secret.to_owned()));
    let body = json!({
        "filter": filter.to_json(),
        "hook": {"url": target.url, "headers": headers},
    });
    write(conn, Method::POST, Some(&body), calls).await?;
    Ok(Subscribed {
        registered,
        changes: vec![change.to_owned()],
    })
}

/// The current hook; `None` on 404 (or an empty answer).
async fn get(
    conn: &VtexConnector,
    calls: &mut Vec<CallInfo>,
) -> Result<Option<Current>, PlatformError> {
    let (info, body) = conn.call(Method::GET, PATH, None).await;
    calls.push(info);
    let body = match body {
        Ok(b) => b,
        Err(e) if e.kind == PlatformErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| PlatformError {
        kind: PlatformErrorKind::Permanent,
        status: Some(200),
        message: format!("unreadable hook configuration: {e}"),
    })?;
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some(Current {
        url: v["hook"]["url"].as_str().unwrap_or_default().to_owned(),
        headers: v["hook"]["headers"].as_object().cloned(),
        filter: Filter::read(&v["filter"]),
    }))
}

async fn write(
    conn: &VtexConnector,
    method: Method,
    body: Option<&Value>,
    calls: &mut Vec<CallInfo>,
) -> Result<(), PlatformError> {
    let (info, result) = conn.call(method, PATH, body).await;
    calls.push(info);
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compare_by_meaning() {
        let a = Filter::read(
            &json!({"type": "FromWorkflow", "status": ["b", "a"], "expression": null}),
        );
        let b = Filter::read(&json!({"type": "FromWorkflow", "status": ["a", "b"]}));
        assert!(a.is_some() && a == b);
        let o = Filter::read(&json!({"type": "FromOrders", "expression": "x = 1"}));
        assert_eq!(
            o,
            Some(Filter::FromOrders {
                expression: "x = 1".into(),
                disable_single_fire: false
            })
        );
        assert_eq!(Filter::read(&json!({"type": "Other"})), None);
        assert_eq!(Filter::read(&Value::Null), None);
    }

    #[test]
    fn the_workflow_filter_lists_status_names() {
        let f = Filter::FromWorkflow(["payment-approved".to_owned()].into());
        assert_eq!(
            f.to_json(),
            json!({"type": "FromWorkflow", "status": ["payment-approved"]})
        );
    }
}
