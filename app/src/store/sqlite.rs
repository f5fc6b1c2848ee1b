//! The SQLite implementation of [`Store`]: one file, WAL mode, one writer connection and a small
//! pool of readers. A single writer means writes queue in the pool instead of fighting over the
//! database lock, and `synchronous=FULL` means a returned write has reached the disk. Posts,
//! the hot write, share commits (see [`posts`]), so one disk sync makes many of them durable.
//!
//! The `Store` methods and most of the SQL are written once for both backends in `store/sql/`
//! and compiled in here; this file holds what is SQLite's own: opening the file and its pools,
//! and the types and [`Dialect`] those shared files run on.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

written_once!(sqlx::Sqlite, Dialect::Sqlite, SqliteStore);

mod batch;
mod bulk;
mod search;

use access::{is_unique_violation, no_such_user, not_found, owners, Access, ROOM_KIND};

use super::dialect::Dialect;
use super::group_commit::Posts;
use super::{StoreError, StoreResult};

/// How long a connection waits for the database lock before giving up (another process, such as
/// a backup, may hold it briefly).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections; reads in WAL mode never wait for the writer.
const READ_CONNECTIONS: u32 = 8;
/// Reader connections kept for session lookups alone: every request starts with one, and none
/// may wait behind long reads (a large backup, a slow search) holding the other readers.
const SESSION_CONNECTIONS: u32 = 2;
/// Rows buffered between a reader connection's worker thread and the caller.
const ROW_CHANNEL: usize = 1024;

/// How hard SQLite works to keep a committed write across a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit is on disk before it returns. What we promise users.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit may be lost on power failure (never corrupted). For
    /// measurements only.
    Normal,
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    /// Session lookups only (see [`SESSION_CONNECTIONS`]).
    sessions: SqlitePool,
    write: SqlitePool,
    /// The group-commit writer that stores posts.
    posts: Posts,
}

/// A list of names as SQLite takes it: a JSON array.
fn names_param(names: &[String]) -> Option<String> {
    super::rows::list_json(names)
}

/// A list of ids as SQLite takes it: a JSON array.
fn ids_param(ids: &[i64]) -> Option<String> {
    super::rows::list_json(ids)
}

impl SqliteStore {
    /// Opens (creating if needed, with its folder) the database at `url` and applies migrations.
    pub async fn open(url: &str, durability: Durability) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            });
        if let Some(dir) = options.get_filename().parent() {
            if dir != Path::new("") {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                        e.kind(),
                        format!("cannot create {}: {e}", dir.display()),
                    )))
                })?;
            }
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            // 64 MiB of page cache for the writer: posts to many rooms at once touch index pages
            // all over the file, and with the default 2 MiB each batch re-read them
            // (durable posts/s over WebSockets into 2,500 DMs: 17,800 → 20,000 offered and acked).
            .connect_with(options.clone().pragma("cache_size", "-65536"))
            .await?;
        sqlx::migrate!("./migrations").run(&write).await?;
        // Rows cross from SQLite's worker thread to the caller over a channel; a deep one lets
        // the worker run ahead on long reads (backups) instead of waking the reader per row.
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.clone().row_buffer_size(ROW_CHANNEL))
            .await?;
        let sessions = SqlitePoolOptions::new()
            .max_connections(SESSION_CONNECTIONS)
            .connect_with(options)
            .await?;
        // One lane: SQLite has one writer.
        let posts = Posts::spawn(posts::Writer(write.clone()), 1);
        Ok(Self {
            read,
            sessions,
            write,
            posts,
        })
    }

    /// The pools by the names `/metrics` shows: the one writer, session lookups, and readers.
    fn named_pools(&self) -> [(&'static str, &SqlitePool); 3] {
        [
            ("write", &self.write),
            ("sessions", &self.sessions),
            ("read", &self.read),
        ]
    }

    /// `Store::snapshot`: a consistent copy of the database file at `path`.
    async fn snapshot_to(&self, path: &Path) -> StoreResult<()> {
        bulk::snapshot(&self.read, path).await
    }
}
