//! A row ponte cannot decode is a `Corrupt` error naming table and column, never a panic
//! (SQLite stores any value in any column).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use ponte_core::ChannelId;
use ponte_store::{Channel, ChannelStore, StoreError, TenantStore};
use ponte_store_sqlite::SqliteStore;
use sqlx::Connection;

#[tokio::test]
async fn a_bad_value_is_a_corrupt_error_naming_its_table_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ponte.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let t = store.default_tenant(Utc::now()).await.unwrap();
    let c = Channel {
        id: ChannelId::new(),
        tenant_id: t,
        platform: "nuvemshop".into(),
        name: "Loja".into(),
        settings: serde_json::json!({}),
        credentials: vec![1],
        enabled: true,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    store.insert_channel(&c).await.unwrap();
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for (column, value) in [("created_at", "'yesterday'"), ("name", "x'ff00'")] {
        sqlx::query(&format!("UPDATE channels SET {column} = {value}"))
            .execute(&mut raw)
            .await
            .unwrap();
        match store.channels(t).await {
            Err(StoreError::Corrupt(m)) => {
                assert!(m.contains(column) && m.contains("table channels"), "{m}")
            }
            other => panic!("{column}: expected a corrupt record, got {other:?}"),
        }
        sqlx::query(&format!("UPDATE channels SET {column} = 1"))
            .execute(&mut raw)
            .await
            .unwrap();
    }
}
