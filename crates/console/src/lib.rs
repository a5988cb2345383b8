//! The operator console at `/console`: server-rendered pages (askama templates, htmx for
//! partial updates, every asset embedded), in Portuguese by default and English on
//! request. Handlers call the engine as the API does; no business logic, no SQL.

mod access;
mod assets;
mod form;
mod format;
mod i18n;
mod pages;
mod refusal;
mod render;
mod security;
mod session;

pub use i18n::{Catalogue, Lang};

use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use ponte_engine::Engine;
use std::sync::Arc;

/// What the console needs besides the engine.
#[derive(Clone)]
pub struct ConsoleConfig {
    /// Signs session cookies (derive it from the master key so that every instance
    /// accepts every other's sessions).
    pub session_key: [u8; 32],
    /// Mark cookies `Secure` (ponte is reached over https).
    pub secure_cookies: bool,
    /// Dates are shown in this time zone.
    pub time_zone: chrono_tz::Tz,
}

/// Shared handler state.
#[derive(Clone)]
pub(crate) struct Console {
    pub engine: Arc<Engine>,
    pub catalogues: Arc<i18n::Catalogues>,
    pub keys: Arc<session::Keys>,
    pub secure_cookies: bool,
    pub time_zone: chrono_tz::Tz,
}

/// The console's routes (`/console/...`) and `/` redirecting to it. Fails only if the
/// embedded message catalogues do not parse (a test keeps them parsing).
pub fn router(engine: Arc<Engine>, config: ConsoleConfig) -> Result<Router, toml::de::Error> {
    let state = Console {
        engine,
        catalogues: Arc::new(i18n::Catalogues::load()?),
        keys: Arc::new(session::Keys::new(&config.session_key)),
        secure_cookies: config.secure_cookies,
        time_zone: config.time_zone,
    };
    let console = pages::routes()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::guard,
        ))
        .merge(assets::routes())
        .layer(axum::middleware::from_fn(security::headers));
    Ok(Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .nest("/console", console)
        .with_state(state))
}
