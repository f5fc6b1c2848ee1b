//! The SQLite implementation of [`Store`]: one file, WAL mode, one writer connection and a small
//! pool of readers. A single writer means writes queue in the pool instead of fighting over the
//! database lock, and `synchronous=FULL` means a returned write has reached the disk. Posts,
//! the hot write, share commits (see [`posts`]), so one disk sync makes many of them durable.
//!
//! The `Store` methods and most of the SQL are written once for both backends in `store/sql/`
//! and compiled in here; this file holds what is SQLite's own: opening the file and its pools,
//! and the dialect items those shared files name.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

#[path = "sql/access.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "written once, compiled into each backend"
)]
mod access;
#[path = "sql/backup.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "written once, compiled into each backend"
)]
mod backup;
mod bulk;
#[path = "sql/changes.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "written once, compiled into each backend"
)]
mod changes;
#[path = "sql/methods.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "written once, compiled into each backend"
)]
mod methods;
mod posts;
mod push;
mod search;
#[path = "sql/threads.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "written once, compiled into each backend"
)]
mod threads;

use access::{is_unique_violation, no_such_user, not_found, Access};

use super::group_commit::Posts;
use super::{StoreError, StoreResult};
use crate::model::{Message, RoomId};

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

/// The display name of a room for viewer `?1`: the room's name, or for a direct conversation
/// the other members, comma-separated in name order (yourself for a note-to-self).
const DISPLAY_NAME: &str = "COALESCE(r.name, \
     (SELECT group_concat(u.username, ', ' ORDER BY u.username COLLATE NOCASE, u.id) FROM memberships o \
      JOIN users u ON u.id = o.user_id WHERE o.room_id = r.id AND o.user_id <> ?1), \
     (SELECT username FROM users WHERE id = ?1))";

/// Columns of a message joined with its author, in [`super::rows::message`] order.
const MESSAGE_COLUMNS: &str = "m.uid, m.room_id, m.seq, u.username, m.body, m.created_at, \
     m.client_id, m.rev, m.edited_at, m.deleted_at, m.reactions, m.html, m.mentions, \
     (SELECT t.seq FROM messages t WHERE t.uid = m.thread_uid), m.also_in_room, \
     m.reply_count, m.last_reply_at, \
     CASE WHEN m.last_reply_at IS NOT NULL THEN (SELECT json_group_array(username) FROM \
       (SELECT fu.username FROM thread_follows f JOIN users fu ON fu.id = f.user_id \
        WHERE f.root_uid = m.uid ORDER BY fu.username COLLATE NOCASE)) END, m.files";

/// A message of a room by seq, joined with its author.
async fn message_at(
    conn: &mut sqlx::SqliteConnection,
    room_id: RoomId,
    seq: i64,
) -> StoreResult<Message> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE m.room_id = ?1 AND m.seq = ?2"
    ))
    .bind(room_id)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(super::rows::message(
        &row.ok_or_else(super::changes::no_such_message)?,
    )?)
}

/// Starts a write transaction that takes the database's write lock at once (`BEGIN IMMEDIATE`).
/// Another process on the same file (a second cluster node, a `confab restore`) then waits its
/// turn for up to the busy timeout. A deferred `BEGIN` would instead fail with "database is
/// locked" when its first read is overtaken by the other process's commit.
pub(super) async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The database the SQL written once for both backends (`store/sql/`) runs on here.
type Db = sqlx::Sqlite;

/// The pool type the SQL written once for both backends (`store/sql/`) runs on here.
type Pool = SqlitePool;

/// Holds room `room_id` for the rest of a write transaction, so that its seqs and revs are
/// taken in turn: nothing to do on SQLite, whose `BEGIN IMMEDIATE` holds the database's one
/// write lock already.
async fn lock_room(_conn: &mut SqliteConnection, _room_id: RoomId) -> Result<(), sqlx::Error> {
    Ok(())
}

/// The connection type of `store/sql/`'s functions that run inside a caller's transaction.
type Conn = SqliteConnection;

/// SQLite's two-argument `MAX` and `MIN` are PostgreSQL's `GREATEST` and `LEAST`.
const GREATEST: &str = "MAX";
const LEAST: &str = "MIN";

/// The message `(room_id, seq)` an author sent with a client id (`$1` author, `$2` client id).
const MESSAGE_BY_CLIENT_ID: &str =
    "SELECT room_id, seq FROM messages WHERE author_id = $1 AND client_id = $2";

/// Inserts one message: uid, room, seq, author, body, time, client id, rev, html, mentions,
/// thread root, also in the room, files (`$1`…`$13`).
const INSERT_MESSAGE: &str = "INSERT INTO messages (uid, room_id, seq, author_id, body, \
     created_at, client_id, rev, html, mentions, thread_uid, also_in_room, files) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// The names bound as `$2` (by [`names_param`]), as rows of one column `name`.
const NAMES_IN_2: &str = "SELECT value AS name FROM json_each($2)";

/// The store the methods of `store/sql/methods.rs` are for.
type Backend = SqliteStore;

/// `column` names the same user as `other`, ignoring case: `username`'s column collation is
/// `NOCASE`, which its unique index also uses.
fn same_name(column: &str, other: &str) -> String {
    format!("{column} = {other}")
}

/// `expr` as a sort key that ignores case.
fn by_name(expr: &str) -> String {
    format!("{expr} COLLATE NOCASE")
}

/// What the sidebar sorts by: its output column, which SQLite may order by.
const DISPLAY_NAME_SORT: &str = "display_name";

/// A list of names as SQLite takes it: a JSON array.
fn names_param(names: &[String]) -> Option<String> {
    super::rows::list_json(names)
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
        let posts = Posts::spawn(posts::SqliteWriter(write.clone()), 1);
        Ok(Self {
            read,
            sessions,
            write,
            posts,
        })
    }

    /// `Store::snapshot`: a consistent copy of the database file at `path`.
    async fn snapshot_to(&self, path: &Path) -> StoreResult<()> {
        bulk::snapshot(&self.read, path).await
    }
}
