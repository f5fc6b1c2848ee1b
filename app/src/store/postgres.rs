//! The PostgreSQL implementation of [`Store`], for cluster mode: every node opens the same
//! database, so nothing here may rely on being the only writer. A room's `last_seq` row lock
//! orders posts to that room across nodes; unique keys (not in-process checks) make retries
//! idempotent; messages are hash-partitioned by room. Posts share commits (see [`posts`]) as
//! they do on SQLite.
//!
//! The `Store` methods and most of the SQL are written once for both backends in `store/sql/`
//! and compiled in here; this file holds what is PostgreSQL's own: connecting, the pools and
//! the writer lanes, and the types and [`Dialect`] those shared files run on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

written_once!(sqlx::Postgres, Dialect::Postgres, PgStore);

mod batch;
mod bulk;
mod search;

use access::{is_unique_violation, no_such_user, not_found, owners, Access, ROOM_KIND};

use super::dialect::Dialect;
use super::group_commit::Posts;
use super::{StoreError, StoreResult};

/// Connections per node. Posts use one of them at a time (group commit); the rest serve reads.
const CONNECTIONS: u32 = 16;
/// Writer tasks for posts, each with its own share of the rooms (see `group_commit::Posts`).
const WRITER_LANES: usize = 2;
/// How long a caller waits for a free connection before the request fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections kept for session lookups alone: every request starts with one, and none may
/// wait behind long reads (a large backup, a slow search) holding the main pool.
const SESSION_CONNECTIONS: u32 = 2;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    /// The pool, under the two names the methods written for both backends use: reads and
    /// writes share it here.
    read: PgPool,
    write: PgPool,
    /// Session lookups only (see [`SESSION_CONNECTIONS`]).
    sessions: PgPool,
    /// The group-commit writer that stores posts.
    posts: Posts,
}

/// A list of names as PostgreSQL takes it: a `TEXT[]`.
fn names_param(names: &[String]) -> &[String] {
    names
}

/// A list of ids as PostgreSQL takes it: a `BIGINT[]`.
fn ids_param(ids: &[i64]) -> &[i64] {
    ids
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…`) and applies migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::connect(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with `options` (tests use them to give each case a schema of its own) and
    /// applies migrations. Nodes starting together take turns: the migrator holds a lock.
    pub async fn connect(options: PgConnectOptions) -> StoreResult<Self> {
        // Every statement is prepared once per connection. With a custom plan per execution,
        // PostgreSQL plans each history read again for the 16 partitions (about 1 ms, more than
        // the read); a generic plan prunes partitions when it runs (0.02 ms to plan). All of
        // Confab's statements are key lookups and short ranges, which a generic plan serves.
        let options = options.options([("plan_cache_mode", "force_generic_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations_postgres").run(&pool).await?;
        let sessions = PgPoolOptions::new()
            .max_connections(SESSION_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let posts = Posts::spawn(posts::Writer(pool.clone()), WRITER_LANES);
        Ok(Self {
            read: pool.clone(),
            write: pool,
            sessions,
            posts,
        })
    }

    /// The pools by the names `/metrics` shows: reads and writes share one here.
    fn named_pools(&self) -> [(&'static str, &PgPool); 2] {
        [("main", &self.write), ("sessions", &self.sessions)]
    }

    /// `Store::snapshot`: a file copy is SQLite's; PostgreSQL has its own tools.
    async fn snapshot_to(&self, _path: &std::path::Path) -> StoreResult<()> {
        Err(StoreError::Invalid(
            "confab snapshot copies a SQLite file; for PostgreSQL use pg_dump, or confab backup"
                .into(),
        ))
    }
}
