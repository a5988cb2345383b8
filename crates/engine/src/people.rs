//! People who sign in to the console: e-mail and password (argon2id), a role, enabled
//! or not; one-time links to set a password; failed sign-ins limited per account and
//! per address across instances.

use crate::auth::{hash_token, new_token, Caller};
use crate::error::checked_name;
use crate::{Engine, EngineError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::TimeDelta;
use ponte_core::{ErrorCode, Role, TenantId, UserId};
use ponte_store::{Actor, User};
use std::time::Duration;

/// A new person.
#[derive(Debug, Clone)]
pub struct UserInput {
    /// Sign-in e-mail.
    pub email: String,
    /// Name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// A first password; without one, a one-time link to set it is answered.
    pub password: Option<String>,
}

/// Changes to a person (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New e-mail.
    pub email: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Enable or disable (a disabled person's sessions end).
    pub enabled: Option<bool>,
    /// New password.
    pub password: Option<String>,
}

/// How long a one-time password link works.
pub const RESET_LINK_TTL: TimeDelta = TimeDelta::hours(24);

/// Failed sign-ins allowed per account before waiting, and the pace they come back at.
const ACCOUNT_BURST: f64 = 5.0;
const ACCOUNT_PER_SEC: f64 = 1.0 / 60.0;
/// Failed sign-ins allowed per address before waiting, and the pace they come back at.
const ADDRESS_BURST: f64 = 20.0;
const ADDRESS_PER_SEC: f64 = 1.0 / 15.0;

/// Shortest password accepted.
const MIN_PASSWORD: usize = 10;

fn checked_email(email: &str) -> Result<String, EngineError> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if ok {
        Ok(e)
    } else {
        Err(EngineError::Invalid(format!(
            "email `{}` is not an e-mail address",
            email.trim()
        )))
    }
}

/// The argon2id hash (PHC string) of a password of at least [`MIN_PASSWORD`] characters.
fn hash_password(password: &str) -> Result<String, EngineError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(EngineError::Invalid(format!(
            "password must have at least {MIN_PASSWORD} characters"
        )));
    }
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Invalid(e.to_string()))
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn email_taken(e: ponte_store::StoreError) -> EngineError {
    match e {
        ponte_store::StoreError::Conflict(_) => EngineError::Refused(
            ErrorCode::EmailTaken,
            "another person already signs in with this e-mail".into(),
        ),
        other => other.into(),
    }
}

impl Engine {
    /// Adds a person to the caller's tenant. Without a password, the answer carries a
    /// one-time link to set one.
    pub async fn create_user(
        &self,
        caller: &Caller,
        input: UserInput,
    ) -> Result<(User, Option<String>), EngineError> {
        let now = self.clock.now();
        let mut user = User {
            tenant_id: caller.tenant,
            id: UserId::new(),
            email: checked_email(&input.email)?,
            name: checked_name(&input.name, 200)?,
            role: input.role,
            enabled: true,
            password_hash: input.password.as_deref().map(hash_password).transpose()?,
            reset_hash: None,
            reset_expires_at: None,
            session_epoch: 0,
            created_at: now,
            updated_at: now,
        };
        let link = if user.password_hash.is_none() {
            let token = new_token();
            user.reset_hash = Some(hash_token(&token));
            user.reset_expires_at = Some(now + RESET_LINK_TTL);
            Some(self.reset_link(&token))
        } else {
            None
        };
        self.store.insert_user(&user).await.map_err(email_taken)?;
        self.audit(
            caller.tenant,
            &caller.actor,
            "user.created",
            Some(user.id.to_string()),
            serde_json::json!({"email": user.email, "name": user.name, "role": user.role}),
        )
        .await;
        Ok((user, link))
    }

    /// A tenant's people.
    pub async fn users(&self, tenant: TenantId) -> Result<Vec<User>, EngineError> {
        Ok(self.store.users(tenant).await?)
    }

