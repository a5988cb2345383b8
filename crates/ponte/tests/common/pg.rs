//! A scratch PostgreSQL database per test, on the machine's server (or
//! `PONTE_TEST_DATABASE_URL`), dropped at the end.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sqlx::Connection;
use std::time::Duration;

pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const MASTER_KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

/// A fresh, empty database for one test; dropped at the end.
pub struct TestDb {
    name: String,
    /// The database URL to give ponte.
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let admin = std::env::var("PONTE_TEST_DATABASE_URL").unwrap_or_else(|_| ADMIN_URL.into());
        let name = format!("ponte_e2e_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }

    /// Every task run, one line each (what a failed wait shows).
    pub async fn runs(&self) -> String {
        let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar(
            "SELECT COALESCE(string_agg(format('%s %s %s..%s %s %s', trigger, state, started_at, \
             finished_at, counts, error), E'\\n' ORDER BY created_at), '') FROM task_runs",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }

    /// Waits (up to two minutes) until `n` scheduled runs have succeeded.
    pub async fn wait_scheduled_successes(&self, n: i64) {
        let start = std::time::Instant::now();
        let sql =
            "SELECT COUNT(*) FROM task_runs WHERE trigger = 'schedule' AND state = 'succeeded'";
        while self.scalar(sql).await < n {
            if start.elapsed() > Duration::from_secs(120) {
                panic!(
                    "fewer than {n} scheduled runs succeeded:\n{}",
                    self.runs().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn drop_db(self) {
        let admin = std::env::var("PONTE_TEST_DATABASE_URL").unwrap_or_else(|_| ADMIN_URL.into());
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}
