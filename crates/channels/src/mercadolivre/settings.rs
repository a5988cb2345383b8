//! Mercado Livre channel settings and credentials (issue 18 item 1; platforms.md §3
//! "Auth" and the addendum "2. Mercado Livre").

use crate::settings::{check_rate_limit, from_value};
use crate::ConfigError;
use ponte_core::import::ImportPolicy;
use ponte_core::status_rules::StatusRule;
use serde::{Deserialize, Serialize};

/// The documented API host (every example of the developer pages).
pub const DEFAULT_BASE_URL: &str = "https://api.mercadolibre.com";

/// The site of Mercado Livre Brasil.
pub const DEFAULT_SITE: &str = "MLB";

/// Settings of a Mercado Livre channel. Unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlSettings {
    /// The seller's user id: notifications must carry it as `user_id`, and
    /// `GET /orders/search?seller=` lists its orders.
    pub seller_id: String,
    /// The site (`MLB` by default): `siteId` of the NF-e upload, the billing-info path
    /// and the `service_id` of seller notifications.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Overrides the base URL (the simulator); default [`DEFAULT_BASE_URL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// Which orders to import.
    #[serde(default)]
    pub import_policy: ImportPolicy,
    /// Status table overrides (DE-PARA), tried before the default table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_map: Vec<StatusRule>,
    /// The account keeps multi-origin stock (tag `warehouse_management`): stock goes to
    /// `PUT /user-products/{id}/stock/type/seller_warehouse` at `stock_store_id`,
    /// never `available_quantity` (addendum "Stock").
    #[serde(default)]
    pub warehouse_management: bool,
    /// The seller warehouse (`store_id`) stock is written to when
    /// `warehouse_management` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_store_id: Option<String>,
    /// Requests per second ponte allows itself. ML publishes no quota (addendum
    /// "Rate limits": control is per application, back off on 429), so the default
    /// is a cautious 5/s (assumption).
    #[serde(default = "default_rate")]
    pub rate_limit_per_sec: f64,
    /// Requests that may be made at once.
    #[serde(default = "default_burst")]
    pub rate_limit_burst: f64,
}

fn default_site() -> String {
    DEFAULT_SITE.to_owned()
}

fn default_rate() -> f64 {
    5.0
}

fn default_burst() -> f64 {
    10.0
}

/// Sites and the `service_id` their seller notifications carry (addendum "ME1").
pub const SERVICE_IDS: &[(&str, u64)] = &[
    ("MLB", 11),
    ("MLA", 154),
    ("MLM", 231_876),
    ("MLC", 282_578),
    ("MCO", 282_579),
    ("MLU", 282_604),
    ("MPE", 361_180),
];

impl MlSettings {
    /// Parses and checks settings.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let s: Self = from_value(v)?;
        if s.seller_id.is_empty()
            || s.seller_id.len() > 20
            || !s.seller_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(ConfigError::Invalid(
                "seller_id must be the seller's numeric user id".into(),
            ));
        }
        if !SERVICE_IDS.iter().any(|(site, _)| *site == s.site_id) {
            return Err(ConfigError::Invalid(format!(
                "site_id must be one of {}",
                SERVICE_IDS
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if s.warehouse_management && s.stock_store_id.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::Invalid(
                "warehouse_management needs stock_store_id (the seller warehouse)".into(),
            ));
        }
        check_rate_limit(s.rate_limit_per_sec, s.rate_limit_burst)?;
        if let Some(u) = &s.api_base_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(ConfigError::Invalid(
                    "api_base_url must be an http(s) URL".into(),
                ));
            }
        }
        Ok(Self {
            api_base_url: s
                .api_base_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            ..s
        })
    }

    /// The API base URL.
    pub fn base_url(&self) -> String {
        self.api_base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
    }

    /// The `service_id` of this site's seller notifications.
    pub fn service_id(&self) -> u64 {
        SERVICE_IDS
            .iter()
            .find(|(s, _)| *s == self.site_id)
            .map_or(11, |(_, id)| *id)
    }
}

/// Credentials of a Mercado Livre channel: the application (`client_id` is also the
/// `application_id` of notifications) and the seller's OAuth grant. The refresh token
/// rotates: each refresh returns a new one and the old one stops working.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlCredentials {
    /// The application id (`APP_ID`).
    pub client_id: String,
    /// The application secret.
    pub client_secret: String,
    /// The seller's current refresh token.
    pub refresh_token: String,
    /// The current access token, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// When `access_token` expires (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Set while one instance renews the tokens (a claim taken by compare-and-set;
    /// the others wait for its result until then). ponte writes it; never needed in
    /// a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshing_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for MlCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MlCredentials { .. }")
    }
}

impl MlCredentials {
    /// Parses and checks credentials.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let c: Self = from_value(v)?;
        if c.client_id.is_empty() || !c.client_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid(
                "client_id must be the numeric application id".into(),
            ));
        }
        if c.client_secret.is_empty() || c.refresh_token.is_empty() {
            return Err(ConfigError::Invalid(
                "client_secret and refresh_token must not be empty".into(),
            ));
        }
        if c.access_token.as_deref().is_some_and(str::is_empty) {
            return Err(ConfigError::Invalid(
                "access_token must not be empty when given".into(),
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
    fn defaults_and_base_url() {
        let s =
            MlSettings::parse(&json!({"seller_id": "468424240"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.base_url(), DEFAULT_BASE_URL);
        assert_eq!(s.site_id, "MLB");
        assert_eq!(s.service_id(), 11);
        assert_eq!(s.import_policy, ImportPolicy::default());
        let s = MlSettings::parse(
            &json!({"seller_id": "1", "site_id": "MLA", "api_base_url": "http://127.0.0.1:9/"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.base_url(), "http://127.0.0.1:9");
        assert_eq!(s.service_id(), 154);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            MlSettings::parse(&json!({"seller_id": "1", "store_id": "1"})),
            Err(ConfigError::UnknownKey("store_id".into()))
        );
        assert!(MlSettings::parse(&json!({})).is_err());
        assert!(MlSettings::parse(&json!({"seller_id": "abc"})).is_err());
        assert!(MlSettings::parse(&json!({"seller_id": "1", "site_id": "XXX"})).is_err());
        assert!(MlSettings::parse(&json!({"seller_id": "1", "api_base_url": "ftp://x"})).is_err());
        assert!(
            MlSettings::parse(&json!({"seller_id": "1", "warehouse_management": true})).is_err()
        );
        assert!(MlSettings::parse(
            &json!({"seller_id": "1", "warehouse_management": true, "stock_store_id": "9876543"})
        )
        .is_ok());
        assert!(MlCredentials::parse(
            &json!({"client_id": "x", "client_secret": "s", "refresh_token": "r"})
        )
        .is_err());
        assert!(MlCredentials::parse(
            &json!({"client_id": "1", "client_secret": "", "refresh_token": "r"})
        )
        .is_err());
        assert!(MlCredentials::parse(
            &json!({"client_id": "1", "client_secret": "s", "refresh_token": "r", "extra": 1})
        )
        .is_err());
        let c = MlCredentials::parse(&json!({
            "client_id": "5503910054141466", "client_secret": "s", "refresh_token": "TG-1",
            "access_token": "APP_USR-1", "access_expires_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{c:?}"), "MlCredentials { .. }", "never logged");
    }
}
