//! Threads in the database, written once and compiled into each backend (`sqlite::threads`,
//! `postgres::threads`): a reply, its root's count and the thread's followers written in one
//! write transaction that holds the room (so replies from every node take the room's seqs in
//! turn); a root counted again when one of its replies is deleted; and how far a follower has
//! read a thread. What differs between the backends is named by the backend: `Pool`, `Conn`,
//! `begin_write`, `lock_room`, `GREATEST`/`LEAST`, where a message is found by its client id
//! (`MESSAGE_BY_CLIENT_ID`), how a message is inserted (`INSERT_MESSAGE`), and how a list of
//! names is bound (`names_param`, `NAMES_IN_2`).

use super::{names_param, Access, Conn, Pool};
use super::dialect::{begin_write, lock_room, message_at, same_name, GREATEST, INSERT_MESSAGE, LEAST, MESSAGE_BY_CLIENT_ID, NAMES_IN_2};
use crate::model::{Message, RoomId, UserId};
use crate::store::changes::no_such_message;
use crate::store::threads::{deleted_root, retried_root};
use crate::rights::Action;
use crate::store::{rows, NewReply, Replied, StoreError, StoreResult};
use crate::timestamp::now_ms;

/// The uid of the thread the message at `seq` is part of: its own for a root, its root's for
/// a reply.
pub(super) async fn thread_root(conn: &mut Conn, room_id: RoomId, seq: i64) -> StoreResult<String> {
    let uid: Option<String> = sqlx::query_scalar(
        "SELECT COALESCE(thread_uid, uid) FROM messages WHERE room_id = $1 AND seq = $2",
    )
    .bind(room_id)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await?;
    uid.ok_or_else(no_such_message)
}

pub(super) async fn reply(pool: &Pool, new: NewReply<'_>) -> StoreResult<Replied> {
    let m = &new.message;
    let mut tx = begin_write(pool).await?;
    let access = Access::load(&mut tx, m.author_id, m.room_id).await?;
    access.require(Action::Respond)?;
    if new.also_in_room {
        access.require(Action::Post)?;
    }
    lock_room(&mut tx, m.room_id).await?;
    if let Some(client_id) = m.client_id {
        let earlier: Option<(RoomId, i64)> = sqlx::query_as(MESSAGE_BY_CLIENT_ID)
            .bind(m.author_id)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((room, seq)) = earlier {
            let reply = message_at(&mut tx, room, seq).await?;
            let root = message_at(&mut tx, room, retried_root(reply.thread)?).await?;
            return Ok(Replied {
                reply,
                root,
                new: false,
            });
        }
    }
    let root_uid = thread_root(&mut tx, m.room_id, new.to).await?;
    let (root_seq, root_author, root_deleted, root_event): (i64, UserId, Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT seq, author_id, deleted_at, event FROM messages WHERE room_id = $1 AND uid = $2",
    )
    .bind(m.room_id)
    .bind(&root_uid)
    .fetch_one(&mut *tx)
    .await?;
    if root_deleted.is_some() {
        return Err(deleted_root());
    }
    if root_event.is_some() {
        return Err(StoreError::Invalid(
            "That is a note of a change to the room; it has no thread.".into(),
        ));
    }
    // The reply takes the room's next seq and rev, the root the rev after it. Times never go
    // back within a room, as for every post.
    let (seq, rev, at): (i64, i64, i64) = sqlx::query_as(&format!(
        "UPDATE rooms SET last_seq = last_seq + 1, last_rev = last_rev + 2, \
           last_message_at = {GREATEST}(last_message_at, $2) \
         WHERE id = $1 RETURNING last_seq, last_rev, last_message_at"
    ))
    .bind(m.room_id)
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await?;
    let uid = uuid::Uuid::now_v7().to_string();
    sqlx::query(INSERT_MESSAGE)
        .bind(&uid)
        .bind(m.room_id)
        .bind(seq)
        .bind(m.author_id)
        .bind(m.body)
        .bind(at)
        .bind(m.client_id)
        .bind(rev - 1)
        .bind(Some(m.html()).filter(|h| !h.is_empty()))
        .bind(rows::list_json(m.mentions))
        .bind(&root_uid)
        .bind(new.also_in_room)
        .bind(rows::list_json(m.files))
        .bind(rows::persona_json(m.persona))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE messages SET reply_count = reply_count + 1, last_reply_at = $3, rev = $4 \
         WHERE room_id = $1 AND uid = $2",
    )
    .bind(m.room_id)
    .bind(&root_uid)
    .bind(at)
    .bind(rev)
    .execute(&mut *tx)
    .await?;
    // Followers: the root's author (the first reply is news to them), the replier (who has
    // read the thread up to their own reply), and whoever the reply mentions.
    sqlx::query(
        "INSERT INTO thread_follows (root_uid, user_id, room_id, last_read_seq) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&root_uid)
    .bind(root_author)
    .bind(m.room_id)
    .bind(root_seq)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO thread_follows (root_uid, user_id, room_id, last_read_seq) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (root_uid, user_id) \
         DO UPDATE SET last_read_seq = \
           {GREATEST}(thread_follows.last_read_seq, excluded.last_read_seq)"
    ))
    .bind(&root_uid)
    .bind(m.author_id)
    .bind(m.room_id)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    if !m.mentions.is_empty() {
        sqlx::query(&format!(
            "INSERT INTO thread_follows (root_uid, user_id, room_id, last_read_seq) \
             SELECT $1, u.id, $3, $4 FROM ({NAMES_IN_2}) j \
             JOIN users u ON {} WHERE u.id <> $5 ON CONFLICT DO NOTHING",
            same_name("u.username", "j.name")
        ))
        .bind(&root_uid)
        .bind(names_param(m.mentions))
        .bind(m.room_id)
        .bind(seq - 1)
        .bind(m.author_id)
        .execute(&mut *tx)
        .await?;
    }
    let reply = message_at(&mut tx, m.room_id, seq).await?;
    let root = message_at(&mut tx, m.room_id, root_seq).await?;
    tx.commit().await?;
    Ok(Replied {
        reply,
        root,
        new: true,
    })
}

