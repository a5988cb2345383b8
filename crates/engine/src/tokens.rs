//! A tenant's API tokens: created with a name, a role and an optional expiry (the
//! token is answered once), listed, revoked at once.

use crate::auth::{hash_token, new_token, Caller};
use crate::error::checked_name;
use crate::{Engine, EngineError};
use chrono::{DateTime, Utc};
use ponte_core::{ErrorCode, Role, TenantId, TokenId};
use ponte_store::ApiToken;

/// A new token's fields.
#[derive(Debug, Clone)]
pub struct TokenInput {
    /// What it is for (shown in lists and the audit trail).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Refused from then on.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Engine {
    /// Creates a token of the caller's tenant; returns it with the plain token (shown
    /// once; only its hash is stored).
    pub async fn create_token(
        &self,
        caller: &Caller,
        input: TokenInput,
    ) -> Result<(ApiToken, String), EngineError> {
        let created = self.new_tenant_token(caller.tenant, input).await?;
        self.audit(
            caller.tenant,
            &caller.actor,
            "token.created",
            Some(created.0.id.to_string()),
            serde_json::json!({"name": created.0.name, "role": created.0.role, "expires_at": created.0.expires_at}),
        )
        .await;
        Ok(created)
    }

    /// Creates a token of `tenant` (the caller was checked).
    pub(crate) async fn new_tenant_token(
        &self,
        tenant: TenantId,
        input: TokenInput,
    ) -> Result<(ApiToken, String), EngineError> {
        let name = checked_name(&input.name, 100)?;
        let now = self.clock.now();
        if input.expires_at.is_some_and(|e| e <= now) {
            return Err(EngineError::Invalid(
                "expires_at must be in the future".into(),
            ));
        }
        let plain = new_token();
        let token = ApiToken {
            tenant_id: tenant,
            id: TokenId::new(),
            name,
            role: input.role,
            token_hash: hash_token(&plain),
            bootstrap: false,
            created_at: now,
            expires_at: input.expires_at,
            last_used_at: None,
        };
        self.store.insert_token(&token).await?;
        Ok((token, plain))
    }

    /// A tenant's tokens (never the tokens themselves).
    pub async fn tokens(&self, tenant: TenantId) -> Result<Vec<ApiToken>, EngineError> {
        Ok(self.store.tokens(tenant).await?)
    }

    /// Revokes a token: every instance refuses it within
    /// [`crate::auth::TOKEN_CACHE_TTL`] (this one at once).
    pub async fn revoke_token(&self, caller: &Caller, id: TokenId) -> Result<(), EngineError> {
        let tokens = self.store.tokens(caller.tenant).await?;
        let token = (tokens.into_iter().find(|t| t.id == id))
            .ok_or(EngineError::NotFound(ErrorCode::TokenNotFound))?;
        if !self.store.delete_token(caller.tenant, id).await? {
            return Err(EngineError::NotFound(ErrorCode::TokenNotFound));
        }
        self.tokens.forget(&token.token_hash);
        self.audit(
            caller.tenant,
            &caller.actor,
            "token.revoked",
            Some(id.to_string()),
            serde_json::json!({"name": token.name, "role": token.role}),
        )
        .await;
        Ok(())
    }
}
