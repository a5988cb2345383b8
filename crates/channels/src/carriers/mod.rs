//! Carriers: one module per carrier behind the [`Carrier`] trait. A carrier account
//! (a tenant's contract with a carrier: settings and sealed credentials) builds a
//! [`Carrier`] that reads the tracking of many shipments per call.
//!
//! Facts: `docs/platforms.md` "6. Brazilian carriers"; what the material marks
//! third-party or unverified is marked so in each module.

pub mod correios;
pub mod melhor_envio;
mod settings;

use crate::{ConfigError, Outbound, PlatformError, RateLimit};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

pub use settings::CarrierSettings;

/// What a tracking event means for the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackingOutcome {
    /// Posted, in transit, out for delivery, waiting at a pickup point.
    InTransit,
    /// Delivered to the addressee: final.
    Delivered,
    /// The carrier could not deliver (failed attempt, refused, wrong address,
    /// cancelled at the carrier).
    Undeliverable,
    /// On its way back to the sender.
    Returned,
}

impl TrackingOutcome {
    /// API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InTransit => "in_transit",
            Self::Delivered => "delivered",
            Self::Undeliverable => "undeliverable",
            Self::Returned => "returned",
        }
    }
}

/// One event of a shipment, as the carrier reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackingEvent {
    /// The carrier's event code (Correios `BDE/01`; Melhor Envio the milestone name).
    pub code: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The carrier's words.
    pub description: String,
    /// Where, when given (`city/UF`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What it means.
    pub outcome: TrackingOutcome,
}

impl TrackingEvent {
    /// What makes the event itself: the same code at the same instant is the same
    /// event, however often it is read.
    pub fn key(&self) -> String {
        format!("{}@{}", self.code, self.at.timestamp_micros())
    }
}

/// What the carrier said about one tracking code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// The code asked for.
    pub code: String,
    /// Its events, oldest first (empty when the carrier does not know it yet).
    pub events: Vec<TrackingEvent>,
    /// The carrier's message when it does not know the code.
    pub message: Option<String>,
}

/// A carrier account's link to its carrier.
#[async_trait]
pub trait Carrier: Send + Sync {
    /// Most codes one tracking call may ask for.
    fn batch_size(&self) -> usize;
    /// The account's request budget, shared by every instance.
    fn rate_limit(&self) -> RateLimit;
    /// The tracking of `codes` (at most [`Carrier::batch_size`]), one [`Tracked`] per
    /// code the carrier answered for; and how many HTTP calls it took.
    async fn track(&self, codes: &[String]) -> (u32, Result<Vec<Tracked>, PlatformError>);
}

/// The carriers ponte knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierKind {
    /// Correios, API Rastro (CWS).
    Correios,
    /// Melhor Envio (an aggregator; tracks its own order ids).
    MelhorEnvio,
}

impl CarrierKind {
    /// Every carrier.
    pub const ALL: [CarrierKind; 2] = [Self::Correios, Self::MelhorEnvio];

    /// API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Correios => "correios",
            Self::MelhorEnvio => "melhor_envio",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Validates settings (unknown keys refused) and returns them with defaults.
    pub fn validate_settings(
        self,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, ConfigError> {
        match self {
            Self::Correios => correios::settings(settings),
            Self::MelhorEnvio => melhor_envio::settings(settings),
        }
    }

    /// Validates credentials (unknown keys refused).
    pub fn validate_credentials(self, credentials: &serde_json::Value) -> Result<(), ConfigError> {
        match self {
            Self::Correios => correios::credentials(credentials).map(|_| ()),
            Self::MelhorEnvio => melhor_envio::credentials(credentials).map(|_| ()),
        }
    }

    /// The base URL validated settings make ponte call (credentials go there only).
    pub fn base_url(self, settings: &serde_json::Value) -> Result<String, ConfigError> {
        Ok(CarrierSettings::parse(settings, self)?.api_base_url)
    }

    /// Builds the account's carrier.
    pub fn connect(
        self,
        settings: &serde_json::Value,
        credentials: &serde_json::Value,
        http: Outbound,
    ) -> Result<Arc<dyn Carrier>, ConfigError> {
        let s = CarrierSettings::parse(settings, self)?;
        Ok(match self {
            Self::Correios => Arc::new(correios::Correios::new(
                s,
                correios::credentials(credentials)?,
                http,
            )),
            Self::MelhorEnvio => Arc::new(melhor_envio::MelhorEnvio::new(
                s,
                melhor_envio::credentials(credentials)?,
                http,
            )),
        })
    }
}

/// Whether a shipment's carrier name (the ERP's free text: "Correios", "SEDEX",
/// "Melhor Envio") names `kind`.
pub fn names(kind: CarrierKind, carrier: &str) -> bool {
    let n: String = carrier
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    match kind {
        CarrierKind::Correios => n.contains("correios") || n == "sedex" || n == "pac",
        CarrierKind::MelhorEnvio => n.contains("melhorenvio"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_names_match_loosely() {
        assert!(names(CarrierKind::Correios, "Correios"));
        assert!(names(CarrierKind::Correios, "SEDEX"));
        assert!(names(CarrierKind::MelhorEnvio, "Melhor Envio"));
        assert!(names(CarrierKind::MelhorEnvio, "melhor_envio"));
        assert!(!names(CarrierKind::Correios, "Jadlog"));
    }
}
