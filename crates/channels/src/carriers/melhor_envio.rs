//! Melhor Envio (an aggregator). Every fact here is third-party (platforms.md "6.
//! Brazilian carriers", "Melhor Envio ... all third-party"):
//!
//! - `POST {base}/api/v2/me/shipment/tracking` with `Authorization: Bearer <OAuth2
//!   token>`, `Accept` and `Content-Type: application/json` and a `User-Agent` naming
//!   the application; body `{"orders": ["<melhor envio order id>", …]}`. So a
//!   shipment tracked through Melhor Envio carries the Melhor Envio **order id** as its
//!   tracking code (the carrier's own code comes back in `tracking`).
//! - the answer is an object keyed by order id: `{id, protocol, status, tracking,
//!   melhorenvio_tracking, created_at, paid_at, generated_at, posted_at, delivered_at,
//!   canceled_at, expired_at}`, times as `YYYY-MM-DD HH:MM:SS` (read as Brasília time:
//!   assumed). There is no event list: each milestone time present becomes one event
//!   (`posted`, `delivered`, `canceled`, `expired`).
//! - `canceled` and `expired` after the order was handed over are taken as
//!   undeliverable (assumed: the material lists the statuses, not what they mean for a
//!   parcel already posted).
//! - no per-call maximum nor rate limit is published: 50 ids per call and 2 calls per
//!   second are assumptions (the budget is the account's setting). An id the answer
//!   leaves out is reported as unknown (assumed).

use super::correios::parse_time;
use super::settings::check_secret;
use super::{Carrier, CarrierSettings, Tracked, TrackingEvent, TrackingOutcome};
use crate::http_call::{retry_after, send};
use crate::settings::from_value;
use crate::{ConfigError, Outbound, PlatformError, RateLimit};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// Ids per tracking call (assumed).
pub const MAX_ORDERS_PER_CALL: usize = 50;

/// Sent when the account's settings name no `user_agent`.
const DEFAULT_USER_AGENT: &str = "ponte (suporte@example.com)";

/// Credentials of a Melhor Envio account (sealed at rest, never shown).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MelhorEnvioCredentials {
    /// The OAuth2 access token.
    pub access_token: String,
}

impl std::fmt::Debug for MelhorEnvioCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MelhorEnvioCredentials { .. }")
    }
}

/// Validates settings with Melhor Envio's defaults.
pub(crate) fn settings(v: &serde_json::Value) -> Result<serde_json::Value, ConfigError> {
    Ok(CarrierSettings::parse(v, super::CarrierKind::MelhorEnvio)?.to_value())
}

/// Parses and checks credentials.
pub(crate) fn credentials(v: &serde_json::Value) -> Result<MelhorEnvioCredentials, ConfigError> {
    let c: MelhorEnvioCredentials = from_value(v)?;
    check_secret("access_token", &c.access_token)?;
    Ok(c)
}

/// One order of the tracking answer (third-party shape).
#[derive(Deserialize)]
struct MeOrder {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tracking: Option<String>,
    #[serde(default)]
    posted_at: Option<String>,
    #[serde(default)]
    delivered_at: Option<String>,
    #[serde(default)]
    canceled_at: Option<String>,
    #[serde(default)]
    expired_at: Option<String>,
}