    /// A tenant's person.
    pub async fn user(&self, tenant: TenantId, id: UserId) -> Result<User, EngineError> {
        (self.store.user(tenant, id).await?).ok_or(EngineError::NotFound(ErrorCode::UserNotFound))
    }

    /// Changes a person. A new password, role or state ends their sessions.
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: UserId,
        patch: UserPatch,
    ) -> Result<User, EngineError> {
        let mut u = self.user(caller.tenant, id).await?;
        let mut changed = vec![];
        if let Some(e) = &patch.email {
            u.email = checked_email(e)?;
            changed.push("email");
        }
        if let Some(n) = &patch.name {
            u.name = checked_name(n, 200)?;
            changed.push("name");
        }
        if let Some(r) = patch.role {
            u.role = r;
            changed.push("role");
        }
        if let Some(e) = patch.enabled {
            u.enabled = e;
            changed.push("enabled");
        }
        if let Some(p) = &patch.password {
            u.password_hash = Some(hash_password(p)?);
            u.reset_hash = None;
            u.reset_expires_at = None;
            changed.push("password");
        }
        if patch.role.is_some() || patch.enabled.is_some() || patch.password.is_some() {
            u.session_epoch += 1;
        }
        u.updated_at = self.clock.now();
        self.store.update_user(&u).await.map_err(email_taken)?;
        self.audit(
            caller.tenant,
            &caller.actor,
            "user.updated",
            Some(id.to_string()),
            serde_json::json!({"email": u.email, "role": u.role, "enabled": u.enabled, "fields": changed}),
        )
        .await;
        Ok(u)
    }

    /// Removes a person (their sessions end).
    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> Result<(), EngineError> {
        let u = self.user(caller.tenant, id).await?;
        if !self.store.delete_user(caller.tenant, id).await? {
            return Err(EngineError::NotFound(ErrorCode::UserNotFound));
        }
        self.audit(
            caller.tenant,
            &caller.actor,
            "user.deleted",
            Some(id.to_string()),
            serde_json::json!({"email": u.email}),
        )
        .await;
        Ok(())
    }

    /// Signs a person in. Failed attempts are limited per account and per address
    /// (429 `too_many_attempts`), checked before the password; a wrong e-mail or
    /// password, or a disabled person, is 401 `invalid_login` alike.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        address: &str,
    ) -> Result<User, EngineError> {
        let email = email.trim().to_lowercase();
        let account = format!("login:account:{email}");
        let addr = format!("login:address:{address}");
        for (key, burst, pace) in [
            (&account, ACCOUNT_BURST, ACCOUNT_PER_SEC),
            (&addr, ADDRESS_BURST, ADDRESS_PER_SEC),
        ] {
            let grant = self.login_bucket(key, 0, burst, pace).await?;
            if !grant.retry_after.is_zero() {
                return Err(too_many(grant.retry_after));
            }
        }
        let user = self.store.user_by_email(&email).await?;
        let ok = match &user {
            Some(u) => {
                u.enabled
                    && u.password_hash
                        .as_deref()
                        .is_some_and(|h| password_matches(h, password))
                    && self.tenant(u.tenant_id).await.is_ok_and(|t| t.enabled)
            }
            None => {
                // The same work as a real check, so timing does not tell which e-mails exist.
                let _ = hash_password("not-a-real-password");
                false
            }
        };
        match user {
            Some(u) if ok => Ok(u),
            _ => {
                self.login_bucket(&account, 1, ACCOUNT_BURST, ACCOUNT_PER_SEC)
                    .await?;
                self.login_bucket(&addr, 1, ADDRESS_BURST, ADDRESS_PER_SEC)
                    .await?;
                Err(EngineError::Refused(
                    ErrorCode::InvalidLogin,
                    "e-mail or password does not match".into(),
                ))
            }
        }
    }

    /// Takes `n` tokens from an installation-wide sign-in bucket.
    async fn login_bucket(
        &self,
        key: &str,
        n: u32,
        burst: f64,
        per_sec: f64,
    ) -> Result<ponte_store::RateGrant, EngineError> {
        let now = self.clock.now();
        Ok(self
            .store
            .take_tokens(self.default_tenant(), key, n, burst, per_sec, now)
            .await?)
    }

    /// The person a console session names, while the session is still valid: enabled,
    /// of an enabled tenant, and with the same session epoch.
    pub async fn session_user(
        &self,
        tenant: TenantId,
        id: UserId,
        epoch: i64,
    ) -> Result<Caller, EngineError> {
        let u = self.store.user(tenant, id).await?;
        let Some(u) = u.filter(|u| u.enabled && u.session_epoch == epoch) else {
            return Err(EngineError::Refused(
                ErrorCode::Unauthorized,
                "session ended".into(),
            ));
        };
        if !self.tenant(tenant).await?.enabled {
            return Err(crate::auth::tenant_disabled());
        }
        Ok(Caller {
            tenant,
            role: u.role,
            actor: user_actor(&u),
        })
    }

    /// A one-time link for a person to set a new password (`ponte user reset-password`):
    /// the previous link stops working, and so do their sessions once it is used.
    pub async fn password_reset_link(
        &self,
        actor: &Actor,
        email: &str,
    ) -> Result<String, EngineError> {
        let email = checked_email(email)?;
        let mut u = (self.store.user_by_email(&email).await?)
            .ok_or(EngineError::NotFound(ErrorCode::UserNotFound))?;
        let token = new_token();
        let now = self.clock.now();
        u.reset_hash = Some(hash_token(&token));
        u.reset_expires_at = Some(now + RESET_LINK_TTL);
        u.updated_at = now;
        self.store.update_user(&u).await?;
        self.audit(
            u.tenant_id,
            actor,
            "user.password_reset_link",
            Some(u.id.to_string()),
            serde_json::json!({"email": u.email}),
        )
        .await;
        Ok(self.reset_link(&token))
    }

    /// Whether a one-time link's token is valid (the page that uses it asks first).
    pub async fn reset_token_valid(&self, token: &str) -> Result<bool, EngineError> {
        let u = self.store.user_by_reset(&hash_token(token)).await?;
        let now = self.clock.now();
        Ok(u.is_some_and(|u| u.reset_expires_at.is_some_and(|e| e > now)))
    }

    /// Sets a password with a one-time link's token; the link stops working and the
    /// person's other sessions end.
    pub async fn set_password_with_link(
        &self,
        token: &str,
        password: &str,
    ) -> Result<User, EngineError> {
        let now = self.clock.now();
        let invalid = || {
            EngineError::Refused(
                ErrorCode::InvalidLogin,
                "this link is not valid any more".into(),
            )
        };
        let mut u = (self.store.user_by_reset(&hash_token(token)).await?).ok_or_else(invalid)?;
        if u.reset_expires_at.is_none_or(|e| e <= now) {
            return Err(invalid());
        }
        u.password_hash = Some(hash_password(password)?);
        u.reset_hash = None;
        u.reset_expires_at = None;
        u.session_epoch += 1;
        u.updated_at = now;
        self.store.update_user(&u).await?;
        self.audit(
            u.tenant_id,
            &user_actor(&u),
            "user.password_set",
            Some(u.id.to_string()),
            serde_json::json!({"email": u.email}),
        )
        .await;
        Ok(u)
    }

    fn reset_link(&self, token: &str) -> String {
        format!(
            "{}/console/password?token={token}",
            self.config.public_url.trim_end_matches('/')
        )
    }
}

/// A person as an actor.
pub fn user_actor(u: &User) -> Actor {
    Actor {
        kind: "user".into(),
        id: u.id.to_string(),
        name: u.email.clone(),
    }
}

fn too_many(wait: Duration) -> EngineError {
    EngineError::Refused(
        ErrorCode::TooManyAttempts,
        format!(
            "too many failed sign-ins for this account or from this address: try again in {} s",
            wait.as_secs().max(1)
        ),
    )
}
