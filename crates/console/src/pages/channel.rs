//! A channel's page: its tabs, each at its own URL (Parâmetros da plataforma,
//! Automações, Estoque here; DE-PARA and Webhooks in their own modules), and the
//! "Integração automática" Sim/Não switch. Every form saves through the engine
//! function the API's `PATCH /channels/{id}` uses; a save answers 303 to the tab with
//! "Salvo", a refusal 422 with the form as submitted.

use crate::form::Fields;
use crate::pages::channel_form::{self, Field, FieldView, Shown, AUTOMATIONS, STOCK};
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use ponte_core::{ChannelId, ErrorCode};
use ponte_engine::{ChannelPatch, EngineError};
use ponte_store::Channel;
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    let show_tab = |tab: Tab| {
        move |st: State<Console>, s: Session, id: Path<String>, q: Query<Notice>| {
            show(st, s, id, q, tab)
        }
    };
    let save_tab = |tab: Tab| {
        move |st: State<Console>, s: Session, id: Path<String>, body: Bytes| {
            save(st, s, id, body, tab)
        }
    };
    // The tabs this module saves; DE-PARA and Webhooks have modules of their own.
    [Tab::Platform, Tab::Automations, Tab::Stock]
        .into_iter()
        .fold(Router::new(), |r, tab| {
            r.route(
                &format!("/channels/{{id}}/{}", tab.slug()),
                get(show_tab(tab)).post(save_tab(tab)),
            )
        })
        .route("/channels/{id}", get(show_tab(Tab::Platform)))
        .route("/channels/{id}/enabled", post(switch))
}

/// A channel page's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Platform,
    Automations,
    Stock,
    StatusMap,
    Webhooks,
}

impl Tab {
    /// Every tab, in the order shown.
    const ALL: [Tab; 5] = [
        Tab::Platform,
        Tab::Automations,
        Tab::Stock,
        Tab::StatusMap,
        Tab::Webhooks,
    ];

    /// Its path under the channel (`channel_tab.<slug>` names it).
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Tab::Platform => "platform",
            Tab::Automations => "automations",
            Tab::Stock => "stock",
            Tab::StatusMap => "status-map",
            Tab::Webhooks => "webhooks",
        }
    }

    fn parse(slug: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.slug() == slug)
    }

    /// The settings fields the tab edits (DE-PARA and Webhooks have their own forms).
    fn fields(self, platform: &str) -> Vec<&'static Field> {
        match self {
            Tab::Platform => channel_form::platform_fields(platform),
            Tab::Automations => AUTOMATIONS.iter().collect(),
            Tab::Stock => STOCK.iter().collect(),
            Tab::StatusMap | Tab::Webhooks => vec![],
        }
    }
}

/// What every tab shows above its own content.
pub(crate) struct Head {
    pub c: Channel,
    /// The current tab's slug.
    pub tab: &'static str,
    /// A catalogue key: what the last request did ("Salvo").
    pub notice: Option<&'static str>,
    /// Why the switch was refused.
    pub switch_error: Option<Refusal>,
    /// A refusal no field of the form is concerned by.
    pub top: Option<Refusal>,
}

impl Head {
    /// A tab's head with nothing to report yet.
    pub(crate) fn new(c: Channel, tab: Tab, notice: &Notice) -> Self {
        Head {
            c,
            tab: tab.slug(),
            notice: notice.key(),
            switch_error: None,
            top: None,
        }
    }

    /// The tabs' slugs, in order.
    pub(crate) fn tabs(&self) -> [&'static str; 5] {
        Tab::ALL.map(Tab::slug)
    }
}

/// `?saved=1` or `?created=1` after a redirect.
#[derive(Deserialize, Default)]
pub(crate) struct Notice {
    saved: Option<String>,
    created: Option<String>,
    checked: Option<String>,
}

impl Notice {
    fn key(&self) -> Option<&'static str> {
        if self.created.is_some() {
            Some("channel.created")
        } else if self.checked.is_some() {
            Some("webhooks.checked")
        } else {
            self.saved.is_some().then_some("channel.saved")
        }
    }
}

/// A titled group of fields in a form.
pub(crate) struct Group {
    /// Catalogue key of its legend.
    pub legend: &'static str,
    /// Catalogue key of what it explains, if anything.
    pub hint: Option<&'static str>,
    pub fields: Vec<FieldView>,
}

/// The settings fields, then the credentials (write-only) when there are any.
pub(crate) fn groups(
    all: Vec<FieldView>,
    legend: &'static str,
    secrets_hint: &'static str,
) -> Vec<Group> {
    let (secrets, fields): (Vec<_>, Vec<_>) = all.into_iter().partition(|f| f.kind == "secret");
    let mut out = vec![Group {
        legend,
        hint: None,
        fields,
    }];
    if !secrets.is_empty() {
        out.push(Group {
            legend: "channel.credentials",
            hint: Some(secrets_hint),
            fields: secrets,
        });
    }
    out
}

#[derive(Template)]
#[template(path = "channel_settings.html")]
struct SettingsTab<'a> {
    chrome: Chrome<'a>,
    head: Head,
    intro: &'static str,
    groups: Vec<Group>,
}

