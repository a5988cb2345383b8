//! `ponte migrate` on both backends, and clear errors for a database that cannot be used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn ponte(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ponte"))
        .args(args)
        .envs(env.iter().copied())
        .env("PONTE_LOG", "error")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn migrate_sqlite_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for _ in 0..2 {
        let (ok, out) = ponte(&["migrate", "--data-dir", d], &[]);
        assert!(ok, "{out}");
        assert!(out.contains("up to date"), "{out}");
    }
}

#[tokio::test]
async fn migrate_postgres_and_clear_errors() {
    use sqlx::Connection;
    let admin = std::env::var("PONTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("ponte_cli_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    for _ in 0..2 {
        let (ok, out) = ponte(&["migrate", "--database-url", &url], &[]);
        assert!(ok, "{out}");
        assert!(
            out.contains("PostgreSQL database") && out.contains("up to date"),
            "{out}"
        );
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();

    let (ok, out) = ponte(
        &[
            "migrate",
            "--database-url",
            "postgres://ponte:secret-pw@127.0.0.1:1/ponte",
        ],
        &[("PONTE_DATABASE_CONNECT_TIMEOUT_SECS", "1")],
    );
    assert!(!ok);
    assert!(out.contains("unreachable"), "{out}");
    assert!(
        !out.contains("secret-pw"),
        "the password is never printed: {out}"
    );

    let (ok, out) = ponte(
        &[
            "migrate",
            "--database-url",
            "postgres://no_such_role_ponte@127.0.0.1:5432/postgres",
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        out.contains("authentication failed") || out.contains("does not exist"),
        "{out}"
    );

    let (ok, out) = ponte(&["migrate", "--database-url", "mysql://x@y/z"], &[]);
    assert!(!ok);
    assert!(out.contains("unsupported database URL"), "{out}");
}
