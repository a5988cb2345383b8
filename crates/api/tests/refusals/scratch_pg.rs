//! A scratch PostgreSQL database on the machine's server (or
//! `PONTE_TEST_DATABASE_URL`), dropped when its guard goes away.

use sqlx::{Connection, PgConnection};

fn admin_url() -> String {
    std::env::var("PONTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, empty database.
pub struct ScratchDb {
    name: String,
    /// Its URL.
    pub url: String,
}

impl ScratchDb {
    pub async fn create() -> ScratchDb {
        let name = format!("ponte_api_{:016x}", uuid::Uuid::now_v7().as_u128() as u64);
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        ScratchDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop cannot await: a runtime of its own, on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}
