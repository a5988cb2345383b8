//! Configurações: the tenant's settings (automatic cancellation of orders awaiting
//! payment after a number of days) and, read only, the console's time zone.

use crate::form::{Fields, Form};
use crate::pages::orders::unavailable;
use crate::refusal::Refusal;
use crate::render::{page_with, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use ponte_core::ErrorCode;
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/settings", get(show).post(save))
}

/// The field of the automatic cancellation (days; blank: never).
const DAYS: &str = "auto_cancel_days";

#[derive(Deserialize, Default)]
struct SettingsQuery {
    /// The settings were just saved.
    saved: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    chrome: Chrome<'a>,
    form: Form,
    saved: bool,
    time_zone: &'static str,
}

async fn show(
    State(state): State<Console>,
    s: Session,
    Query(q): Query<SettingsQuery>,
) -> Response {
    let settings = match state.engine.tenant_settings(s.tenant).await {
        Ok(v) => v,
        Err(e) => return unavailable(&e.to_string()),
    };
    let mut form = Form::default();
    if let Some(days) = settings.auto_cancel_awaiting_payment_after_days {
        form.set(DAYS, days.to_string());
    }
    render(&state, &s, form, q.saved.is_some(), StatusCode::OK)
}

fn render(state: &Console, s: &Session, form: Form, saved: bool, status: StatusCode) -> Response {
    page_with(
        status,
        &SettingsPage {
            chrome: Chrome::new(state, s, "settings", "/console/settings"),
            form,
            saved,
            time_zone: state.time_zone.name(),
        },
    )
}

/// Saves the days (blank clears them: never cancel); a refusal shows next to the
/// field (422) and changes nothing.
async fn save(State(state): State<Console>, s: Session, body: Bytes) -> Response {
    let f = match Fields::checked(&s, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let mut form = Form::default();
    let days = match f.get(DAYS) {
        None => Some(serde_json::Value::Null),
        Some(v) => {
            form.set(DAYS, v);
            v.parse::<u32>().ok().map(serde_json::Value::from)
        }
    };
    let Some(days) = days else {
        let t = state.catalogues.get(s.lang);
        let why = Refusal::console(ErrorCode::ValidationFailed, t.s("settings.whole_days"));
        form.refuse(DAYS, why);
        return render(&state, &s, form, false, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let changes = serde_json::json!({ "auto_cancel_awaiting_payment_after_days": days });
    match state.engine.update_tenant_settings(s.tenant, changes).await {
        Ok(_) => Redirect::to("/console/settings?saved=1").into_response(),
        Err(e) => match Refusal::of(&e) {
            Some(why) => {
                form.refuse(DAYS, why);
                render(&state, &s, form, false, StatusCode::UNPROCESSABLE_ENTITY)
            }
            None => unavailable(&e.to_string()),
        },
    }
}
