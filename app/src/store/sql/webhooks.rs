//! Bot accounts and webhooks, incoming and outgoing, in the database, written once and compiled into each
//! backend (`sqlite::webhooks`, `postgres::webhooks`): a bot made by an admin, or with its hook
//! by a room's moderators; hooks listed without their secrets, revoked, and looked up by the
//! hash a POST to their secret URL gives.

use sqlx::Row;

use super::dialect::{begin_write, same_name};
use super::tokens::Held;
use super::{is_unique_violation, Access, Conn, Pool};
use crate::model::{hash_id, OutgoingWebhookRow, RoomCommand, RoomId, User, UserId, WebhookRow};
use crate::rights::Action;
use crate::store::{
    NewIncomingWebhook, NewOutgoingHook, OutgoingHook, StoreError, StoreResult, WebhookGrant,
};

/// The hooks' table, as [`Held`] reads and changes it: each belongs to a room.
const HOOKS: Held = Held {
    table: "incoming_webhooks",
    hash: "hook_hash",
    owner: "room_id",
};

pub(super) async fn create(pool: &Pool, new: NewIncomingWebhook<'_>) -> StoreResult<WebhookRow> {
    let now = crate::timestamp::now_ms();
    let mut tx = begin_write(pool).await?;
    let hook = HookPlace {
        table: "incoming_webhooks",
        actor: new.actor,
        room_id: new.room_id,
        name: new.name,
        max_per_room: new.max_per_room,
    };
    let bot = hook.make_bot(&mut tx, now).await?;
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
    let created_by = username(&mut tx, new.actor).await?;
    tx.commit().await?;
    Ok(WebhookRow {
        id: hash_id(new.hash),
        name: new.name.to_owned(),
        created_by,
        created_at: now,
        last_used_at: None,
    })
}

/// A hook about to be made in a room, of either kind: what checking the maker's right, the
/// room's cap, and making its bot a member need.
struct HookPlace<'a> {
    table: &'static str,
    actor: UserId,
    room_id: RoomId,
    name: &'a str,
    max_per_room: usize,
}

impl HookPlace<'_> {
    /// Checks that the actor may add a hook to the room and that it has room for one, then
    /// makes the hook's bot and adds it to the room; answers the bot's id.
    async fn make_bot(&self, conn: &mut Conn, now: i64) -> StoreResult<UserId> {
        may_manage(conn, self.actor, self.room_id).await?;
        let held: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {} WHERE room_id = $1",
            self.table
        ))
        .bind(self.room_id)
        .fetch_one(&mut *conn)
        .await?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= self.max_per_room {
            return Err(StoreError::Conflict(format!(
                "This room has {held} webhooks of this kind, the most a room may hold: revoke \
                 one first."
            )));
        }
        let bot = insert_bot(conn, self.name, now).await?;
        sqlx::query(
            "INSERT INTO memberships (room_id, user_id, joined_at, last_read_seq) \
             SELECT $1, $2, $3, last_seq FROM rooms WHERE id = $1",
        )
        .bind(self.room_id)
        .bind(bot)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(bot)
    }
}

/// The username of `id`, while the account exists.
async fn username(conn: &mut Conn, id: UserId) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
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

