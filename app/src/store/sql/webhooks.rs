//! Incoming webhooks in the database, written once and compiled into each backend
//! (`sqlite::webhooks`, `postgres::webhooks`): made with their bot account by a room's
//! moderators, listed without their secrets, revoked, and looked up by the hash a POST to
//! their secret URL gives.

use sqlx::Row;

use super::dialect::{begin_write, same_name};
use super::{is_unique_violation, Access, Conn, Pool};
use crate::model::{hash_id, RoomId, User, UserId, WebhookRow};
use crate::rights::Action;
use crate::store::{NewIncomingWebhook, StoreError, StoreResult, WebhookGrant};

/// How stale a hook's "last used" may get before a use writes it again (as for tokens).
const LAST_USED_EVERY_MS: i64 = 60 * 1000;

pub(super) async fn create(pool: &Pool, new: NewIncomingWebhook<'_>) -> StoreResult<WebhookRow> {
    let now = crate::timestamp::now_ms();
    let mut tx = begin_write(pool).await?;
    Access::load(&mut tx, new.actor, new.room_id)
        .await?
        .require(Action::ManageHooks)?;
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM incoming_webhooks WHERE room_id = $1")
            .bind(new.room_id)
            .fetch_one(&mut *tx)
            .await?;
    if usize::try_from(held).unwrap_or(usize::MAX) >= new.max_per_room {
        return Err(StoreError::Conflict(format!(
            "This room has {held} webhooks, the most a room may hold: revoke one first."
        )));
    }
    let taken = || {
        StoreError::Conflict(format!(
            "The name {:?} is taken: a webhook posts as an account of its own, so pick a name \
             no one has.",
            new.name
        ))
    };
    let exists: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM users WHERE {}",
        same_name("username", "$1")
    ))
    .bind(new.name)
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_some() {
        return Err(taken());
    }
    let bot: UserId = sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, is_admin, is_bot, created_at) \
         VALUES ($1, NULL, FALSE, TRUE, $2) RETURNING id",
    )
    .bind(new.name)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| if is_unique_violation(&e) { taken() } else { e.into() })?;
    sqlx::query(
        "INSERT INTO memberships (room_id, user_id, joined_at, last_read_seq) \
         SELECT $1, $2, $3, last_seq FROM rooms WHERE id = $1",
    )
    .bind(new.room_id)
    .bind(bot)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO incoming_webhooks (hook_hash, room_id, bot_id, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new.hash)
    .bind(new.room_id)
    .bind(bot)
    .bind(new.actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let created_by: Option<String> = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(new.actor)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(WebhookRow {
        id: hash_id(new.hash),
        name: new.name.to_owned(),
        created_by,
        created_at: now,
        last_used_at: None,
    })
}

/// Refuses one who may not manage the room's hooks.
async fn may_manage(conn: &mut Conn, actor: UserId, room_id: RoomId) -> StoreResult<()> {
    Access::load(conn, actor, room_id)
        .await?
        .require(Action::ManageHooks)
}

pub(super) async fn list(
    pool: &Pool,
    actor: UserId,
    room_id: RoomId,
) -> StoreResult<Vec<WebhookRow>> {
    let mut conn = pool.acquire().await?;
    may_manage(&mut conn, actor, room_id).await?;
    let rows = sqlx::query(
        "SELECT h.hook_hash, b.username AS name, c.username AS created_by, h.created_at, \
           h.last_used_at \
         FROM incoming_webhooks h JOIN users b ON b.id = h.bot_id \
         LEFT JOIN users c ON c.id = h.created_by \
         WHERE h.room_id = $1 ORDER BY h.created_at DESC, b.username",
    )
    .bind(room_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let hash: Vec<u8> = row.try_get("hook_hash")?;
            Ok(WebhookRow {
                id: hash_id(&hash),
                name: row.try_get("name")?,
                created_by: row.try_get("created_by")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        })
        .collect()
}

pub(super) async fn revoke(
    pool: &Pool,
    actor: UserId,
    room_id: RoomId,
    id: &str,
) -> StoreResult<bool> {
    let mut tx = begin_write(pool).await?;
    may_manage(&mut tx, actor, room_id).await?;
    let hashes: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT hook_hash FROM incoming_webhooks WHERE room_id = $1")
            .bind(room_id)
            .fetch_all(&mut *tx)
            .await?;
    let Some(hash) = hashes.into_iter().find(|h| hash_id(h) == id) else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM incoming_webhooks WHERE hook_hash = $1")
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Reads on `read` (the backend's session lookups); writes "last used" on `write` when it is
/// more than [`LAST_USED_EVERY_MS`] old.
pub(super) async fn grant(
    read: &Pool,
    write: &Pool,
    hash: &[u8],
    now: i64,
) -> StoreResult<Option<WebhookGrant>> {
    let Some(row) = sqlx::query(
        "SELECT u.id, u.username, h.room_id, h.last_used_at \
         FROM incoming_webhooks h JOIN users u ON u.id = h.bot_id \
         WHERE h.hook_hash = $1 AND u.disabled_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(read)
    .await?
    else {
        return Ok(None);
    };
    let last_used: Option<i64> = row.try_get("last_used_at")?;
    if last_used.is_none_or(|at| now - at >= LAST_USED_EVERY_MS) {
        sqlx::query("UPDATE incoming_webhooks SET last_used_at = $2 WHERE hook_hash = $1")
            .bind(hash)
            .bind(now)
            .execute(write)
            .await?;
    }
    Ok(Some(WebhookGrant {
        hook_id: hash_id(hash),
        room_id: row.try_get("room_id")?,
        bot: User {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            is_admin: false,
        },
    }))
}
