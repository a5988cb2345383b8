//! Tenants, tokens, people and the audit trail.

use super::{page_of, t0};
use crate::*;
use chrono::Duration as CDuration;
use ponte_core::{Addon, AuditId, Plan, Role, TenantId, TokenId, UserId};

fn tenant(name: &str, plan: Plan) -> Tenant {
    Tenant {
        id: TenantId::new(),
        name: name.into(),
        plan,
        addons: vec![],
        enabled: true,
        is_default: false,
        created_at: t0(),
    }
}

fn token(t: TenantId, hash: &str, role: Role) -> ApiToken {
    ApiToken {
        tenant_id: t,
        id: TokenId::new(),
        name: format!("token {hash}"),
        role,
        token_hash: hash.into(),
        bootstrap: false,
        created_at: t0(),
        expires_at: None,
        last_used_at: None,
    }
}

fn user(t: TenantId, email: &str) -> User {
    User {
        tenant_id: t,
        id: UserId::new(),
        email: email.into(),
        name: "Ana".into(),
        role: Role::Operator,
        enabled: true,
        password_hash: Some("$argon2id$v=19$...".into()),
        reset_hash: None,
        reset_expires_at: None,
        session_epoch: 0,
        created_at: t0(),
        updated_at: t0(),
    }
}