pub(super) async fn create_outgoing(
    pool: &Pool,
    new: NewOutgoingHook<'_>,
) -> StoreResult<OutgoingWebhookRow> {
    let now = crate::timestamp::now_ms();
    let mut tx = begin_write(pool).await?;
    let hook = HookPlace {
        table: "outgoing_webhooks",
        actor: new.actor,
        room_id: new.room_id,
        name: new.name,
        max_per_room: new.max_per_room,
    };
    let bot = hook.make_bot(&mut tx, now).await?;
    sqlx::query(
        "INSERT INTO outgoing_webhooks \
           (hook_id, room_id, bot_id, url, triggers, secret, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.id)
    .bind(new.room_id)
    .bind(bot)
    .bind(new.url)
    .bind(new.triggers.join(" "))
    .bind(new.secret)
    .bind(new.actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let created_by = username(&mut tx, new.actor).await?;
    tx.commit().await?;
    Ok(OutgoingWebhookRow {
        id: new.id.to_owned(),
        name: new.name.to_owned(),
        url: new.url.to_owned(),
        triggers: new.triggers.to_vec(),
        created_by,
        created_at: now,
        last_used_at: None,
        last_status: None,
    })
}

/// Trigger words as stored: space-separated.
fn words(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_owned).collect()
}

pub(super) async fn list_outgoing(
    pool: &Pool,
    actor: UserId,
    room_id: RoomId,
) -> StoreResult<Vec<OutgoingWebhookRow>> {
    let mut conn = pool.acquire().await?;
    may_manage(&mut conn, actor, room_id).await?;
    let rows = sqlx::query(
        "SELECT h.hook_id, b.username AS name, h.url, h.triggers, c.username AS created_by, \
           h.created_at, h.last_used_at, h.last_status \
         FROM outgoing_webhooks h JOIN users b ON b.id = h.bot_id \
         LEFT JOIN users c ON c.id = h.created_by \
         WHERE h.room_id = $1 ORDER BY h.created_at DESC, b.username",
    )
    .bind(room_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let triggers: String = row.try_get("triggers")?;
            Ok(OutgoingWebhookRow {
                id: row.try_get("hook_id")?,
                name: row.try_get("name")?,
                url: row.try_get("url")?,
                triggers: words(&triggers),
                created_by: row.try_get("created_by")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                last_status: row.try_get("last_status")?,
            })
        })
        .collect()
}

pub(super) async fn revoke_outgoing(
    pool: &Pool,
    actor: UserId,
    room_id: RoomId,
    id: &str,
) -> StoreResult<bool> {
    let mut tx = begin_write(pool).await?;
    may_manage(&mut tx, actor, room_id).await?;
    let done = sqlx::query("DELETE FROM outgoing_webhooks WHERE room_id = $1 AND hook_id = $2")
        .bind(room_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    tx.commit().await?;
    Ok(done)
}

pub(super) async fn room_outgoing(pool: &Pool, room_id: RoomId) -> StoreResult<Vec<OutgoingHook>> {
    let rows = sqlx::query(
        "SELECT h.hook_id, COALESCE(r.name, '') AS room_name, u.id AS bot_id, u.username, h.url, h.triggers, \
           h.secret \
         FROM outgoing_webhooks h JOIN users u ON u.id = h.bot_id \
         JOIN rooms r ON r.id = h.room_id \
         WHERE h.room_id = $1 AND u.disabled_at IS NULL ORDER BY h.created_at",
    )
    .bind(room_id)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let triggers: String = row.try_get("triggers")?;
            Ok(OutgoingHook {
                id: row.try_get("hook_id")?,
                room_id,
                room_name: row.try_get("room_name")?,
                bot: User {
                    id: row.try_get("bot_id")?,
                    username: row.try_get("username")?,
                    is_admin: false,
                },
                url: row.try_get("url")?,
                triggers: words(&triggers),
                secret: row.try_get("secret")?,
            })
        })
        .collect()
}

pub(super) async fn note_outgoing(pool: &Pool, id: &str, status: &str, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE outgoing_webhooks SET last_used_at = $2, last_status = $3 WHERE hook_id = $1")
        .bind(id)
        .bind(now)
        .bind(status)
        .execute(pool)
        .await?;
    Ok(())
}

/// The room's own slash commands: its outgoing hooks' trigger words that start with `/`, by
/// name, each with the bot it calls.
pub(super) async fn room_commands(conn: &mut Conn, room_id: RoomId) -> StoreResult<Vec<RoomCommand>> {
    let hooks: Vec<(String, String)> = sqlx::query_as(
        "SELECT h.triggers, u.username FROM outgoing_webhooks h JOIN users u ON u.id = h.bot_id \
         WHERE h.room_id = $1 AND u.disabled_at IS NULL",
    )
    .bind(room_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut commands: Vec<RoomCommand> = hooks
        .iter()
        .flat_map(|(triggers, bot)| {
            triggers.split_whitespace().filter_map(move |word| {
                word.strip_prefix('/').map(|name| RoomCommand {
                    name: name.to_owned(),
                    bot: bot.clone(),
                })
            })
        })
        .collect();
    commands.sort_by(|a, b| (&a.name, &a.bot).cmp(&(&b.name, &b.bot)));
    Ok(commands)
}
