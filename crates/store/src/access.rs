//! Records of tenants, API tokens, people and the audit trail.

use chrono::{DateTime, Utc};
use ponte_core::{Addon, AuditId, Entitlements, Plan, Role, TenantId, TokenId, UserId};

/// A tenant (a merchant, "empresa") as the installation's admin manages it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Name.
    pub name: String,
    /// Plan.
    pub plan: Plan,
    /// Add-ons bought on top of the plan.
    pub addons: Vec<Addon>,
    /// A disabled tenant's API and webhooks are refused.
    pub enabled: bool,
    /// The tenant created at first start (a self-hosted ponte's only one).
    pub is_default: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl Tenant {
    /// What the tenant is entitled to.
    pub fn entitlements(&self) -> Entitlements {
        Entitlements {
            plan: self.plan,
            addons: self.addons.clone(),
        }
    }
}

/// An API token: its SHA-256 hash; the token itself is shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Id.
    pub id: TokenId,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Provisioned at start (`PONTE_API_TOKEN` or the generated one): a new bootstrap
    /// token replaces it.
    pub bootstrap: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Refused from then on.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last accepted (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A person who signs in to the console.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Id.
    pub id: UserId,
    /// Sign-in e-mail, lower case; unique in the installation.
    pub email: String,
    /// Name.
    pub name: String,
    /// What the person may do.
    pub role: Role,
    /// A disabled person cannot sign in, and their sessions end.
    pub enabled: bool,
    /// argon2id PHC string; none until a password is set.
    pub password_hash: Option<String>,
    /// Hex SHA-256 of the pending one-time password link's token.
    pub reset_hash: Option<String>,
    /// When that link stops working.
    pub reset_expires_at: Option<DateTime<Utc>>,
    /// Bumped when the password, role or state changes: older sessions end.
    pub session_epoch: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `token`, `user`, `installation_admin` or `cli`.
    pub kind: String,
    /// The token's or person's id (empty for the installation admin and the CLI).
    pub id: String,
    /// The token's name or the person's e-mail.
    pub name: String,
}

/// One entry of the audit trail: who changed what and when (never a secret's value).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Tenant whose data changed.
    pub tenant_id: TenantId,
    /// Id (time-ordered).
    pub id: AuditId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What kind of change (`channel.updated`, `token.revoked`, ...).
    pub kind: String,
    /// The record changed (an id), when there is one.
    pub target: Option<String>,
    /// What changed: field names and non-secret values.
    pub detail: serde_json::Value,
}

/// Audit trail filters (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The actor's id or name.
    pub actor: Option<String>,
    /// Kind of change.
    pub kind: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}
