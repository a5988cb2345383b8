//! Carrier accounts: validated by their carrier, credentials sealed at rest (bound to
//! the account), and a cache of ready carriers (a Correios token lives in its carrier
//! for the day it is valid).
//!
//! Which account tracks a shipment: the account whose carrier the shipment's carrier
//! name names (`Correios`, `SEDEX`, `PAC` → Correios; `Melhor Envio` → Melhor Envio;
//! the first such account), else the tenant's default account, else none (the
//! shipment is not tracked).

use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use ponte_channels::carriers::{names, Carrier, CarrierKind};
use ponte_core::{CarrierAccountId, ErrorCode, TenantId};
use ponte_store::{CarrierAccount, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A new carrier account.
#[derive(Debug, Clone)]
pub struct CarrierAccountInput {
    /// `correios` or `melhor_envio`.
    pub carrier: String,
    /// The tenant's name for it.
    pub name: String,
    /// Tracks shipments whose carrier name matches no account.
    pub is_default: bool,
    /// Settings object.
    pub settings: serde_json::Value,
    /// Credentials object.
    pub credentials: serde_json::Value,
}

/// A ready carrier and the account version (`updated_at`) it was built from.
type Built = (DateTime<Utc>, Arc<dyn Carrier>);

/// Ready carriers by account.
#[derive(Default)]
pub(crate) struct CarrierCache(Mutex<HashMap<CarrierAccountId, Built>>);

/// The associated data a carrier account's credentials are sealed with: they cannot be
/// moved to another account nor read as a channel's.
fn aad(id: CarrierAccountId) -> Vec<u8> {
    format!("carrier:{id}").into_bytes()
}

/// The account that tracks a shipment of carrier name `carrier` (rule in the module
/// documentation).
pub(crate) fn account_for<'a>(
    accounts: &'a [CarrierAccount],
    carrier: Option<&str>,
) -> Option<&'a CarrierAccount> {
    carrier
        .and_then(|name| {
            accounts.iter().find(|a| {
                CarrierKind::parse(&a.carrier).is_some_and(|k| names(k, name))
                    || a.name.eq_ignore_ascii_case(name.trim())
            })
        })
        .or_else(|| accounts.iter().find(|a| a.is_default))
}

impl Engine {
    /// Creates a carrier account after its carrier validated settings and credentials.
    pub async fn create_carrier_account(
        &self,
        tenant: TenantId,
        input: CarrierAccountInput,
    ) -> Result<CarrierAccount, EngineError> {
        let kind = CarrierKind::parse(&input.carrier).ok_or_else(|| {
            EngineError::Refused(
                ErrorCode::UnknownCarrier,
                format!(
                    "unknown carrier `{}` (correios, melhor_envio)",
                    input.carrier
                ),
            )
        })?;
        let name = crate::error::checked_name(&input.name, 100)?;
        let settings = kind.validate_settings(&input.settings)?;
        self.http.check_url(&kind.base_url(&settings)?).await?;
        kind.validate_credentials(&input.credentials)?;
        let id = CarrierAccountId::new();
        let plain = serde_json::to_vec(&input.credentials)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let now = self.clock.now();
        let account = CarrierAccount {
            tenant_id: tenant,
            id,
            carrier: kind.as_str().to_owned(),
            name,
            is_default: input.is_default,
            settings,
            credentials: self.cipher.seal(&plain, &aad(id))?,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_carrier_account(&account).await {
            Err(StoreError::Conflict(_)) => {
                return Err(EngineError::Refused(
                    ErrorCode::CarrierAccountNameTaken,
                    format!("another carrier account is named `{}`", account.name),
                ))
            }
            r => r?,
        }
        self.ensure_tracking_task(tenant).await?;
        tracing::info!(account = %id, carrier = kind.as_str(), "carrier account created");
        Ok(account)
    }

    /// A tenant's carrier accounts.
    pub async fn carrier_accounts(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<CarrierAccount>, EngineError> {
        Ok(self.store.carrier_accounts(tenant).await?)
    }

    /// One carrier account.
    pub async fn carrier_account(
        &self,
        tenant: TenantId,
        id: CarrierAccountId,
    ) -> Result<CarrierAccount, EngineError> {
        self.store
            .carrier_accounts(tenant)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or(EngineError::NotFound(ErrorCode::CarrierAccountNotFound))
    }

    /// Deletes a carrier account (its shipments are no longer tracked, unless another
    /// account takes them); returns what it was.
    pub async fn delete_carrier_account(
        &self,
        tenant: TenantId,
        id: CarrierAccountId,
    ) -> Result<CarrierAccount, EngineError> {
        let account = self.carrier_account(tenant, id).await?;
        if !self.store.delete_carrier_account(tenant, id).await? {
            return Err(EngineError::NotFound(ErrorCode::CarrierAccountNotFound));
        }
        if let Ok(mut m) = self.carrier_cache.0.lock() {
            m.remove(&id);
        }
        Ok(account)
    }

    /// The ready carrier of an account (built once per account version).
    pub(crate) fn carrier(
        &self,
        account: &CarrierAccount,
    ) -> Result<Arc<dyn Carrier>, EngineError> {
        if let Some((v, c)) = self
            .carrier_cache
            .0
            .lock()
            .ok()
            .and_then(|m| m.get(&account.id).cloned())
        {
            if v == account.updated_at {
                return Ok(c);
            }
        }
        let kind = CarrierKind::parse(&account.carrier)
            .ok_or_else(|| EngineError::Invalid(format!("unknown carrier {}", account.carrier)))?;
        let plain = self.cipher.open(&account.credentials, &aad(account.id))?;
        let creds: serde_json::Value =
            serde_json::from_slice(&plain).map_err(|_| EngineError::Crypto)?;
        // Literal addresses meet no resolver: checked here, before any call.
        self.http
            .check_literal(&kind.base_url(&account.settings)?)?;
        let carrier = kind.connect(&account.settings, &creds, self.http.clone())?;
        if let Ok(mut m) = self.carrier_cache.0.lock() {
            m.insert(account.id, (account.updated_at, carrier.clone()));
        }
        Ok(carrier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn account(carrier: &str, name: &str, is_default: bool) -> CarrierAccount {
        CarrierAccount {
            tenant_id: TenantId::new(),
            id: CarrierAccountId::new(),
            carrier: carrier.into(),
            name: name.into(),
            is_default,
            settings: serde_json::json!({}),
            credentials: vec![],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_shipments_carrier_name_picks_the_account_else_the_default() {
        let all = [
            account("correios", "Contrato SP", true),
            account("melhor_envio", "ME", false),
        ];
        let pick = |c: Option<&str>| account_for(&all, c).map(|a| a.carrier.as_str());
        assert_eq!(pick(Some("Correios")), Some("correios"));
        assert_eq!(pick(Some("SEDEX")), Some("correios"));
        assert_eq!(pick(Some("Melhor Envio")), Some("melhor_envio"));
        assert_eq!(
            pick(Some("me")),
            Some("melhor_envio"),
            "by the account's name"
        );
        assert_eq!(pick(Some("Jadlog")), Some("correios"), "the default");
        assert_eq!(pick(None), Some("correios"));
        assert_eq!(account_for(&all[1..], Some("Jadlog")), None, "no default");
    }
}
