//! API tokens: stored as SHA-256 hashes, shown once; who a request is ([`Caller`]).

use crate::secrets::write_private;
use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use ponte_core::{ErrorCode, Role, TenantId, TokenId};
use ponte_store::{Actor, ApiToken, Tenant};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Hex SHA-256 of a token, the form tokens are stored and looked up in.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token (`pnt_` and 48 hex digits).
pub(crate) fn new_token() -> String {
    format!("pnt_{}", hex::encode(rand::random::<[u8; 24]>()))
}

/// How the default tenant's bootstrap token is provisioned at start.
#[derive(Debug, Clone)]
pub enum TokenSetup {
    /// `PONTE_API_TOKEN`: this token is the default tenant's bootstrap admin token; it
    /// replaces the previous bootstrap token.
    Given(String),
    /// No token given: if the tenant has none, generate one and write it once to this file.
    GenerateInto(PathBuf),
}

/// Who a request is: a tenant's token or person, with a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant whose data the request sees.
    pub tenant: TenantId,
    /// What it may do.
    pub role: Role,
    /// Who it is, for the audit trail.
    pub actor: Actor,
}

impl Caller {
    /// `Ok` when the caller's role allows what `needed` may do; otherwise the refusal
    /// naming the role needed.
    pub fn require(&self, needed: Role) -> Result<(), EngineError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(EngineError::Refused(
                ErrorCode::ForbiddenRole,
                format!(
                    "this needs the role `{needed}`; this caller is `{}`",
                    self.role
                ),
            ))
        }
    }
}

/// How long a token looked up stays trusted on this instance: a revoked token is
/// refused by every instance within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_millis(500);

/// How often a token's "last used" time is written (at most once per this time).
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// A token looked up, with its tenant (none: no such token).
type Found = Option<(ApiToken, Tenant)>;

/// Tokens recently looked up, by hash (found or not), for [`TOKEN_CACHE_TTL`].
#[derive(Default)]
pub(crate) struct TokenCache(Mutex<HashMap<String, (Instant, Found)>>);

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Found> {
        let map = self.0.lock().ok()?;
        let (at, found) = map.get(hash)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| found.clone())
    }

    fn put(&self, hash: String, found: Found) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() > 10_000 {
                map.retain(|_, (at, _)| at.elapsed() < TOKEN_CACHE_TTL);
            }
            map.insert(hash, (Instant::now(), found));
        }
    }

    /// Forgets every token (a tenant's state or plan changed).
    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }

    pub(crate) fn forget(&self, hash: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(hash);
        }
    }
}

/// Why a token is refused.
fn unauthorized(detail: &str) -> EngineError {
    EngineError::Refused(ErrorCode::Unauthorized, detail.to_owned())
}

/// The refusal of a disabled tenant's requests and webhooks.
pub(crate) fn tenant_disabled() -> EngineError {
    EngineError::Refused(
        ErrorCode::TenantDisabled,
        "this tenant is disabled by the installation's admin".into(),
    )
}

impl Engine {
    /// Makes sure the default tenant has an admin token. Returns the path written to
    /// when a token was generated.
    pub async fn setup_token(&self, setup: &TokenSetup) -> Result<Option<PathBuf>, EngineError> {
        let tenant = self.default_tenant();
        let now = self.clock.now();
        match setup {
            TokenSetup::Given(t) if t.len() < 16 => Err(EngineError::Invalid(
                "PONTE_API_TOKEN must be at least 16 characters".into(),
            )),
            TokenSetup::Given(t) => {
                let token = bootstrap(tenant, t, now);
                self.store.replace_bootstrap_token(&token).await?;
                Ok(None)
            }
            TokenSetup::GenerateInto(path) => {
                if self.store.count_api_tokens(tenant).await? > 0 {
                    return Ok(None);
                }
                let token = new_token();
                write_private(path, &format!("{token}\n")).map_err(|e| {
                    EngineError::Invalid(format!("cannot write {}: {e}", path.display()))
                })?;
                self.store
                    .insert_token(&bootstrap(tenant, &token, now))
                    .await?;
                Ok(Some(path.clone()))
            }
        }
    }

    /// Who a bearer token is: 401 `unauthorized` for an unknown, revoked or expired
    /// token, 403 `tenant_disabled` for a disabled tenant's.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, EngineError> {
        self.authenticate_hash(&hash_token(token)).await
    }

    /// [`Engine::authenticate`] by the token's hash ([`hash_token`]): a console
    /// session keeps the hash, never the token.
    pub async fn authenticate_hash(&self, hash: &str) -> Result<Caller, EngineError> {
        let found = match self.tokens.get(hash) {
            Some(found) => found,
            None => {
                let found = self.store.token_by_hash(hash).await?;
                self.tokens.put(hash.to_owned(), found.clone());
                found
            }
        };
        let Some((token, tenant)) = found else {
            return Err(unauthorized("invalid token"));
        };
        let now = self.clock.now();
        if token.expires_at.is_some_and(|e| e <= now) {
            return Err(unauthorized("this token has expired"));
        }
        if !tenant.enabled {
            return Err(tenant_disabled());
        }
        if token.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY) {
            self.touch(&token, now).await;
        }
        Ok(Caller {
            tenant: token.tenant_id,
            role: token.role,
            actor: Actor {
                kind: "token".into(),
                id: token.id.to_string(),
                name: token.name,
            },
        })
    }

    /// Records that a token was used (best effort: a failure only delays it).
    async fn touch(&self, token: &ApiToken, now: DateTime<Utc>) {
        if let Err(e) = self.store.touch_token(token.tenant_id, token.id, now).await {
            tracing::debug!(error = %e, "token last-used time not written");
        }
        if let Ok(mut map) = self.tokens.0.lock() {
            if let Some((_, Some((t, _)))) = map.get_mut(&token.token_hash) {
                t.last_used_at = Some(now);
            }
        }
    }
}

fn bootstrap(tenant: TenantId, token: &str, now: DateTime<Utc>) -> ApiToken {
    ApiToken {
        tenant_id: tenant,
        id: TokenId::new(),
        name: "bootstrap".into(),
        role: Role::Admin,
        token_hash: hash_token(token),
        bootstrap: true,
        created_at: now,
        expires_at: None,
        last_used_at: None,
    }
}
