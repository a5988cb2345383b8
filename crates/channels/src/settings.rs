//! Reading a platform's settings or credentials object: unknown keys are refused by
//! name, other problems keep serde's message.

use crate::ConfigError;

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
