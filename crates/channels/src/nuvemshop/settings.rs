//! Nuvemshop channel settings and credentials.

use crate::settings::{check_rate_limit, from_value};
use crate::ConfigError;
use ponte_core::import::ImportPolicy;
use ponte_core::status_rules::StatusRule;
use serde::{Deserialize, Serialize};

/// The real API's base URL (`TN:README.md`); settings may point elsewhere.
pub const DEFAULT_API_BASE_URL: &str = "https://api.nuvemshop.com.br/v1";

/// Documented form `AppName (contact)`; a missing User-Agent gets 400.
const DEFAULT_USER_AGENT: &str = "ponte (https://github.com/ponte-hub/ponte)";

/// Settings of a Nuvemshop channel. Unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuvemshopSettings {
    /// The store id (`user_id` of the OAuth answer).
    #[serde(deserialize_with = "string_or_number")]
    pub store_id: String,
    /// API base, without the store id.
    #[serde(default = "default_base")]
    pub api_base_url: String,
    /// Which orders to import.
    #[serde(default)]
    pub import_policy: ImportPolicy,
    /// User-Agent sent on every call.
    #[serde(default = "default_ua")]
    pub user_agent: String,
    /// Requests per second this app may make to the store: 2 by default (leaky bucket
    /// leaking 2/s, `TN:README.md`); 20 on Next/Evolution plans (x10).
    #[serde(default = "default_rate")]
    pub rate_limit_per_sec: f64,
    /// Requests that may be made at once: the bucket size, 40 by default (400 on x10 plans).
    #[serde(default = "default_burst")]
    pub rate_limit_burst: f64,
    /// Status table overrides (DE-PARA), tried before the default table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_map: Vec<StatusRule>,
    /// Which API status sends use for separation, shipment and delivery.
    #[serde(default)]
    pub shipping_api: ShippingApi,
}

/// The API that takes separation, shipment and delivery (platforms.md §1 and its
/// addendum "Fulfillment Order API (version 2025-03)").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShippingApi {
    /// The Fulfillment Order resource: the 2025-03 docs moved shipping there
    /// (`PATCH /orders/{id}/fulfillment-orders/{fo_id}`, tracking events).
    #[default]
    FulfillmentOrders,
    /// Legacy `POST /orders/{id}/pack` and `/fulfill`, dropped from the 2025-03 Order
    /// page; whether they still answer in production is not stated anywhere found, so
    /// they are kept only behind this flag. No delivery endpoint.
    Legacy,
}

fn default_base() -> String {
    DEFAULT_API_BASE_URL.to_owned()
}

fn default_rate() -> f64 {
    2.0
}

fn default_burst() -> f64 {
    40.0
}

fn default_ua() -> String {
    DEFAULT_USER_AGENT.to_owned()
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom(
            "must be a non-empty string or number",
        )),
    }
}

impl NuvemshopSettings {
    /// Parses and checks settings.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let s: Self = from_value(v)?;
        if !s.store_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConfigError::Invalid(
                "store_id must be the numeric store id".into(),
            ));
        }
        check_rate_limit(s.rate_limit_per_sec, s.rate_limit_burst)?;
        if !(s.api_base_url.starts_with("https://") || s.api_base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid(
                "api_base_url must be an http(s) URL".into(),
            ));
        }
        Ok(Self {
            api_base_url: s.api_base_url.trim_end_matches('/').to_owned(),
            ..s
        })
    }
}

/// Credentials of a Nuvemshop channel.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NuvemshopCredentials {
    /// OAuth access token (does not expire).
    pub access_token: String,
    /// The app's secret, which signs webhooks.
    pub app_secret: String,
}

impl std::fmt::Debug for NuvemshopCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NuvemshopCredentials { .. }")
    }
}

impl NuvemshopCredentials {
    /// Parses and checks credentials.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let c: Self = from_value(v)?;
        if c.access_token.is_empty() || c.app_secret.is_empty() {
            return Err(ConfigError::Invalid(
                "access_token and app_secret must not be empty".into(),
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_unknown_keys() {
        let s = NuvemshopSettings::parse(&json!({"store_id": 123456}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.store_id, "123456");
        assert_eq!(s.api_base_url, DEFAULT_API_BASE_URL);
        assert_eq!(s.import_policy, ImportPolicy::PaidOnly);
        assert_eq!(s.shipping_api, ShippingApi::FulfillmentOrders);
        assert_eq!(
            NuvemshopSettings::parse(&json!({"store_id": "1", "colour": "blue"})),
            Err(ConfigError::UnknownKey("colour".into()))
        );
        assert!(NuvemshopSettings::parse(&json!({"store_id": "abc"})).is_err());
        assert!(NuvemshopSettings::parse(&json!({})).is_err());
        assert!(
            NuvemshopSettings::parse(&json!({"store_id": "1", "import_policy": "some"})).is_err()
        );
        assert!(
            NuvemshopSettings::parse(&json!({"store_id": "1", "shipping_api": "graphql"})).is_err()
        );
        assert!(NuvemshopCredentials::parse(&json!({"access_token": "a"})).is_err());
        let c = NuvemshopCredentials::parse(
            &json!({"access_token": "tok-123", "app_secret": "sec-456"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("tok-123") && !shown.contains("sec-456"),
            "credentials never in logs"
        );
    }

    #[test]
    fn shipping_api_round_trips() {
        let s = NuvemshopSettings::parse(&json!({"store_id": "1", "shipping_api": "legacy"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.shipping_api, ShippingApi::Legacy);
        let v = serde_json::to_value(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["shipping_api"], "legacy");
        let d =
            NuvemshopSettings::parse(&json!({"store_id": "1"})).unwrap_or_else(|e| panic!("{e}"));
        let v = serde_json::to_value(&d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["shipping_api"], "fulfillment_orders");
        assert_eq!(
            NuvemshopSettings::parse(&v),
            Ok(d),
            "defaults filled in parse again"
        );
    }
}
