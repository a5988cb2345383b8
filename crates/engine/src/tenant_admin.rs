//! The installation's tenants (merchants), managed with `PONTE_ADMIN_TOKEN` or the
//! command line: plans, add-ons, enabled or not, and each tenant's first admin token.

use crate::audit::installation_admin;
use crate::auth::hash_token;
use crate::error::checked_name;
use crate::tokens::TokenInput;
use crate::{Engine, EngineError};
use ponte_core::{Addon, Entitlements, ErrorCode, Plan, Role, TenantId};
use ponte_store::{Actor, ApiToken, Tenant};
use subtle::ConstantTimeEq;

/// A new tenant.
#[derive(Debug, Clone)]
pub struct TenantInput {
    /// Name.
    pub name: String,
    /// Plan.
    pub plan: Plan,
    /// Add-ons bought on top of the plan.
    pub addons: Vec<Addon>,
}

/// Changes to a tenant (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    /// New name.
    pub name: Option<String>,
    /// New plan.
    pub plan: Option<Plan>,
    /// New add-ons (replacing the list).
    pub addons: Option<Vec<Addon>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

fn check_addons(plan: Plan, addons: &[Addon]) -> Result<(), EngineError> {
    match Entitlements::refused_addon(plan, addons) {
        None => Ok(()),
        Some(a) => Err(EngineError::Refused(
            ErrorCode::PlanRequired,
            format!(
                "the plan `{plan}` cannot have the add-on `{a}`: {}",
                Entitlements::how_to_get(a)
            ),
        )),
    }
}

impl Engine {
    /// Whether `token` is the installation's admin token (`PONTE_ADMIN_TOKEN`), compared
    /// in constant time.
    pub fn is_installation_admin(&self, token: &str) -> bool {
        self.config
            .admin_token_hash
            .as_deref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(hash_token(token).as_bytes())))
    }

    /// Creates a tenant.
    pub async fn create_tenant(
        &self,
        actor: &Actor,
        input: TenantInput,
    ) -> Result<Tenant, EngineError> {
        check_addons(input.plan, &input.addons)?;
        let mut addons = input.addons;
        addons.sort();
        addons.dedup();
        let tenant = Tenant {
            id: TenantId::new(),
            name: checked_name(&input.name, 200)?,
            plan: input.plan,
            addons,
            enabled: true,
            is_default: false,
            created_at: self.clock.now(),
        };
        self.store.insert_tenant(&tenant).await?;
        self.ensure_tenant_task(tenant.id).await?;
        self.audit(
            tenant.id,
            actor,
            "tenant.created",
            Some(tenant.id.to_string()),
            serde_json::json!({"name": tenant.name, "plan": tenant.plan, "addons": tenant.addons}),
        )
        .await;
        Ok(tenant)
    }

    /// Every tenant, oldest first.
    pub async fn tenant_list(&self) -> Result<Vec<Tenant>, EngineError> {
        Ok(self.store.tenant_list().await?)
    }

    /// A tenant.
    pub async fn tenant(&self, id: TenantId) -> Result<Tenant, EngineError> {
        (self.store.tenant(id).await?).ok_or(EngineError::NotFound(ErrorCode::TenantNotFound))
    }

    /// Changes a tenant's name, plan, add-ons or state (a disabled tenant's API and
    /// webhooks are refused within a second).
    pub async fn update_tenant(
        &self,
        actor: &Actor,
        id: TenantId,
        patch: TenantPatch,
    ) -> Result<Tenant, EngineError> {
        let before = self.tenant(id).await?;
        let mut t = before.clone();
        if let Some(n) = &patch.name {
            t.name = checked_name(n, 200)?;
        }
        if let Some(p) = patch.plan {
            t.plan = p;
        }
        if let Some(mut a) = patch.addons {
            a.sort();
            a.dedup();
            t.addons = a;
        }
        if let Some(e) = patch.enabled {
            t.enabled = e;
        }
        check_addons(t.plan, &t.addons)?;
        self.store.update_tenant(&t).await?;
        self.tokens.clear();
        self.forget_tenant_channels(id).await;
        let mut changed = serde_json::Map::new();
        if t.name != before.name {
            changed.insert("name".into(), serde_json::json!([before.name, t.name]));
        }
        if t.plan != before.plan {
            changed.insert("plan".into(), serde_json::json!([before.plan, t.plan]));
        }
        if t.addons != before.addons {
            changed.insert(
                "addons".into(),
                serde_json::json!([before.addons, t.addons]),
            );
        }
        if t.enabled != before.enabled {
            changed.insert(
                "enabled".into(),
                serde_json::json!([before.enabled, t.enabled]),
            );
        }
        let kind = if changed.contains_key("plan") || changed.contains_key("addons") {
            "tenant.plan_changed"
        } else {
            "tenant.updated"
        };
        self.audit(id, actor, kind, Some(id.to_string()), changed.into())
            .await;
        Ok(t)
    }

    /// Creates an admin token for a tenant (its first, typically), as the
    /// installation's admin.
    pub async fn create_tenant_token(
        &self,
        id: TenantId,
        name: Option<String>,
    ) -> Result<(ApiToken, String), EngineError> {
        self.tenant(id).await?;
        let input = TokenInput {
            name: name.unwrap_or_else(|| "admin".into()),
            role: Role::Admin,
            expires_at: None,
        };
        let created = self.new_tenant_token(id, input).await?;
        self.audit(
            id,
            &installation_admin(),
            "token.created",
            Some(created.0.id.to_string()),
            serde_json::json!({"name": created.0.name, "role": created.0.role}),
        )
        .await;
        Ok(created)
    }

    /// Drops this instance's cached channels of a tenant (its plan or state changed).
    async fn forget_tenant_channels(&self, tenant: TenantId) {
        if let Ok(channels) = self.store.channels(tenant).await {
            for c in channels {
                self.forget_channel(c.id);
            }
        }
    }
}
