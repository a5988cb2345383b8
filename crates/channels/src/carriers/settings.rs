//! A carrier account's settings: where its API is and the account's request budget.

use super::CarrierKind;
use crate::settings::{check_rate_limit, from_value};
use crate::ConfigError;
use serde::{Deserialize, Serialize};

/// Settings of a carrier account, with defaults per carrier. Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierSettings {
    /// The API's base URL (Correios `https://api.correios.com.br`, homologation
    /// `https://apihom.correios.com.br`; Melhor Envio `https://melhorenvio.com.br`).
    #[serde(default)]
    pub api_base_url: String,
    /// Tracking calls per second, shared by every instance. Neither carrier publishes a
    /// number (assumed defaults: Correios 5/s, Melhor Envio 2/s).
    #[serde(default)]
    pub rate_limit_per_sec: f64,
    /// Calls that may be made at once (default 1: calls go out evenly spaced).
    #[serde(default)]
    pub rate_limit_burst: f64,
    /// Melhor Envio asks for a `User-Agent` naming the application and a contact
    /// (third-party); default `ponte (suporte@example.com)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl CarrierSettings {
    /// Parses settings and fills in `kind`'s defaults.
    pub fn parse(v: &serde_json::Value, kind: CarrierKind) -> Result<Self, ConfigError> {
        let v = if v.is_null() {
            serde_json::json!({})
        } else {
            v.clone()
        };
        let mut s: Self = from_value(&v)?;
        let (url, rate) = match kind {
            CarrierKind::Correios => ("https://api.correios.com.br", 5.0),
            CarrierKind::MelhorEnvio => ("https://melhorenvio.com.br", 2.0),
        };
        if s.api_base_url.is_empty() {
            s.api_base_url = url.to_owned();
        }
        if !(s.api_base_url.starts_with("https://") || s.api_base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid(
                "api_base_url must be an http(s) URL".into(),
            ));
        }
        s.api_base_url = s.api_base_url.trim_end_matches('/').to_owned();
        if s.rate_limit_per_sec == 0.0 {
            s.rate_limit_per_sec = rate;
        }
        if s.rate_limit_burst == 0.0 {
            s.rate_limit_burst = 1.0;
        }
        check_rate_limit(s.rate_limit_per_sec, s.rate_limit_burst)?;
        if let Some(ua) = &s.user_agent {
            if ua.trim().is_empty() || ua.len() > 200 || !ua.bytes().all(|b| (32..127).contains(&b))
            {
                return Err(ConfigError::Invalid(
                    "user_agent must be printable ASCII (1 to 200 characters)".into(),
                ));
            }
        }
        Ok(s)
    }

    /// As JSON (what the account stores and shows).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Checks a credential value: non-empty printable text without spaces.
pub(crate) fn check_secret(name: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() || value.len() > 4096 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::Invalid(format!(
            "{name} must be non-empty printable text without spaces"
        )));
    }
    Ok(())
}
