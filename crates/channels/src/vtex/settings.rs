//! VTEX channel settings and credentials (issue 8 item 1; platforms.md §2 "Auth").

use crate::settings::{check_rate_limit, from_value};
use crate::ConfigError;
use ponte_core::import::ImportPolicy;
use ponte_core::status_rules::StatusRule;
use serde::{Deserialize, Serialize};

/// The environment of the documented base URL `https://{account}.{environment}.com.br`.
pub const DEFAULT_ENVIRONMENT: &str = "vtexcommercestable";

/// Settings of a VTEX channel. Unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VtexSettings {
    /// The account name (`{accountName}` in the base URL; `Origin.Account` of hooks).
    pub account: String,
    /// The environment (`vtexcommercestable` by default).
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Overrides the base URL (sandboxes, the simulator); default
    /// `https://{account}.{environment}.com.br`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// The logistics warehouse stock pushes write to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
    /// Only orders of this sales channel (trade policy) are imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_channel: Option<String>,
    /// Which orders to import.
    #[serde(default)]
    pub import_policy: ImportPolicy,
    /// Status table overrides (DE-PARA), tried before the default table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_map: Vec<StatusRule>,
    /// Requests per second ponte allows itself. The Orders GET is documented at up to
    /// 6000/min per account (platforms.md §2); other limits are not documented, so
    /// the default stays well below: 20/s (assumption).
    #[serde(default = "default_rate")]
    pub rate_limit_per_sec: f64,
    /// Requests that may be made at once.
    #[serde(default = "default_burst")]
    pub rate_limit_burst: f64,
}

fn default_environment() -> String {
    DEFAULT_ENVIRONMENT.to_owned()
}

fn default_rate() -> f64 {
    20.0
}

fn default_burst() -> f64 {
    40.0
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl VtexSettings {
    /// Parses and checks settings.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let s: Self = from_value(v)?;
        if !name_ok(&s.account) || !name_ok(&s.environment) {
            return Err(ConfigError::Invalid(
                "account and environment: letters, digits, - or _".into(),
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
            .unwrap_or_else(|| format!("https://{}.{}.com.br", self.account, self.environment))
    }
}

/// Credentials of a VTEX channel: the app key and token sent as `X-VTEX-API-AppKey` /
/// `X-VTEX-API-AppToken`, and the secret ponte puts in its hook's headers.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VtexCredentials {
    /// `X-VTEX-API-AppKey`.
    pub app_key: String,
    /// `X-VTEX-API-AppToken`.
    pub app_token: String,
    /// The hook secret (sent back by VTEX in `X-Ponte-Hook-Secret`).
    pub hook_secret: String,
}

impl std::fmt::Debug for VtexCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VtexCredentials { .. }")
    }
}

impl VtexCredentials {
    /// Parses and checks credentials.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ConfigError> {
        let c: Self = from_value(v)?;
        if c.app_key.is_empty() || c.app_token.is_empty() {
            return Err(ConfigError::Invalid(
                "app_key and app_token must not be empty".into(),
            ));
        }
        if c.hook_secret.len() < 16 {
            return Err(ConfigError::Invalid(
                "hook_secret must have at least 16 characters".into(),
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
            VtexSettings::parse(&json!({"account": "lojaabc"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.base_url(), "https://lojaabc.vtexcommercestable.com.br");
        assert_eq!(s.import_policy, ImportPolicy::default());
        let s =
            VtexSettings::parse(&json!({"account": "a", "api_base_url": "http://127.0.0.1:9/"}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn refusals() {
        assert_eq!(
            VtexSettings::parse(&json!({"account": "a", "store_id": "1"})),
            Err(ConfigError::UnknownKey("store_id".into()))
        );
        assert!(VtexSettings::parse(&json!({"account": "a.b"})).is_err());
        assert!(VtexSettings::parse(&json!({})).is_err());
        assert!(VtexSettings::parse(&json!({"account": "a", "api_base_url": "ftp://x"})).is_err());
        assert!(VtexCredentials::parse(
            &json!({"app_key": "k", "app_token": "t", "hook_secret": "short"})
        )
        .is_err());
        let c = VtexCredentials::parse(
            &json!({"app_key": "k", "app_token": "t", "hook_secret": "0123456789abcdef"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{c:?}"), "VtexCredentials { .. }", "never logged");
    }
}
