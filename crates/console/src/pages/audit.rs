//! Auditoria (admin): who changed what and when, newest first; filters by actor, kind
//! and period (whole days in the tenant's zone, as the other lists), cursor pages.

use crate::pages::orders::unavailable;
use crate::render::{page, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ponte_core::AuditId;
use ponte_store::{AuditEntry, AuditFilter, PageRequest};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/audit", get(list))
}

/// Entries per page.
const PAGE: u32 = 50;

/// Every kind of change the trail records (the console's and the API's), as filtered.
pub(crate) const KINDS: [&str; 21] = [
    "channel.created",
    "channel.updated",
    "channel.disabled",
    "channel.synced",
    "subscription.checked",
    "status_sends.resent",
    "task.run",
    "task.updated",
    "stock.resynced",
    "prices.resynced",
    "settings.updated",
    "token.created",
    "token.revoked",
    "user.created",
    "user.updated",
    "user.deleted",
    "user.password_reset_link",
    "user.password_set",
    "tenant.created",
    "tenant.updated",
    "tenant.plan_changed",
];

#[derive(Deserialize, Default)]
struct AuditQuery {
    actor: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

impl AuditQuery {
    fn filter(&self, tz: chrono_tz::Tz) -> AuditFilter {
        let day = |d: &Option<String>, plus| crate::format::day_start(d.as_deref()?, plus, tz);
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        AuditFilter {
            actor: text(&self.actor),
            kind: text(&self.kind),
            from: day(&self.from, 0),
            to: day(&self.to, 1),
        }
    }

    /// The query string without the cursor (the pager's link).
    fn query_string(&self) -> String {
        [
            ("actor", &self.actor),
            ("kind", &self.kind),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_deref().filter(|v| !v.is_empty())?;
            Some(format!("{k}={}", crate::format::url_encode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    chrome: Chrome<'a>,
    kinds: &'static [&'static str],
    q: AuditQuery,
    query: String,
    entries: Vec<AuditEntry>,
    next: Option<String>,
}

impl AuditPage<'_> {
    fn sel(&self, option: &str) -> bool {
        self.q.kind.as_deref() == Some(option)
    }

    /// What changed, as recorded (credentials already replaced by the engine).
    fn detail(&self, e: &AuditEntry) -> String {
        match &e.detail {
            serde_json::Value::Null => String::new(),
            d => d.to_string(),
        }
    }
}

async fn list(State(state): State<Console>, s: Session, Query(q): Query<AuditQuery>) -> Response {
    let filter = q.filter(state.time_zone);
    let req = PageRequest {
        cursor: q.cursor.clone().filter(|c| c.parse::<AuditId>().is_ok()),
        limit: PAGE,
    };
    let found = match state.engine.audit_trail(s.tenant, &filter, &req).await {
        Ok(p) => p,
        Err(e) => return unavailable(&e.to_string()),
    };
    let p = AuditPage {
        chrome: Chrome::new(&state, &s, "audit", "/console/audit"),
        kinds: &KINDS,
        query: q.query_string(),
        q,
        entries: found.items,
        next: found.next_cursor,
    };
    page(&p)
}

#[cfg(test)]
mod tests {
    use super::KINDS;
    use crate::i18n::{Catalogues, Lang};
    use ponte_core::Role;

    #[test]
    fn every_kind_role_and_actor_is_named_in_both_languages() {
        let c = Catalogues::load().unwrap();
        for lang in [Lang::PtBr, Lang::En] {
            let t = c.get(lang);
            let names = KINDS.iter().map(|k| ("audit_kind", *k));
            let roles = Role::ALL.iter().map(|r| ("role", r.as_str()));
            let actors = ["token", "user", "installation_admin", "cli"]
                .into_iter()
                .map(|a| ("actor_kind", a));
            for (prefix, name) in names.chain(roles).chain(actors) {
                let key = format!("{prefix}.{name}");
                assert_ne!(t.s(&key), key, "{lang:?}");
            }
        }
    }
}
