//! People: sign-in with argon2id passwords, failed attempts limited per account and per
//! address, sessions that end when the password, role or state changes, and one-time
//! password links.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ponte_core::{ErrorCode, Role, SystemClock};
use ponte_engine::{
    installation_admin, Caller, Cipher, Engine, EngineConfig, MasterKey, UserInput, UserPatch,
};
use ponte_store::Actor;
use ponte_store_sqlite::SqliteStore;
use std::sync::Arc;

async fn engine() -> (tempfile::TempDir, Arc<Engine>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("p.db")).await.unwrap());
    let key = MasterKey::parse(&"ab".repeat(32)).unwrap();
    let e = Engine::new(
        store,
        Arc::new(SystemClock),
        Cipher::new(&key),
        EngineConfig::default(),
    )
    .await
    .unwrap();
    (dir, e)
}

fn admin(e: &Engine) -> Caller {
    Caller {
        tenant: e.default_tenant(),
        role: Role::Admin,
        actor: Actor {
            kind: "token".into(),
            id: "t".into(),
            name: "test".into(),
        },
    }
}

const PW: &str = "uma-senha-bem-longa";

#[tokio::test]
async fn a_person_signs_in_and_sessions_end_when_the_password_changes() {
    let (_d, e) = engine().await;
    let input = UserInput {
        email: "Ana@Loja.com.br".into(),
        name: "Ana".into(),
        role: Role::Operator,
        password: Some(PW.into()),
    };
    let (u, link) = e.create_user(&admin(&e), input).await.unwrap();
    assert!(link.is_none());
    assert!(u
        .password_hash
        .as_deref()
        .unwrap()
        .starts_with("$argon2id$"));
    let signed = e.sign_in("ana@loja.com.br", PW, "10.0.0.1").await.unwrap();
    let caller = e
        .session_user(signed.tenant_id, signed.id, signed.session_epoch)
        .await
        .unwrap();
    assert_eq!(
        (caller.role, caller.actor.name.as_str()),
        (Role::Operator, "ana@loja.com.br")
    );
    let wrong = e
        .sign_in("ana@loja.com.br", "not-the-password", "10.0.0.1")
        .await;
    assert_eq!(wrong.unwrap_err().code(), ErrorCode::InvalidLogin);
    let patch = UserPatch {
        password: Some("outra-senha-longa".into()),
        ..UserPatch::default()
    };
    e.update_user(&admin(&e), u.id, patch).await.unwrap();
    let ended = e
        .session_user(signed.tenant_id, signed.id, signed.session_epoch)
        .await;
    assert_eq!(ended.unwrap_err().code(), ErrorCode::Unauthorized);
    let disable = UserPatch {
        enabled: Some(false),
        ..UserPatch::default()
    };
    e.update_user(&admin(&e), u.id, disable).await.unwrap();
    let off = e
        .sign_in("ana@loja.com.br", "outra-senha-longa", "10.0.0.2")
        .await;
    assert_eq!(
        off.unwrap_err().code(),
        ErrorCode::InvalidLogin,
        "disabled: same answer"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account_and_per_address() {
    let (_d, e) = engine().await;
    let input = UserInput {
        email: "bia@loja.com.br".into(),
        name: "Bia".into(),
        role: Role::Viewer,
        password: Some(PW.into()),
    };
    e.create_user(&admin(&e), input).await.unwrap();
    for i in 0..5 {
        let r = e
            .sign_in("bia@loja.com.br", "wrong-password", &format!("10.0.1.{i}"))
            .await;
        assert_eq!(
            r.unwrap_err().code(),
            ErrorCode::InvalidLogin,
            "attempt {i}"
        );
    }
    // The account is held now, even with the right password and from a new address.
    let held = e.sign_in("bia@loja.com.br", PW, "10.0.1.99").await;
    assert_eq!(held.unwrap_err().code(), ErrorCode::TooManyAttempts);
    // One address trying many accounts is held too.
    for i in 0..20 {
        let r = e
            .sign_in(&format!("x{i}@loja.com.br"), "wrong-password", "10.9.9.9")
            .await;
        assert_eq!(
            r.unwrap_err().code(),
            ErrorCode::InvalidLogin,
            "attempt {i}"
        );
    }
    let r = e
        .sign_in("y@loja.com.br", "wrong-password", "10.9.9.9")
        .await;
    assert_eq!(r.unwrap_err().code(), ErrorCode::TooManyAttempts);
}

#[tokio::test]
async fn a_one_time_link_sets_the_password_once() {
    let (_d, e) = engine().await;
    let input = UserInput {
        email: "caio@loja.com.br".into(),
        name: "Caio".into(),
        role: Role::Admin,
        password: None,
    };
    let (_, link) = e.create_user(&admin(&e), input).await.unwrap();
    let first = link.unwrap();
    let again = e
        .password_reset_link(&installation_admin(), "caio@loja.com.br")
        .await
        .unwrap();
    let token = |l: &str| l.split("token=").nth(1).unwrap().to_owned();
    assert!(
        !e.reset_token_valid(&token(&first)).await.unwrap(),
        "replaced"
    );
    assert!(e.reset_token_valid(&token(&again)).await.unwrap());
    let short = e.set_password_with_link(&token(&again), "curta").await;
    assert_eq!(short.unwrap_err().code(), ErrorCode::ValidationFailed);
    e.set_password_with_link(&token(&again), PW).await.unwrap();
    let used = e.set_password_with_link(&token(&again), PW).await;
    assert_eq!(
        used.unwrap_err().code(),
        ErrorCode::InvalidLogin,
        "used once"
    );
    e.sign_in("caio@loja.com.br", PW, "10.0.2.1").await.unwrap();
    let trail = e
        .audit_trail(
            e.default_tenant(),
            &Default::default(),
            &ponte_store::PageRequest {
                cursor: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    let kinds: Vec<&str> = trail.items.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "user.password_set",
            "user.password_reset_link",
            "user.created"
        ]
    );
}