/// The tenant's channel named by the path (404 when it is not one).
pub(crate) async fn load(state: &Console, s: &Session, id: &str) -> Result<Channel, Response> {
    let Ok(id) = id.parse::<ChannelId>() else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    match state.engine.channel(s.tenant, id).await {
        Ok(c) => Ok(c),
        Err(EngineError::NotFound(_)) => Err(StatusCode::NOT_FOUND.into_response()),
        Err(e) => Err(unavailable(&e.to_string())),
    }
}

/// After a save: back to the tab, which says "Salvo".
pub(crate) fn saved(id: ChannelId, tab: Tab, what: &str) -> Response {
    Redirect::to(&format!("/console/channels/{id}/{}?{what}=1", tab.slug())).into_response()
}

async fn show(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
    tab: Tab,
) -> Response {
    let c = match load(&state, &s, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let head = Head::new(c, tab, &q);
    render(&state, &s, head, tab, None, &[], StatusCode::OK).await
}

/// A settings tab with the stored values, or the submitted ones and their refusals.
async fn render(
    state: &Console,
    s: &Session,
    head: Head,
    tab: Tab,
    submitted: Option<&Fields>,
    refusals: &[(&'static str, Refusal)],
    status: StatusCode,
) -> Response {
    let warehouses = if tab == Tab::Stock {
        match state.engine.warehouses(s.tenant).await {
            Ok(w) => w,
            Err(e) => return unavailable(&e.to_string()),
        }
    } else {
        vec![]
    };
    let chrome = Chrome::new(
        state,
        s,
        "channels",
        &format!("/console/channels/{}/{}", head.c.id, tab.slug()),
    );
    let shown = match submitted {
        Some(f) => Shown::Submitted(f),
        None => Shown::Stored(&head.c),
    };
    let fields = tab.fields(&head.c.platform);
    let views = channel_form::views(&fields, &shown, chrome.t, &warehouses, refusals);
    let (intro, legend) = match tab {
        Tab::Automations => ("channel.intro_automations", "channel_tab.automations"),
        Tab::Stock => ("channel.intro_stock", "channel_tab.stock"),
        _ => ("channel.intro_platform", "channel.settings"),
    };
    let p = SettingsTab {
        groups: groups(views, legend, "channel.credentials_replace_hint"),
        chrome,
        head,
        intro,
    };
    page_with(status, &p)
}

async fn save(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
    tab: Tab,
) -> Response {
    let form = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let c = match load(&state, &s, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let fields = tab.fields(&c.platform);
    let t = state.catalogues.get(s.lang);
    let read = channel_form::read(&fields, &form, true, t);
    let head = Head::new(c.clone(), tab, &Notice::default());
    if !read.refusals.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&state, &s, head, tab, Some(&form), &read.refusals, status).await;
    }
    let patch = ChannelPatch {
        name: read.name.clone(),
        settings: Some(serde_json::Value::Object(read.settings.clone())),
        credentials: (!read.credentials.is_empty())
            .then(|| serde_json::Value::Object(read.credentials.clone())),
        enabled: None,
    };
    match state.engine.update_channel(s.tenant, c.id, patch).await {
        Ok(_) => saved(c.id, tab, "saved"),
        Err(e) => {
            let Some(why) = Refusal::of(&e) else {
                return unavailable(&e.to_string());
            };
            let (refusals, head) = match channel_form::place(&e, &fields, &read) {
                Some(key) => (vec![(key, why)], head),
                None => (
                    vec![],
                    Head {
                        top: Some(why),
                        ..head
                    },
                ),
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &s, head, tab, Some(&form), &refusals, status).await
        }
    }
}

/// "Integração automática" Sim/Não: enables or disables the channel (seed 004).
async fn switch(
    State(state): State<Console>,
    s: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let c = match load(&state, &s, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let tab = form
        .get("tab")
        .and_then(Tab::parse)
        .unwrap_or(Tab::Platform);
    let t = state.catalogues.get(s.lang);
    let enabled = match form.get("enabled") {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(Refusal::console(
            ErrorCode::ValidationFailed,
            t.s("channel.not_an_option"),
        )),
    };
    let result = match enabled {
        Ok(on) => {
            let patch = ChannelPatch {
                enabled: Some(on),
                ..ChannelPatch::default()
            };
            match state.engine.update_channel(s.tenant, c.id, patch).await {
                Ok(_) => return saved(c.id, tab, "saved"),
                Err(e) => Refusal::of(&e).ok_or(e),
            }
        }
        Err(why) => Ok(why),
    };
    match result {
        Ok(why) => {
            let head = Head {
                switch_error: Some(why),
                ..Head::new(c, Tab::Platform, &Notice::default())
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &s, head, Tab::Platform, None, &[], status).await
        }
        Err(e) => unavailable(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Catalogues, Lang};

    #[test]
    fn every_tab_is_named_and_parses_back() {
        let c = Catalogues::load().unwrap();
        for tab in Tab::ALL {
            assert_eq!(Tab::parse(tab.slug()), Some(tab));
            for lang in [Lang::PtBr, Lang::En] {
                let key = format!("channel_tab.{}", tab.slug());
                assert_ne!(c.get(lang).s(&key), key, "{lang:?}");
            }
        }
        assert_eq!(Tab::parse("nope"), None);
    }
}
