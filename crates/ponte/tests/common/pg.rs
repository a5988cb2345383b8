//! The e2e tests' one way to get a scratch PostgreSQL database: a fresh, empty one per
//! test on the machine's server (or `PONTE_TEST_DATABASE_URL`), dropped when its
//! [`TestDb`] goes away, even after a failed assertion.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use sqlx::{Connection, PgConnection};
use std::time::Duration;

/// The master key every PostgreSQL instance of a test is given.
pub const MASTER_KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

/// The server the tests use (a database on it to connect to for admin work).
pub fn admin_url() -> String {
    std::env::var("PONTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` pointing at database `db` instead (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    match query {
        Some(q) => format!("{}/{db}?{q}", &base[..path]),
        None => format!("{}/{db}", &base[..path]),
    }
}

/// A fresh, empty database for one test; dropped with this value.
pub struct TestDb {
    name: String,
    /// The database URL to give ponte.
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("ponte_e2e_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("PostgreSQL at PONTE_TEST_DATABASE_URL or 127.0.0.1:5432");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        TestDb {
            url: with_database(&admin_url(), &name),
            name,
        }
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        let _ = conn.close().await;
        v
    }

    /// Whether any row of any table shows `needle`, as text or as `bytea` bytes.
    pub async fn shows(&self, needle: &str) -> bool {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(table_name) FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
        let mut found = false;
        for t in tables {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {t} r WHERE strpos(r::text, $1) > 0 OR strpos(r::text, $2) > 0"
            ))
            .bind(needle)
            .bind(&hex)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            found |= n > 0;
        }
        let _ = conn.close().await;
        found
    }

    /// Every task run, one line each (what a failed wait shows).
    pub async fn runs(&self) -> String {
        let mut conn = PgConnection::connect(&self.url).await.unwrap();
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
}

impl Drop for TestDb {
    /// Drops the database (`WITH (FORCE)`: ponte may still be connected), best effort, on
    /// a thread and runtime of its own: `Drop` cannot await, and may run inside a runtime.
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url()).await?;
                sqlx::query(&sql).execute(&mut admin).await?;
                admin.close().await
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}
