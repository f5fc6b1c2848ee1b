//! Edits, deletes and reactions in the database ([`crate::store::changes`] holds the rule), written
//! once and compiled into each backend (`sqlite::changes`, `postgres::changes`): one write
//! transaction holds the room (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's row lock, so changes
//! from every node take the room's revs in turn), reads the target, asks the shared rule, bumps
//! the rev and rewrites the message; and the "what changed since rev R" read that catches a
//! client up. What differs between the backends is named by the backend: `Pool`,
//! `begin_write`, `lock_room`.

use super::{Access, Pool};
use super::dialect::{begin_write, lock_room, message_at, MESSAGE_COLUMNS};
use crate::model::{Changes, Message, RoomId, UserId};
use crate::store::changes::{
    decide, no_such_message, retry, written, ChangeKind, Changed, Decision, MessageChange,
};
use crate::store::{rows, StoreError, StoreResult};
use crate::validate::MAX_PINS_PER_ROOM;
use crate::timestamp::now_ms;

pub(super) async fn change(pool: &Pool, change: MessageChange<'_>) -> StoreResult<Changed> {
    let mut tx = begin_write(pool).await?;
    let access = Access::load(&mut tx, change.user_id, change.room_id).await?;
    access.require_member("change its messages")?;
    lock_room(&mut tx, change.room_id).await?;
    if let Some(client_id) = change.client_id {
        let earlier: Option<(RoomId, i64)> = sqlx::query_as(
            "SELECT room_id, seq FROM message_changes WHERE user_id = $1 AND client_id = $2",
        )
        .bind(change.user_id)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(earlier) = earlier {
            retry(&change, earlier)?;
            let message = message_at(&mut tx, change.room_id, change.seq).await?;
            return Ok(Changed {
                message,
                changed: false,
                root: None,
            });
        }
    }
    let row = sqlx::query(
        "SELECT m.author_id, m.body, m.deleted_at IS NOT NULL, m.created_at, \
           (SELECT username FROM users WHERE id = $3), m.reactions, m.event IS NOT NULL, \
           m.pinned_at IS NOT NULL, m.preview IS NOT NULL \
         FROM messages m WHERE m.room_id = $1 AND m.seq = $2",
    )
    .bind(change.room_id)
    .bind(change.seq)
    .bind(change.user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(no_such_message)?;
    let (target, posted_at) = rows::target(&row, access.standing)?;
    // A change never predates the message, even if the clock went back.
    let at = now_ms().max(posted_at);
    let decision = decide(&change, &target)?;
    if decision == Decision::Apply && change.kind == (ChangeKind::Pin { pinned: true }) {
        let pins: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE room_id = $1 AND pinned_at IS NOT NULL",
        )
        .bind(change.room_id)
        .fetch_one(&mut *tx)
        .await?;
        if pins >= MAX_PINS_PER_ROOM as i64 {
            return Err(StoreError::Invalid(format!(
                "A room holds at most {MAX_PINS_PER_ROOM} pins: unpin one first."
            )));
        }
    }
    if decision == Decision::Apply {
        let rev: i64 = sqlx::query_scalar(
            "UPDATE rooms SET last_rev = last_rev + 1 WHERE id = $1 RETURNING last_rev",
        )
        .bind(change.room_id)
        .fetch_one(&mut *tx)
        .await?;
        let w = written(&change, &target, at)?;
        sqlx::query(
            "UPDATE messages SET body = $3, edited_at = COALESCE($4, edited_at), \
               deleted_at = $5, rev = $6, reactions = $7, \
               html = CASE WHEN $8 THEN $9 ELSE html END, \
               mentions = CASE WHEN $8 THEN $10 ELSE mentions END, \
               files = CASE WHEN $5 IS NULL THEN files END, \
               pinned_at = CASE WHEN $11 THEN $12 ELSE pinned_at END, \
               pinned_by = CASE WHEN $11 THEN $13 ELSE pinned_by END, \
               preview = CASE WHEN $14 THEN $15 ELSE preview END, \
               preview_image = CASE WHEN $14 THEN $16 ELSE preview_image END \
             WHERE room_id = $1 AND seq = $2",
        )
        .bind(change.room_id)
        .bind(change.seq)
        .bind(w.body)
        .bind(w.edited_at)
        .bind(w.deleted_at)
        .bind(rev)
        .bind(w.reactions)
        .bind(w.text.is_some())
        .bind(w.text.as_ref().and_then(|t| t.0.clone()))
        .bind(w.text.as_ref().and_then(|t| t.1.clone()))
        .bind(w.pin.is_some())
        .bind(w.pin.flatten())
        .bind(w.pin.flatten().map(|_| change.user_id))
        .bind(w.preview.is_some())
        .bind(w.preview.as_ref().and_then(|p| p.as_ref().map(|p| p.0.clone())))
        .bind(w.preview.as_ref().and_then(|p| p.as_ref().and_then(|p| p.1.clone())))
        .execute(&mut *tx)
        .await?;
    }
    if let Some(client_id) = change.client_id {
        sqlx::query(
            "INSERT INTO message_changes (user_id, client_id, room_id, seq, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(change.user_id)
        .bind(client_id)
        .bind(change.room_id)
        .bind(change.seq)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    // A reply deleted: its root counts its replies again.
    let root = match (decision, &change.kind) {
        (Decision::Apply, ChangeKind::Delete) => {
            super::threads::recount_root(&mut tx, change.room_id, change.seq).await?
        }
        _ => None,
    };
    let message = message_at(&mut tx, change.room_id, change.seq).await?;
    tx.commit().await?;
    Ok(Changed {
        message,
        changed: decision == Decision::Apply,
        root,
    })
}

pub(super) async fn since(
    pool: &Pool,
    user_id: UserId,
    room_id: RoomId,
    after_rev: i64,
    limit: u32,
) -> StoreResult<Changes> {
    let mut conn = pool.acquire().await?;
    Access::load(&mut conn, user_id, room_id)
        .await?
        .require_member("read its history")?;
    let mut found = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE m.room_id = $1 AND m.rev > $2 ORDER BY m.rev LIMIT $3"
    ))
    .bind(room_id)
    .bind(after_rev)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *conn)
    .await?;
    let complete = found.len() <= limit as usize;
    found.truncate(limit as usize);
    Ok(Changes {
        messages: found.iter().map(rows::message).collect::<Result<_, _>>()?,
        complete,
    })
}

/// The room's pinned messages, newest pin first, for its members.
pub(super) async fn pins(pool: &Pool, user_id: UserId, room_id: RoomId) -> StoreResult<Vec<Message>> {
    let mut conn = pool.acquire().await?;
    Access::load(&mut conn, user_id, room_id)
        .await?
        .require_member("read its history")?;
    let found = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE m.room_id = $1 AND m.pinned_at IS NOT NULL ORDER BY m.pinned_at DESC, m.seq DESC \
         LIMIT $2"
    ))
    .bind(room_id)
    .bind(MAX_PINS_PER_ROOM as i64)
    .fetch_all(&mut *conn)
    .await?;
    Ok(found.iter().map(rows::message).collect::<Result<_, _>>()?)
}
