//! Test support: a PostgreSQL store of its own for each test, in a new schema of the database
//! `CONFAB_TEST_POSTGRES_URL` names, so tests run side by side without seeing each other.

use std::str::FromStr;

use app::store::postgres::PgStore;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

/// The test database's URL, if this run has one.
pub fn url() -> Option<String> {
    std::env::var("CONFAB_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A migrated store in a new, empty schema; `None` without `CONFAB_TEST_POSTGRES_URL`.
pub async fn fresh_store() -> Option<PgStore> {
    let url = url()?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connecting to CONFAB_TEST_POSTGRES_URL: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating schema {schema}: {e}"));
    admin.close().await.ok();
    let options = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("CONFAB_TEST_POSTGRES_URL: {e}"))
        .options([("search_path", schema.as_str())]);
    Some(
        PgStore::connect(options)
            .await
            .unwrap_or_else(|e| panic!("opening the PostgreSQL store: {e}")),
    )
}
