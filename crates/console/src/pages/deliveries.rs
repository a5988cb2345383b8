//! Webhooks recebidos: every delivery a platform sent, newest first, with its state
//! and error; filters by channel and state; cursor pages.

use crate::format::url_encode;
use crate::pages::orders::unavailable;
use crate::render::{page, Chrome};
use crate::session::Session;
use crate::Console;
use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ponte_core::{ChannelId, DeliveryId};
use ponte_store::{Channel, Delivery, DeliveryFilter, DeliveryState, PageRequest};
use serde::Deserialize;

pub(crate) fn routes() -> Router<Console> {
    Router::new().route("/deliveries", get(list))
}

/// Deliveries per page.
const PAGE: u32 = 50;

/// Characters of a body the list shows (the rest is cut).
const BODY_SHOWN: usize = 2000;

/// Every state, in the filter's order.
const STATES: [DeliveryState; 4] = [
    DeliveryState::Received,
    DeliveryState::Processed,
    DeliveryState::Ignored,
    DeliveryState::Failed,
];

#[derive(Deserialize, Default)]
struct DeliveriesQuery {
    channel_id: Option<String>,
    state: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage<'a> {
    chrome: Chrome<'a>,
    channels: Vec<Channel>,
    states: &'static [DeliveryState],
    channel_id: String,
    state: String,
    deliveries: Vec<Delivery>,
    next: Option<String>,
}

impl DeliveriesPage<'_> {
    fn channel_name(&self, id: &ChannelId) -> String {
        self.channels
            .iter()
            .find(|c| c.id == *id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    }

    /// The start of a body (bodies are shown in the list, not whole) and whether
    /// it was cut.
    fn body_head<'b>(&self, body: &'b str) -> (&'b str, bool) {
        crate::format::head(body, BODY_SHOWN)
    }
}

async fn list(
    State(state): State<Console>,
    s: Session,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<DeliveriesQuery>,
) -> Response {
    let channel = q
        .channel_id
        .as_deref()
        .and_then(|c| c.parse::<ChannelId>().ok());
    let delivery_state = q.state.as_deref().and_then(DeliveryState::parse);
    let filter = DeliveryFilter {
        channel_id: channel,
        state: delivery_state,
        resource_id: None,
    };
    let req = PageRequest {
        cursor: q.cursor.filter(|c| c.parse::<DeliveryId>().is_ok()),
        limit: PAGE,
    };
    let loaded = async {
        let channels = state
            .engine
            .channels(s.tenant)
            .await
            .map_err(|e| e.to_string())?;
        let found = state
            .engine
            .store()
            .deliveries(s.tenant, &filter, &req)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((channels, found))
    };
    let (channels, found) = match loaded.await {
        Ok(v) => v,
        Err(e) => return unavailable(&e),
    };
    let channel_id = channel.map(|c| c.to_string()).unwrap_or_default();
    let state_name = delivery_state
        .map(|d| d.as_str().to_owned())
        .unwrap_or_default();
    let next = found.next_cursor.map(|c| {
        let mut q = format!("cursor={}", url_encode(&c));
        for (k, v) in [("channel_id", &channel_id), ("state", &state_name)] {
            if !v.is_empty() {
                q.push_str(&format!("&{k}={}", url_encode(v)));
            }
        }
        q
    });
    page(&DeliveriesPage {
        chrome: Chrome::new(&state, &s, "deliveries", &uri.to_string()),
        channels,
        states: &STATES,
        channel_id,
        state: state_name,
        deliveries: found.items,
        next,
    })
}