/// After the message at `seq` was deleted: if it was a reply, its root counts its replies
/// again (and takes the room's next rev); returns the root's new state.
pub(super) async fn recount_root(
    conn: &mut Conn,
    room_id: RoomId,
    seq: i64,
) -> StoreResult<Option<Message>> {
    let root: Option<Option<String>> =
        sqlx::query_scalar("SELECT thread_uid FROM messages WHERE room_id = $1 AND seq = $2")
            .bind(room_id)
            .bind(seq)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(Some(root_uid)) = root else {
        return Ok(None);
    };
    let rev: i64 = sqlx::query_scalar(
        "UPDATE rooms SET last_rev = last_rev + 1 WHERE id = $1 RETURNING last_rev",
    )
    .bind(room_id)
    .fetch_one(&mut *conn)
    .await?;
    let root_seq: i64 = sqlx::query_scalar(
        "UPDATE messages SET \
           reply_count = (SELECT COUNT(*) FROM messages x WHERE x.room_id = $1 \
             AND x.thread_uid = $2 AND x.deleted_at IS NULL), \
           last_reply_at = (SELECT MAX(x.created_at) FROM messages x WHERE x.room_id = $1 \
             AND x.thread_uid = $2 AND x.deleted_at IS NULL), \
           rev = $3 \
         WHERE room_id = $1 AND uid = $2 RETURNING seq",
    )
    .bind(room_id)
    .bind(&root_uid)
    .bind(rev)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(message_at(conn, room_id, root_seq).await?))
}

pub(super) async fn mark_read(
    pool: &Pool,
    user_id: UserId,
    room_id: RoomId,
    root: i64,
    seq: i64,
) -> StoreResult<i64> {
    let mut tx = begin_write(pool).await?;
    Access::load(&mut tx, user_id, room_id)
        .await?
        .require_member("read it")?;
    let root_uid = thread_root(&mut tx, room_id, root).await?;
    let stored: Option<i64> = sqlx::query_scalar(&format!(
        "UPDATE thread_follows SET last_read_seq = \
           {GREATEST}(last_read_seq, {LEAST}($4, (SELECT last_seq FROM rooms WHERE id = $3))) \
         WHERE root_uid = $1 AND user_id = $2 RETURNING last_read_seq"
    ))
    .bind(&root_uid)
    .bind(user_id)
    .bind(room_id)
    .bind(seq)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(stored.unwrap_or(0))
}
