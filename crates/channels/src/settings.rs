//! Reading a platform's settings or credentials object: unknown keys are refused by
//! name, other problems keep serde's message.

use crate::ConfigError;
use std::ops::RangeInclusive;

/// Requests per second a channel's budget may be set to (`rate_limit_per_sec`); a
/// million stands for "no limit" in tests and benchmarks.
pub(crate) const RATE_PER_SEC: RangeInclusive<f64> = 0.01..=1_000_000.0;

/// Requests a channel's budget may hold at once (`rate_limit_burst`).
pub(crate) const RATE_BURST: RangeInclusive<f64> = 1.0..=1_000_000.0;

/// Checks a channel's request budget against [`RATE_PER_SEC`] and [`RATE_BURST`]:
/// the waits computed from them must stay meaningful.
pub(crate) fn check_rate_limit(per_sec: f64, burst: f64) -> Result<(), ConfigError> {
    for (name, value, bounds) in [
        ("rate_limit_per_sec", per_sec, RATE_PER_SEC),
        ("rate_limit_burst", burst, RATE_BURST),
    ] {
        if !bounds.contains(&value) {
            return Err(ConfigError::Invalid(format!(
                "{name} must be a number from {} to {} (got {value:?})",
                bounds.start(),
                bounds.end()
            )));
        }
    }
    Ok(())
}

/// Deserialises `v`, turning serde's `unknown field` into [`ConfigError::UnknownKey`].
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
) -> Result<T, ConfigError> {
    T::deserialize(v).map_err(|e| {
        let msg = e.to_string();
        match msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            Some(key) => ConfigError::UnknownKey(key.to_owned()),
            None => ConfigError::Invalid(msg),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_within_bounds() {
        assert_eq!(check_rate_limit(2.0, 40.0), Ok(()));
        assert_eq!(check_rate_limit(0.01, 1.0), Ok(()));
        assert_eq!(check_rate_limit(1e6, 1e6), Ok(()));
        assert_eq!(
            check_rate_limit(1e-300, 40.0),
            Err(ConfigError::Invalid(
                "rate_limit_per_sec must be a number from 0.01 to 1000000 (got 1e-300)".into()
            ))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e7] {
            assert!(check_rate_limit(bad, 40.0).is_err(), "{bad}");
            assert!(check_rate_limit(2.0, bad).is_err(), "{bad}");
        }
        assert!(check_rate_limit(2.0, 0.5).is_err());
    }
}
