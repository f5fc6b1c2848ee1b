//! Test support: a PostgreSQL database of its own for each test, as a new schema of the
//! database `CONFAB_TEST_POSTGRES_URL` names, so tests (and the `confab` processes some of them
//! start) run side by side without seeing each other. `./dev.sh test` makes that database for
//! the run and drops it afterwards.

use app::store::postgres::PgStore;
use sqlx::postgres::PgConnection;
use sqlx::Connection;

/// The test database's URL, if this run has one.
pub fn url() -> Option<String> {
    std::env::var("CONFAB_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The URL of a new, empty schema (every connection made with it works in that schema);
/// `None` without `CONFAB_TEST_POSTGRES_URL`.
pub async fn fresh_url() -> Option<String> {
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
    let join = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{join}options=-c%20search_path%3D{schema}"))
}

/// A migrated store in a new, empty schema; `None` without `CONFAB_TEST_POSTGRES_URL`.
#[allow(dead_code)] // Not every test crate that includes this file opens stores itself.
pub async fn fresh_store() -> Option<PgStore> {
    let url = fresh_url().await?;
    Some(
        PgStore::open(&url)
            .await
            .unwrap_or_else(|e| panic!("opening the PostgreSQL store: {e}")),
    )
}
