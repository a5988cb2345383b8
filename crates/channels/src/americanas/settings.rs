//! Americanas (SkyHub API) channel settings and credentials (issue 22 item 1;
//! addendum "4. SkyHub / Americanas" "Auth" and "Rate limits").

use crate::settings::{check_rate_limit, from_value};
use crate::ConfigError;
use ponte_core::import::ImportPolicy;
use ponte_core::status_rules::StatusRule;
use serde::{Deserialize, Serialize};

/// The documented API host (still the SkyHub one in 2025).
pub const DEFAULT_BASE_URL: &str = "https://api.skyhub.com.br";

/// Settings of an Americanas channel. Unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmericanasSettings {
    /// Overrides the base URL (the simulator); default [`DEFAULT_BASE_URL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// Which orders to import.
    #[serde(default)]
    pub import_policy: ImportPolicy,
    /// Status table overrides (DE-PARA), tried before the default table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_map: Vec<StatusRule>,
    /// Requests per second of the channel's budget (queue reads and deletes, order
    /// writes, products): the documented 9/s of those endpoints. `GET /orders*` is
    /// further paced to 1/s by the connector itself.
    #[serde(default = "default_rate")]
    pub rate_limit_per_sec: f64,
    /// Requests that may be made at once (kept low: the platform counts per second).
    #[serde(default = "default_burst")]
    pub rate_limit_burst: f64,
}

fn default_rate() -> f64 {
    9.0
}

fn default_burst() -> f64 {
    3.0
}

impl AmericanasSettings {
    /// Parses and checks settings.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let s: Self = from_value(v)?;
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
}

/// Credentials of an Americanas channel, sent on every request as `X-User-Email`,
/// `X-Api-Key` and `X-Accountmanager-Key`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmericanasCredentials {
    /// The account's e-mail.
    pub user_email: String,
    /// The account's integration token.
    pub api_key: String,
    /// The key Americanas issues to a homologated ERP or platform.
    pub account_manager_key: String,
}

impl std::fmt::Debug for AmericanasCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AmericanasCredentials { .. }")
    }
}

impl AmericanasCredentials {
    /// Parses and checks credentials: none empty, each a valid header value.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let c: Self = from_value(v)?;
        for (name, value) in [
            ("user_email", &c.user_email),
            ("api_key", &c.api_key),
            ("account_manager_key", &c.account_manager_key),
        ] {
            if value.trim().is_empty()
                || value.len() > 500
                || !value.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be non-empty printable text without spaces"
                )));
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds() -> serde_json::Value {
        json!({"user_email": "loja@example.com", "api_key": "k", "account_manager_key": "m"})
    }

    #[test]
    fn defaults_and_base_url() {
        let s = AmericanasSettings::parse(&json!({})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.base_url(), DEFAULT_BASE_URL);
        assert_eq!((s.rate_limit_per_sec, s.rate_limit_burst), (9.0, 3.0));
        let s = AmericanasSettings::parse(&json!({"api_base_url": "http://127.0.0.1:9/"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn refusals() {
        assert_eq!(
            AmericanasSettings::parse(&json!({"seller_id": "1"})),
            Err(ConfigError::UnknownKey("seller_id".into()))
        );
        assert!(AmericanasSettings::parse(&json!({"api_base_url": "ftp://x"})).is_err());
        assert!(AmericanasSettings::parse(&json!({"rate_limit_per_sec": 0})).is_err());
        assert!(AmericanasCredentials::parse(&creds()).is_ok());
        let mut c = creds();
        c["api_key"] = json!("");
        assert!(AmericanasCredentials::parse(&c).is_err());
        c["api_key"] = json!("a\nb");
        assert!(AmericanasCredentials::parse(&c).is_err());
        let mut c = creds();
        c["extra"] = json!(1);
        assert!(AmericanasCredentials::parse(&c).is_err());
        let c = AmericanasCredentials::parse(&creds()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            format!("{c:?}"),
            "AmericanasCredentials { .. }",
            "never logged"
        );
    }
}
