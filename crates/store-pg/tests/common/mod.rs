//! Scratch databases for the PostgreSQL tests: one fresh database per store, dropped
//! when the [`Databases`] guard goes away (even after a failed assertion).
#![allow(dead_code)]

use ponte_store_pg::PgStore;
use sqlx::{Connection, PgConnection};
use std::sync::Mutex;

/// The server the tests use (a database on it to connect to for admin work).
pub fn admin_url() -> String {
    std::env::var("PONTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` pointing at database `db` instead.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{db}", &base[..path]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Creates scratch databases and drops them all at the end.
#[derive(Default)]
pub struct Databases {
    names: Mutex<Vec<String>>,
}

impl Databases {
    /// A new empty database; its URL.
    pub async fn create(&self) -> String {
        let name = format!("ponte_conf_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        self.names.lock().unwrap().push(name.clone());
        with_database(&admin_url(), &name)
    }

    /// Two instances (each its own pool of `size` connections) on a new, migrated
    /// database, and its URL.
    pub async fn instances(&self, size: u32) -> (PgStore, PgStore, String) {
        let url = self.create().await;
        let a = PgStore::connect(&url, size).await.unwrap();
        a.migrate().await.unwrap();
        let b = PgStore::connect(&url, size).await.unwrap();
        (a, b, url)
    }

    /// A store on a new, migrated database.
    pub async fn store(&self) -> PgStore {
        let url = self.create().await;
        let store = PgStore::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(|e| e.into_inner()));
        if names.is_empty() {
            return;
        }
        // Best effort, on a runtime of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url()).await?;
                for name in names {
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await?;
                }
                admin.close().await
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}
