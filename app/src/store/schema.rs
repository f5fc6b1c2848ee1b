//! Where a database's schema stands against this build's migrations, read without changing
//! anything (`confab doctor`): opening a store migrates it, which is what a check must not do.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{StoreError, StoreResult};

/// How long the database has to let us in.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// A database's migrations, compared with the ones this build carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// Migrations this build carries.
    pub known: usize,
    /// Of those, applied to the database.
    pub applied: usize,
    /// This build's migrations not yet applied (they run at the next start), by description.
    pub pending: Vec<String>,
    /// Versions applied that this build does not know: a newer Confab migrated the database.
    pub unknown: Vec<i64>,
    /// Migrations whose applied text differs from this build's, or that failed half-way.
    pub damaged: Vec<String>,
}

/// The schema of the database at `url` (a `sqlite:` or `postgres://` URL), or `None` for a
/// SQLite file that does not exist yet (it is created at the first start).
pub async fn inspect(url: &str) -> StoreResult<Option<SchemaState>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_LIMIT)
            .connect_with(PgConnectOptions::from_str(url)?)
            .await?;
        let rows = sqlx::query_as(APPLIED).fetch_all(&pool).await;
        pool.close().await;
        Ok(Some(compare(
            &sqlx::migrate!("./migrations_postgres"),
            unless_new(rows)?,
        )))
    } else if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?.read_only(true);
        if !options.get_filename().exists() {
            return Ok(None);
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_LIMIT)
            .connect_with(options)
            .await?;
        let rows = sqlx::query_as(APPLIED).fetch_all(&pool).await;
        pool.close().await;
        Ok(Some(compare(
            &sqlx::migrate!("./migrations"),
            unless_new(rows)?,
        )))
    } else {
        Err(StoreError::Invalid(format!("not a database URL: {url}")))
    }
}

/// The migrations a database has applied: version, checksum, and whether it completed.
type Applied = Vec<(i64, Vec<u8>, bool)>;

const APPLIED: &str = "SELECT version, checksum, success FROM _sqlx_migrations";

/// The applied migrations, or none for a database never migrated (it has no table for them).
fn unless_new(rows: Result<Applied, sqlx::Error>) -> StoreResult<Applied> {
    match rows {
        Ok(rows) => Ok(rows),
        Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Compares the applied migrations with `migrator`'s.
fn compare(migrator: &Migrator, applied: Applied) -> SchemaState {
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let mut state = SchemaState {
        known: known.len(),
        applied: 0,
        pending: Vec::new(),
        unknown: Vec::new(),
        damaged: Vec::new(),
    };
    for migration in &known {
        let name = format!("{} {}", migration.version, migration.description);
        match applied
            .iter()
            .find(|(version, _, _)| *version == migration.version)
        {
            None => state.pending.push(name),
            Some((_, checksum, success)) => {
                state.applied += 1;
                if !success || checksum.as_slice() != &*migration.checksum {
                    state.damaged.push(name);
                }
            }
        }
    }
    state.unknown = applied
        .iter()
        .map(|(version, _, _)| *version)
        .filter(|version| !known.iter().any(|m| m.version == *version))
        .collect();
    state
}
