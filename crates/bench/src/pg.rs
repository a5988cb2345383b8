//! A scratch PostgreSQL database per scenario (the machine's server, trust auth).

use sqlx::Connection;

/// Admin connection; `PONTE_BENCH_DATABASE_URL` overrides it.
fn admin_url() -> String {
    std::env::var("PONTE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database, dropped by [`TestDb::drop_db`].
pub struct TestDb {
    name: String,
    /// Its URL.
    pub url: String,
}

impl TestDb {
    /// Creates an empty database.
    pub async fn create() -> anyhow::Result<TestDb> {
        let admin = admin_url();
        let name = format!("ponte_bench_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or(admin);
        Ok(TestDb {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Drops it (best effort).
    pub async fn drop_db(&self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}
