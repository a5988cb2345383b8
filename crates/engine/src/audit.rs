//! The audit trail: who (a token, a person, the installation's admin) changed what
//! and when. Entries name fields and non-secret values, never a credential or password.

use crate::{Engine, EngineError};
use ponte_core::{AuditId, TenantId};
use ponte_store::{Actor, AuditEntry, AuditFilter, Page, PageRequest};

/// The installation's admin (`PONTE_ADMIN_TOKEN`) as an actor.
pub fn installation_admin() -> Actor {
    Actor {
        kind: "installation_admin".into(),
        id: String::new(),
        name: "PONTE_ADMIN_TOKEN".into(),
    }
}

/// The command line (`ponte tenant ...`, `ponte user ...`) as an actor.
pub fn command_line() -> Actor {
    Actor {
        kind: "cli".into(),
        id: String::new(),
        name: "ponte command line".into(),
    }
}

/// Keys whose values never reach the trail: their presence is recorded as replaced.
const SECRET_KEYS: [&str; 5] = ["credentials", "password", "secret", "token", "key"];

/// `value` with every secret replaced by `"[replaced]"` (an object of credentials by
/// its keys, each `"[replaced]"`): what a change did, never a secret.
pub fn redact(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let secret = SECRET_KEYS.iter().any(|s| k.to_lowercase().contains(s));
                    let shown = match (secret, v) {
                        (true, Value::Object(inner)) => Value::Object(
                            inner
                                .keys()
                                .map(|k| (k.clone(), Value::from("[replaced]")))
                                .collect(),
                        ),
                        (true, Value::Null) => Value::Null,
                        (true, _) => Value::from("[replaced]"),
                        (false, v) => redact(v),
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

impl Engine {
    /// Appends to a tenant's audit trail (its detail redacted with [`redact`]). A
    /// failure to write it is logged: the change it records is already made.
    pub async fn audit(
        &self,
        tenant: TenantId,
        actor: &Actor,
        kind: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) {
        let entry = AuditEntry {
            tenant_id: tenant,
            id: AuditId::new(),
            at: self.clock.now(),
            actor: actor.clone(),
            kind: kind.to_owned(),
            target,
            detail: redact(&detail),
        };
        if let Err(e) = self.store.insert_audit(&entry).await {
            tracing::error!(error = %e, %tenant, kind, "audit entry not written");
        }
    }

    /// A tenant's audit trail, newest first.
    pub async fn audit_trail(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, EngineError> {
        Ok(self.store.audit(tenant, filter, page).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::redact;
    use serde_json::json;

    #[test]
    fn secrets_are_named_never_shown() {
        let got = redact(&json!({
            "name": "Loja",
            "settings": {"store_id": "1", "instant_events": false},
            "credentials": {"access_token": "abc", "app_secret": "s"},
            "password": "hunter22",
            "items": [{"api_key": "k", "sku": "A"}]
        }));
        assert_eq!(
            got,
            json!({
                "name": "Loja",
                "settings": {"store_id": "1", "instant_events": false},
                "credentials": {"access_token": "[replaced]", "app_secret": "[replaced]"},
                "password": "[replaced]",
                "items": [{"api_key": "[replaced]", "sku": "A"}]
            })
        );
    }
}