/// Maps a tracking answer for `asked`: one [`Tracked`] per id asked, its milestones as
/// events oldest first.
pub fn map_answer(asked: &[String], body: &[u8]) -> Result<Vec<Tracked>, PlatformError> {
    let answer: HashMap<String, MeOrder> = serde_json::from_slice(body)
        .map_err(|e| PlatformError::permanent(format!("unreadable Melhor Envio answer: {e}")))?;
    let mut out = Vec::with_capacity(asked.len());
    for id in asked {
        let Some(o) = answer.get(id) else {
            out.push(Tracked {
                code: id.clone(),
                events: vec![],
                message: Some("not in Melhor Envio's answer".into()),
            });
            continue;
        };
        let mut events = vec![];
        for (name, at, outcome, words) in [
            (
                "posted",
                &o.posted_at,
                TrackingOutcome::InTransit,
                "Postado",
            ),
            (
                "delivered",
                &o.delivered_at,
                TrackingOutcome::Delivered,
                "Entregue",
            ),
            (
                "canceled",
                &o.canceled_at,
                TrackingOutcome::Undeliverable,
                "Cancelado",
            ),
            (
                "expired",
                &o.expired_at,
                TrackingOutcome::Undeliverable,
                "Expirado",
            ),
        ] {
            let Some(raw) = at.as_deref().filter(|s| !s.is_empty()) else {
                continue;
            };
            let Some(at) = parse_time(raw) else {
                return Err(PlatformError::permanent(format!(
                    "unreadable Melhor Envio time `{raw}`"
                )));
            };
            let description = match &o.tracking {
                Some(t) if !t.is_empty() => format!("{words} ({t})"),
                _ => words.to_owned(),
            };
            events.push(TrackingEvent {
                code: name.to_owned(),
                at,
                description,
                location: None,
                outcome,
            });
        }
        events.sort_by_key(|e| e.at);
        out.push(Tracked {
            code: id.clone(),
            message: events
                .is_empty()
                .then(|| format!("status {}", o.status.as_deref().unwrap_or("unknown"))),
            events,
        });
    }
    Ok(out)
}

/// A Melhor Envio account.
pub struct MelhorEnvio {
    settings: CarrierSettings,
    credentials: MelhorEnvioCredentials,
    http: Outbound,
}

impl MelhorEnvio {
    pub(crate) fn new(
        settings: CarrierSettings,
        credentials: MelhorEnvioCredentials,
        http: Outbound,
    ) -> Self {
        Self {
            settings,
            credentials,
            http,
        }
    }
}

fn wait(h: &reqwest::header::HeaderMap) -> Duration {
    retry_after(h).unwrap_or(Duration::from_secs(1))
}

#[async_trait]
impl Carrier for MelhorEnvio {
    fn batch_size(&self) -> usize {
        MAX_ORDERS_PER_CALL
    }

    fn rate_limit(&self) -> RateLimit {
        RateLimit {
            burst: self.settings.rate_limit_burst,
            per_sec: self.settings.rate_limit_per_sec,
        }
    }

    async fn track(&self, codes: &[String]) -> (u32, Result<Vec<Tracked>, PlatformError>) {
        let req = self
            .http
            .post(format!(
                "{}/api/v2/me/shipment/tracking",
                self.settings.api_base_url
            ))
            .bearer_auth(&self.credentials.access_token)
            .header("Accept", "application/json")
            .header(
                "User-Agent",
                self.settings
                    .user_agent
                    .as_deref()
                    .unwrap_or(DEFAULT_USER_AGENT),
            )
            .json(&serde_json::json!({ "orders": codes }));
        let (_, body) = send(req, "POST /api/v2/me/shipment/tracking".into(), wait).await;
        (1, body.and_then(|b| map_answer(codes, &b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milestones_become_events_and_unknown_ids_say_so() {
        // Shape third-party (platforms.md "Melhor Envio").
        let body = br#"{"9a1b": {"id": "9a1b", "protocol": "ORD-2026000001", "status": "delivered",
            "tracking": "AA123456789BR", "melhorenvio_tracking": "ME2600000001",
            "created_at": "2026-11-20 10:00:00", "paid_at": "2026-11-20 10:01:00",
            "generated_at": "2026-11-20 10:02:00", "posted_at": "2026-11-21 09:00:00",
            "delivered_at": "2026-11-23 15:30:00", "canceled_at": null, "expired_at": null}}"#;
        let asked = vec!["9a1b".to_owned(), "ffff".to_owned()];
        let t = map_answer(&asked, body).unwrap_or_default();
        assert_eq!(t.len(), 2);
        let e: Vec<_> = t[0]
            .events
            .iter()
            .map(|e| (e.code.as_str(), e.outcome))
            .collect();
        assert_eq!(
            e,
            [
                ("posted", TrackingOutcome::InTransit),
                ("delivered", TrackingOutcome::Delivered)
            ]
        );
        assert_eq!(
            t[0].events[1].at.to_rfc3339(),
            "2026-11-23T18:30:00+00:00",
            "Brasília time"
        );
        assert!(t[1].events.is_empty() && t[1].message.is_some());
    }
}
