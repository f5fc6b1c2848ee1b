//! The PostgreSQL implementation of [`Store`], for cluster mode: every node opens the same
//! database, so nothing here may rely on being the only writer. A room's `last_seq` row lock
//! orders posts to that room across nodes; unique keys (not in-process checks) make retries
//! idempotent; messages are hash-partitioned by room. Posts share commits (see [`posts`]) as
//! they do on SQLite.
//!
//! The `Store` methods and most of the SQL are written once for both backends in `store/sql/`
//! and compiled in here; this file holds what is PostgreSQL's own: connecting, the pools and
//! the writer lanes, and the dialect items those shared files name.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

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

/// The display name of a room for viewer `$1`: the room's name, or for a direct conversation
/// the other members, comma-separated in name order (yourself for a note-to-self).
const DISPLAY_NAME: &str = "COALESCE(r.name, \
     (SELECT string_agg(u.username, ', ' ORDER BY lower(u.username), u.id) FROM memberships o \
      JOIN users u ON u.id = o.user_id WHERE o.room_id = r.id AND o.user_id <> $1), \
     (SELECT username FROM users WHERE id = $1))";

/// Columns of a message joined with its author, in [`super::rows::message`] order.
const MESSAGE_COLUMNS: &str = "m.uid, m.room_id, m.seq, u.username, m.body, m.created_at, \
     m.client_id, m.rev, m.edited_at, m.deleted_at, m.reactions, m.html, m.mentions, \
     (SELECT t.seq FROM message_uids t WHERE t.uid = m.thread_uid), m.also_in_room, \
     m.reply_count, m.last_reply_at, \
     CASE WHEN m.last_reply_at IS NOT NULL THEN (SELECT json_agg(fu.username \
       ORDER BY lower(fu.username))::text FROM thread_follows f \
       JOIN users fu ON fu.id = f.user_id WHERE f.root_uid = m.uid) END, m.files";

/// The database the SQL written once for both backends (`store/sql/`) runs on here.
type Db = sqlx::Postgres;

/// The pool type the SQL written once for both backends (`store/sql/`) runs on here.
type Pool = PgPool;

/// Starts a write transaction (PostgreSQL's default isolation; what must be taken in turn is
/// held by [`lock_room`]).
async fn begin_write(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin().await
}

/// Holds room `room_id` for the rest of a write transaction, so that changes from every node
/// take the room's seqs and revs in turn: its row, `FOR UPDATE`.
async fn lock_room(conn: &mut PgConnection, room_id: RoomId) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE")
        .bind(room_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The connection type of `store/sql/`'s functions that run inside a caller's transaction.
type Conn = PgConnection;

const GREATEST: &str = "GREATEST";
const LEAST: &str = "LEAST";

/// The message `(room_id, seq)` an author sent with a client id (`$1` author, `$2` client id):
/// `messages` is partitioned by room, so the unique pair lives in `message_client_ids`.
const MESSAGE_BY_CLIENT_ID: &str =
    "SELECT room_id, seq FROM message_client_ids WHERE author_id = $1 AND client_id = $2";

/// Inserts one message: uid, room, seq, author, body, time, client id, rev, html, mentions,
/// thread root, also in the room, files (`$1`…`$13`); with the partitioned table's two unique
/// indexes, `message_uids` and `message_client_ids`, in the same statement.
const INSERT_MESSAGE: &str = "WITH m AS (INSERT INTO messages (uid, room_id, seq, author_id, \
       body, created_at, client_id, rev, html, mentions, thread_uid, also_in_room, files) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     RETURNING uid, room_id, seq, author_id, client_id), \
   u AS (INSERT INTO message_uids (uid, room_id, seq) SELECT uid, room_id, seq FROM m) \
   INSERT INTO message_client_ids (author_id, client_id, room_id, seq) \
   SELECT author_id, client_id, room_id, seq FROM m WHERE client_id IS NOT NULL";

/// The names bound as `$2` (by [`names_param`]), as rows of one column `name`.
const NAMES_IN_2: &str = "SELECT name FROM UNNEST($2::TEXT[]) AS j(name)";

/// The store the methods of `store/sql/methods.rs` are for.
type Backend = PgStore;

/// `column` names the same user as `other`, ignoring case, as the unique index
/// `users_by_name` on `lower(username)` compares them.
fn same_name(column: &str, other: &str) -> String {
    format!("lower({column}) = lower({other})")
}

/// `expr` as a sort key that ignores case.
fn by_name(expr: &str) -> String {
    format!("lower({expr})")
}

/// What the sidebar sorts by: the display name's expression (PostgreSQL cannot use an output
/// column inside an expression of `ORDER BY`).
const DISPLAY_NAME_SORT: &str = DISPLAY_NAME;

/// A list of names as PostgreSQL takes it: a `TEXT[]`.
fn names_param(names: &[String]) -> &[String] {
    names
}

/// A message of a room by seq, joined with its author.
async fn message_at(
    conn: &mut sqlx::PgConnection,
    room_id: RoomId,
    seq: i64,
) -> StoreResult<Message> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE m.room_id = $1 AND m.seq = $2"
    ))
    .bind(room_id)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(super::rows::message(
        &row.ok_or_else(super::changes::no_such_message)?,
    )?)
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
        let posts = Posts::spawn(posts::PgWriter(pool.clone()), WRITER_LANES);
        Ok(Self {
            read: pool.clone(),
            write: pool,
            sessions,
            posts,
        })
    }

    /// `Store::snapshot`: a file copy is SQLite's; PostgreSQL has its own tools.
    async fn snapshot_to(&self, _path: &std::path::Path) -> StoreResult<()> {
        Err(StoreError::Invalid(
            "confab snapshot copies a SQLite file; for PostgreSQL use pg_dump, or confab backup"
                .into(),
        ))
    }
}
