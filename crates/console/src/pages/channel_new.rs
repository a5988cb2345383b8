//! Novo canal: a Nuvemshop or VTEX channel created through a form. The platform is
//! chosen first (a GET form, so it works without JavaScript); its settings and
//! credentials follow. Credentials are write-only: a refused form shows them empty.

use crate::form::Fields;
use crate::pages::channel::{groups, saved, Group, Tab};
use crate::pages::channel_form::{self, Shown, PLATFORMS};
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ponte_core::ErrorCode;
use ponte_engine::ChannelInput;
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/channels/new", get(form).post(create))
}

#[derive(Deserialize, Default)]
struct NewQuery {
    platform: Option<String>,
}

#[derive(Template)]
#[template(path = "channel_new.html")]
struct NewPage<'a> {
    chrome: Chrome<'a>,
    platforms: &'static [&'static str],
    platform: &'static str,
    groups: Vec<Group>,
    top: Option<Refusal>,
}

/// The platform named, if the console can create channels for it.
fn platform(name: Option<&str>) -> Option<&'static str> {
    PLATFORMS.into_iter().find(|p| Some(*p) == name)
}

async fn form(State(state): State<Console>, s: Session, Query(q): Query<NewQuery>) -> Response {
    let p = platform(q.platform.as_deref()).unwrap_or(PLATFORMS[0]);
    render(&state, &s, p, &Shown::New, &[], None, StatusCode::OK)
}

fn render(
    state: &Console,
    s: &Session,
    platform: &'static str,
    shown: &Shown<'_>,
    refusals: &[(&'static str, Refusal)],
    top: Option<Refusal>,
    status: StatusCode,
) -> Response {
    let chrome = Chrome::new(state, s, "channels", "/console/channels/new");
    let fields = channel_form::platform_fields(platform);
    let views = channel_form::views(&fields, shown, chrome.t, &[], refusals);
    let p = NewPage {
        groups: groups(views, "channel.settings", "channel.credentials_new_hint"),
        chrome,
        platforms: &PLATFORMS,
        platform,
        top,
    };
    page_with(status, &p)
}

async fn create(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let form = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let shown = Shown::Submitted(&form);
    let t = state.catalogues.get(s.lang);
    let Some(p) = platform(form.get("platform")) else {
        let why = Refusal::console(ErrorCode::UnknownPlatform, t.s("channel.not_an_option"));
        return render(&state, &s, PLATFORMS[0], &shown, &[], Some(why), refused);
    };
    let fields = channel_form::platform_fields(p);
    let read = channel_form::read(&fields, &form, false, t);
    if !read.refusals.is_empty() {
        return render(&state, &s, p, &shown, &read.refusals, None, refused);
    }
    let input = ChannelInput {
        platform: p.to_owned(),
        name: read.name.clone().unwrap_or_default(),
        settings: serde_json::Value::Object(read.settings.clone()),
        credentials: serde_json::Value::Object(read.credentials.clone()),
    };
    match state.engine.create_channel(s.tenant, input).await {
        Ok(c) => saved(c.id, Tab::Platform, "created"),
        Err(e) => match Refusal::of(&e) {
            Some(why) => match channel_form::place(&e, &fields, &read) {
                Some(key) => render(&state, &s, p, &shown, &[(key, why)], None, refused),
                None => render(&state, &s, p, &shown, &[], Some(why), refused),
            },
            None => unavailable(&e.to_string()),
        },
    }
}
