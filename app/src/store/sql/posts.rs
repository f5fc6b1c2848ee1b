//! Group commit's writer in the database ([`crate::store::group_commit`]), written once and
//! compiled into each backend (`sqlite::posts`, `postgres::posts`): one batch of posts in one
//! write transaction of four statements, whatever the number of messages and rooms. Who may
//! post where; which client ids are retries; each room's block of seqs; the new messages.
//!
//! Each statement takes its rows as one bound JSON array ([`Dialect::json_rows`]). PostgreSQL
//! also locks the batch's rooms in id order first, as several nodes write at once. How the new
//! messages are inserted is the backend's, in its `batch` module: SQLite reads them from a JSON
//! array too; PostgreSQL binds each column as an array and fills its key tables with them.
//!
//! [`Dialect::json_rows`]: crate::store::dialect::Dialect::json_rows

use std::collections::HashMap;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::Row;

use super::{batch, Conn, DbRow, Pool, DIALECT};
use super::dialect::{begin_write, GREATEST, MESSAGE_COLUMNS};
use crate::model::{Message, RoomId, UserId};
use crate::store::group_commit::{BatchWriter, Facts, Post, Taken};
use crate::store::{rows, StoreResult};
use crate::timestamp::now_ms;

/// Writes batches through the pool (SQLite's holds its one writer connection).
pub(super) struct Writer(pub Pool);

#[async_trait]
impl BatchWriter for Writer {
    async fn store(&self, posts: &[&Post]) -> Result<Vec<StoreResult<Message>>, sqlx::Error> {
        let mut tx = begin_write(&self.0).await?;
        let mut facts = Facts::default();

        // Who may post where, and the authors' names: one query for the distinct pairs.
        for row in &pairs(&mut tx, &Facts::pairs(posts)).await? {
            let kind: Option<String> = row.try_get(2)?;
            facts.pair(
                row.try_get(0)?,
                row.try_get(1)?,
                kind.as_deref(),
                row.try_get(3)?,
                row.try_get(4)?,
            );
        }

        // Retries: client ids these authors already used.
        let ids = Facts::client_ids(posts);
        if !ids.is_empty() {
            for row in &earlier(&mut tx, &ids).await? {
                facts.earlier(
                    row.try_get(rows::MESSAGE_COLUMN_COUNT)?,
                    rows::message(row)?,
                );
            }
        }

        let plan = facts.plan(posts);
        // Seqs: each room hands out a block, in one statement for every room. A message's time
        // never goes back within a room (even if the clock does), so seq order and time order
        // agree; restore relies on that.
        let mut taken: HashMap<RoomId, Taken> = HashMap::with_capacity(plan.rooms.len());
        if !plan.rooms.is_empty() {
            for row in &take_seqs(&mut tx, &plan.rooms, now_ms()).await? {
                let last = Taken {
                    seq: row.try_get(1)?,
                    rev: row.try_get(2)?,
                    at: row.try_get(3)?,
                };
                taken.insert(row.try_get(0)?, last);
            }
        }
        let messages = plan.messages(&facts, &taken)?;
        if !messages.is_empty() {
            batch::insert(&mut tx, &plan.fresh, &messages).await?;
        }
        tx.commit().await?;
        Ok(plan.answers(&messages))
    }
}

/// For each `(author, room)`: author, room, the room's kind, whether the author is a member,
/// and the author's name.
async fn pairs(conn: &mut Conn, pairs: &[(UserId, RoomId)]) -> Result<Vec<DbRow>, sqlx::Error> {
    let (author, room) = (DIALECT.json_field(0, "BIGINT"), DIALECT.json_field(1, "BIGINT"));
    let rows = DIALECT.json_rows();
    sqlx::query(&format!(
        "SELECT {author}, {room}, r.kind, \
           EXISTS(SELECT 1 FROM memberships m WHERE m.room_id = {room} AND m.user_id = {author}), \
           (SELECT username FROM users WHERE id = {author}) \
         FROM {rows} LEFT JOIN rooms r ON r.id = {room}"
    ))
    .bind(json(pairs))
    .fetch_all(conn)
    .await
}

/// The messages these `(author, client id)` pairs already sent, each followed by its author id.
async fn earlier(conn: &mut Conn, ids: &[(UserId, &str)]) -> Result<Vec<DbRow>, sqlx::Error> {
    let sent = DIALECT.join_by_client_id(
        &DIALECT.json_field(0, "BIGINT"),
        &DIALECT.json_field(1, "TEXT"),
    );
    sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS}, m.author_id FROM {rows} {sent} \
         JOIN users u ON u.id = m.author_id",
        rows = DIALECT.json_rows()
    ))
    .bind(json(ids))
    .fetch_all(conn)
    .await
}

/// Takes a block of `count` seqs and revs in each `(room, count)`, the rooms held first where
/// the dialect holds rows ([`crate::store::dialect::Dialect::for_update`]), in id order, so
/// batches from different nodes wait for each other instead of deadlocking; returns each
/// room's id, last seq, last rev and last message time after it.
async fn take_seqs(
    conn: &mut Conn,
    rooms: &[(RoomId, i64)],
    now: i64,
) -> Result<Vec<DbRow>, sqlx::Error> {
    let (id, count) = (DIALECT.json_field(0, "BIGINT"), DIALECT.json_field(1, "BIGINT"));
    let (rows, rooms) = (DIALECT.json_rows(), json(rooms));
    if let Some(hold) = DIALECT.for_update() {
        sqlx::query(&format!(
            "SELECT id FROM rooms WHERE id IN (SELECT {id} FROM {rows}) ORDER BY id {hold}"
        ))
        .bind(&rooms)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(&format!(
        "UPDATE rooms SET last_seq = rooms.last_seq + {count}, \
           last_rev = rooms.last_rev + {count}, \
           last_message_at = {GREATEST}(rooms.last_message_at, $2) \
         FROM {rows} WHERE rooms.id = {id} \
         RETURNING rooms.id, rooms.last_seq, rooms.last_rev, rooms.last_message_at"
    ))
    .bind(rooms)
    .bind(now)
    .fetch_all(conn)
    .await
}

/// The JSON array a statement reads with [`crate::store::dialect::Dialect::json_rows`].
pub(super) fn json<T: Serialize + ?Sized>(rows: &T) -> String {
    // Tuples of numbers and strings always serialize.
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned())
}
