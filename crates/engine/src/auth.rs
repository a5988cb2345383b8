//! API tokens: stored as SHA-256 hashes; the plain token is shown once.

use crate::secrets::write_private;
use crate::{Engine, EngineError};
use ponte_core::TenantId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;

/// Hex SHA-256 of a token, the form tokens are stored and looked up in.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How the API token is provisioned at start.
#[derive(Debug, Clone)]
pub enum TokenSetup {
    /// `PONTE_API_TOKEN`: this token is accepted for the default tenant.
    Given(String),
    /// No token given: if the tenant has none, generate one and write it once to this file.
    GenerateInto(PathBuf),
}

/// Tokens already verified, by hash.
#[derive(Default)]
pub(crate) struct TokenCache(RwLock<HashMap<String, TenantId>>);

impl Engine {
    /// Makes sure the default tenant has an API token. Returns the path written to
    /// when a token was generated.
    pub async fn setup_token(&self, setup: &TokenSetup) -> Result<Option<PathBuf>, EngineError> {
        let tenant = self.default_tenant();
        match setup {
            TokenSetup::Given(t) if t.len() < 16 => Err(EngineError::Invalid(
                "PONTE_API_TOKEN must be at least 16 characters".into(),
            )),
            TokenSetup::Given(t) => {
                self.store
                    .add_api_token(tenant, &hash_token(t), self.clock.now())
                    .await?;
                Ok(None)
            }
            TokenSetup::GenerateInto(path) => {
                if self.store.count_api_tokens(tenant).await? > 0 {
                    return Ok(None);
                }
                let token = format!("pnt_{}", hex::encode(rand::random::<[u8; 24]>()));
                write_private(path, &format!("{token}\n")).map_err(|e| {
                    EngineError::Invalid(format!("cannot write {}: {e}", path.display()))
                })?;
                self.store
                    .add_api_token(tenant, &hash_token(&token), self.clock.now())
                    .await?;
                Ok(Some(path.clone()))
            }
        }
    }

    /// The tenant a bearer token belongs to, if any.
    pub async fn authenticate(&self, token: &str) -> Result<Option<TenantId>, EngineError> {
        self.authenticate_hash(&hash_token(token)).await
    }

    /// The tenant a token's hash ([`hash_token`]) belongs to, if the token is still
    /// valid: a console session keeps the hash, never the token.
    pub async fn authenticate_hash(&self, hash: &str) -> Result<Option<TenantId>, EngineError> {
        let hash = hash.to_owned();
        if let Some(t) = self
            .tokens
            .0
            .read()
            .ok()
            .and_then(|m| m.get(&hash).copied())
        {
            return Ok(Some(t));
        }
        let found = self.store.tenant_for_token(&hash).await?;
        if let (Some(t), Ok(mut m)) = (found, self.tokens.0.write()) {
            m.insert(hash, t);
        }
        Ok(found)
    }
}