pub async fn tenants_have_plans_and_states(s: &impl Store) {
    let d = s.default_tenant(t0()).await.unwrap();
    assert_eq!(s.default_tenant(t0()).await.unwrap(), d, "stable");
    let default = s.tenant(d).await.unwrap().unwrap();
    assert_eq!(
        (default.plan, default.is_default, default.enabled),
        (Plan::Master, true, true)
    );
    let mut b = tenant("Loja B", Plan::Avancado);
    s.insert_tenant(&b).await.unwrap();
    assert_eq!(s.tenant(b.id).await.unwrap().unwrap(), b);
    b.addons = vec![Addon::InstantEvents];
    b.enabled = false;
    b.name = "Loja B2".into();
    s.update_tenant(&b).await.unwrap();
    assert_eq!(s.tenant(b.id).await.unwrap().unwrap(), b);
    let all = s.tenant_list().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(s.tenant(TenantId::new()).await.unwrap().is_none());
    assert!(matches!(
        s.update_tenant(&tenant("x", Plan::Pro)).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn a_disabled_tenants_tasks_wait(s: &impl Store) {
    let mut b = tenant("B", Plan::Pro);
    s.insert_tenant(&b).await.unwrap();
    let task = NewTask {
        tenant_id: b.id,
        kind: TaskKind::AutoCancel,
        channel_id: None,
        interval_secs: 600,
        next_run_at: t0(),
        cursor: None,
    };
    s.ensure_tasks(&[task], t0()).await.unwrap();
    assert_eq!(s.due_tasks(t0(), 10).await.unwrap().len(), 1);
    b.enabled = false;
    s.update_tenant(&b).await.unwrap();
    assert!(s.due_tasks(t0(), 10).await.unwrap().is_empty());
    b.enabled = true;
    s.update_tenant(&b).await.unwrap();
    assert_eq!(
        s.due_tasks(t0(), 10).await.unwrap().len(),
        1,
        "due again at once"
    );
}

pub async fn tokens_are_found_by_hash_and_revoked(s: &impl Store) {
    let a = s.default_tenant(t0()).await.unwrap();
    let b = tenant("B", Plan::Pro);
    s.insert_tenant(&b).await.unwrap();
    let ka = token(a, "hash-a", Role::Viewer);
    let kb = token(b.id, "hash-b", Role::Admin);
    s.insert_token(&ka).await.unwrap();
    s.insert_token(&kb).await.unwrap();
    assert!(
        matches!(
            s.insert_token(&token(a, "hash-a", Role::Admin)).await,
            Err(StoreError::Conflict(_))
        ),
        "a hash is one token"
    );
    let (found, owner) = s.token_by_hash("hash-b").await.unwrap().unwrap();
    assert_eq!((found, owner.id), (kb.clone(), b.id));
    assert!(s.token_by_hash("zzz").await.unwrap().is_none());
    assert_eq!(s.tokens(a).await.unwrap(), vec![ka.clone()]);
    s.touch_token(a, ka.id, t0() + CDuration::minutes(5))
        .await
        .unwrap();
    let touched = s.token_by_hash("hash-a").await.unwrap().unwrap().0;
    assert_eq!(touched.last_used_at, Some(t0() + CDuration::minutes(5)));
    assert!(
        !s.delete_token(b.id, ka.id).await.unwrap(),
        "another tenant's token stays"
    );
    assert!(s.delete_token(a, ka.id).await.unwrap());
    assert!(s.token_by_hash("hash-a").await.unwrap().is_none());
    assert_eq!(s.count_api_tokens(a).await.unwrap(), 0);
}

pub async fn a_bootstrap_token_replaces_the_previous_one(s: &impl Store) {
    let a = s.default_tenant(t0()).await.unwrap();
    let boot = |h: &str| ApiToken {
        bootstrap: true,
        ..token(a, h, Role::Admin)
    };
    let other = token(a, "made-by-api", Role::Operator);
    s.insert_token(&other).await.unwrap();
    s.replace_bootstrap_token(&boot("first")).await.unwrap();
    s.replace_bootstrap_token(&boot("first")).await.unwrap();
    assert_eq!(s.count_api_tokens(a).await.unwrap(), 2, "idempotent");
    s.replace_bootstrap_token(&boot("second")).await.unwrap();
    assert!(
        s.token_by_hash("first").await.unwrap().is_none(),
        "replaced"
    );
    assert!(s.token_by_hash("second").await.unwrap().is_some());
    assert!(
        s.token_by_hash("made-by-api").await.unwrap().is_some(),
        "others stay"
    );
}

pub async fn people_have_unique_emails(s: &impl Store) {
    let a = s.default_tenant(t0()).await.unwrap();
    let b = tenant("B", Plan::Pro);
    s.insert_tenant(&b).await.unwrap();
    let mut ana = user(a, "ana@loja.com.br");
    s.insert_user(&ana).await.unwrap();
    assert!(matches!(
        s.insert_user(&user(b.id, "ana@loja.com.br")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.user(a, ana.id).await.unwrap().unwrap(), ana);
    assert!(s.user(b.id, ana.id).await.unwrap().is_none(), "isolated");
    assert_eq!(
        s.user_by_email("ana@loja.com.br").await.unwrap().unwrap(),
        ana
    );
    ana.role = Role::Admin;
    ana.enabled = false;
    ana.reset_hash = Some("reset".into());
    ana.reset_expires_at = Some(t0() + CDuration::hours(1));
    ana.session_epoch = 3;
    ana.updated_at = t0() + CDuration::minutes(1);
    s.update_user(&ana).await.unwrap();
    assert_eq!(s.user_by_reset("reset").await.unwrap().unwrap(), ana);
    let bia = user(a, "bia@loja.com.br");
    s.insert_user(&bia).await.unwrap();
    ana.email = "bia@loja.com.br".into();
    assert!(matches!(
        s.update_user(&ana).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.users(a).await.unwrap().len(), 2);
    assert!(!s.delete_user(b.id, bia.id).await.unwrap());
    assert!(s.delete_user(a, bia.id).await.unwrap());
    assert_eq!(s.users(a).await.unwrap().len(), 1);
}

pub async fn the_audit_trail_filters_and_pages(s: &impl Store) {
    let a = s.default_tenant(t0()).await.unwrap();
    let entry = |i: i64, kind: &str, who: &str| AuditEntry {
        tenant_id: a,
        id: AuditId::new(),
        at: t0() + CDuration::minutes(i),
        actor: Actor {
            kind: "token".into(),
            id: format!("id-{who}"),
            name: who.into(),
        },
        kind: kind.into(),
        target: Some(format!("target-{i}")),
        detail: serde_json::json!({"fields": ["name"]}),
    };
    let mut all = vec![];
    for i in 0..5 {
        let e = entry(
            i,
            if i % 2 == 0 {
                "channel.updated"
            } else {
                "token.created"
            },
            if i < 3 { "erp" } else { "ana" },
        );
        s.insert_audit(&e).await.unwrap();
        all.push(e);
    }
    let f = |actor: Option<&str>, kind: Option<&str>| AuditFilter {
        actor: actor.map(Into::into),
        kind: kind.map(Into::into),
        ..AuditFilter::default()
    };
    let got = s.audit(a, &f(None, None), &page_of(10)).await.unwrap();
    assert_eq!(got.items.first(), all.last(), "newest first");
    assert_eq!(got.items.len(), 5);
    assert_eq!(
        s.audit(a, &f(Some("ana"), None), &page_of(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        s.audit(a, &f(Some("id-erp"), None), &page_of(10))
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert_eq!(
        s.audit(a, &f(None, Some("token.created")), &page_of(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let window = AuditFilter {
        from: Some(t0() + CDuration::minutes(1)),
        to: Some(t0() + CDuration::minutes(3)),
        ..AuditFilter::default()
    };
    assert_eq!(
        s.audit(a, &window, &page_of(10)).await.unwrap().items.len(),
        2
    );
    let first = s.audit(a, &f(None, None), &page_of(3)).await.unwrap();
    let rest = s
        .audit(
            a,
            &f(None, None),
            &PageRequest {
                cursor: first.next_cursor,
                limit: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert!(s
        .audit(TenantId::new(), &f(None, None), &page_of(10))
        .await
        .unwrap()
        .items
        .is_empty());
}
