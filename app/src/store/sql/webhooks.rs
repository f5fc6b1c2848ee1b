//! Bot accounts and incoming webhooks in the database, written once and compiled into each
//! backend (`sqlite::webhooks`, `postgres::webhooks`): a bot made by an admin, or with its hook
//! by a room's moderators; hooks listed without their secrets, revoked, and looked up by the
//! hash a POST to their secret URL gives.

use sqlx::Row;

use super::dialect::{begin_write, same_name};
use super::tokens::Held;
use super::{is_unique_violation, Access, Conn, Pool};
use crate::model::{hash_id, RoomId, User, UserId, WebhookRow};
use crate::rights::Action;
use crate::store::{NewIncomingWebhook, StoreError, StoreResult, WebhookGrant};

/// The hooks' table, as [`Held`] reads and changes it: each belongs to a room.
const HOOKS: Held = Held {
    table: "incoming_webhooks",
    hash: "hook_hash",
    owner: "room_id",
};

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
    let bot = insert_bot(&mut tx, new.name, now).await?;
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

/// Makes the bot account `name` (no password, so no one logs in as it): refused (`Conflict`)
/// when anyone has the name, ignoring case.
pub(super) async fn insert_bot(conn: &mut Conn, name: &str, now: i64) -> StoreResult<UserId> {
    let taken = || {
        StoreError::Conflict(format!(
            "The name {name:?} is taken: a bot is an account of its own, so pick a name no one \
             has."
        ))
    };
    let exists: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM users WHERE {}",
        same_name("username", "$1")
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    if exists.is_some() {
        return Err(taken());
    }
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, is_admin, is_bot, created_at) \
         VALUES ($1, NULL, FALSE, TRUE, $2) RETURNING id",
    )
    .bind(name)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { taken() } else { e.into() })
}

/// Makes a bot account an admin gives tokens to: a program that uses the HTTP API as itself.
pub(super) async fn create_bot(pool: &Pool, name: &str) -> StoreResult<User> {
    let mut tx = begin_write(pool).await?;
    let id = insert_bot(&mut tx, name, crate::timestamp::now_ms()).await?;
    tx.commit().await?;
    Ok(User {
        id,
        username: name.to_owned(),
        is_admin: false,
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
    let done = HOOKS.delete(&mut tx, room_id, id).await?;
    tx.commit().await?;
    Ok(done)
}

/// Reads on `read` (the backend's session lookups); notes the use on `write` ([`Held::note_use`]).
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
    HOOKS
        .note_use(write, hash, row.try_get("last_used_at")?, now)
        .await?;
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
