//! The backend's dialect ([`crate::store::dialect`]) under the names the store written once
//! uses, compiled into each backend (`sqlite::dialect`, `postgres::dialect`), with the steps
//! built straight on it: a write transaction's start, a room's lock, a message read by seq.

use super::{Conn, Db, Pool, DIALECT};
use crate::model::{Message, RoomId};
use crate::store::changes::no_such_message;
use crate::store::{rows, StoreResult};

pub(super) const GREATEST: &str = DIALECT.greatest();
pub(super) const LEAST: &str = DIALECT.least();
pub(super) const DISPLAY_NAME: &str = DIALECT.display_name();
pub(super) const DISPLAY_NAME_SORT: &str = DIALECT.display_name_sort();
pub(super) const MESSAGE_COLUMNS: &str = DIALECT.message_columns();
pub(super) const MESSAGE_BY_CLIENT_ID: &str = DIALECT.message_by_client_id();
pub(super) const INSERT_MESSAGE: &str = DIALECT.insert_message();
pub(super) const NAMES_IN_2: &str = DIALECT.names_in_2();
pub(super) const IDS_IN_1: &str = DIALECT.ids_in_1();
pub(super) const ROOM_TABLES: &[&str] = DIALECT.room_tables();

/// See [`crate::store::dialect::Dialect::same_name`].
pub(super) fn same_name(column: &str, other: &str) -> String {
    DIALECT.same_name(column, other)
}

/// See [`crate::store::dialect::Dialect::name_contains`].
pub(super) fn name_contains(column: &str, needle: &str) -> String {
    DIALECT.name_contains(column, needle)
}

pub(super) const DATABASE_BYTES: &str = DIALECT.database_bytes();

/// See [`crate::store::dialect::Dialect::by_name`].
pub(super) fn by_name(expr: &str) -> String {
    DIALECT.by_name(expr)
}

/// Starts a write transaction (see [`crate::store::dialect::Dialect::begin_write`]).
pub(super) async fn begin_write(
    pool: &Pool,
) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with(DIALECT.begin_write()).await
}

/// Holds room `room_id` for the rest of a write transaction, so that changes from every node
/// take the room's seqs and revs in turn (see [`crate::store::dialect::Dialect::lock_room`]).
pub(super) async fn lock_room(conn: &mut Conn, room_id: RoomId) -> Result<(), sqlx::Error> {
    if let Some(lock) = DIALECT.lock_room() {
        sqlx::query(lock).bind(room_id).execute(conn).await?;
    }
    Ok(())
}

/// A message of a room by seq, joined with its author.
pub(super) async fn message_at(conn: &mut Conn, room_id: RoomId, seq: i64) -> StoreResult<Message> {
    let row = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE m.room_id = $1 AND m.seq = $2"
    ))
    .bind(room_id)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(rows::message(&row.ok_or_else(no_such_message)?)?)
}
