//! A named room's settings and bans in the database, written once and compiled into each
//! backend (`sqlite::settings`, `postgres::settings`). Each change is checked against
//! [`crate::rights`] in its write transaction, written, and recorded in the room's timeline as
//! an event (a message with no text and an `event`), which takes the room's next seq and rev
//! in the same commit: so it reaches every device, and every catch-up, as a message does.
//! What differs between the backends is named by the backend: `Pool`, `Conn`, `begin_write`,
//! `lock_room`, `GREATEST`, how a message is inserted (`INSERT_MESSAGE`).

use super::dialect::{begin_write, by_name, lock_room, message_at, GREATEST, INSERT_MESSAGE};
use super::{is_unique_violation, owners, Access, Conn, Pool};
use crate::model::{BanEntry, GroupMentions, Message, Role, RoomEvent, RoomId, RoomKind, UserId};
use crate::rights::Action;
use crate::store::{StoreError, StoreResult};
use crate::timestamp::now_ms;

/// The room's settings as stored, in [`RoomEvent`] terms.
struct Current {
    name: Option<String>,
    topic: Option<String>,
    description: Option<String>,
    private: bool,
    read_only: bool,
    archived: bool,
    group_mentions: GroupMentions,
}

impl Current {
    /// Whether `change` would leave the room as it is.
    fn already(&self, change: &RoomEvent) -> bool {
        match change {
            RoomEvent::Renamed { name } => self.name.as_deref() == Some(name.as_str()),
            RoomEvent::Topic { topic } => &self.topic == topic,
            RoomEvent::Description { description } => &self.description == description,
            RoomEvent::Privacy { private } => self.private == *private,
            RoomEvent::ReadOnly { read_only } => self.read_only == *read_only,
            RoomEvent::Archived { archived } => self.archived == *archived,
            RoomEvent::GroupMentions { allowed } => self.group_mentions == *allowed,
            RoomEvent::Banned { .. } | RoomEvent::Unbanned { .. } => false,
        }
    }
}

/// Who may make a change of this kind: moderators edit the words, owners the rest.
fn action_for(change: &RoomEvent) -> StoreResult<Action> {
    match change {
        RoomEvent::Renamed { .. } | RoomEvent::Topic { .. } | RoomEvent::Description { .. } => {
            Ok(Action::EditDetails)
        }
        RoomEvent::Privacy { .. }
        | RoomEvent::ReadOnly { .. }
        | RoomEvent::Archived { .. }
        | RoomEvent::GroupMentions { .. } => Ok(Action::Configure),
        RoomEvent::Banned { .. } | RoomEvent::Unbanned { .. } => Err(StoreError::Invalid(
            "A ban is not a setting.".into(),
        )),
    }
}

/// Opens a write transaction on a named room, holding it, with `actor`'s standing in it.
async fn named_room(
    pool: &Pool,
    actor: UserId,
    room_id: RoomId,
) -> StoreResult<(sqlx::Transaction<'static, super::Db>, Access)> {
    let mut tx = begin_write(pool).await?;
    let access = Access::load(&mut tx, actor, room_id).await?;
    if access.kind == RoomKind::Dm {
        return Err(StoreError::Invalid(
            "A direct conversation has no settings, roles or bans.".into(),
        ));
    }
    lock_room(&mut tx, room_id).await?;
    Ok((tx, access))
}

pub(super) async fn configure(
    pool: &Pool,
    actor: UserId,
    room_id: RoomId,
    change: &RoomEvent,
) -> StoreResult<Option<Message>> {
    let action = action_for(change)?;
    let (mut tx, access) = named_room(pool, actor, room_id).await?;
    access.require(action)?;
    let (name, topic, description, private, read_only, archived, group_mentions): (
        _,
        _,
        _,
        _,
        _,
        _,
        String,
    ) = sqlx::query_as(
        "SELECT name, topic, description, private, read_only, archived, group_mentions \
         FROM rooms WHERE id = $1",
    )
    .bind(room_id)
    .fetch_one(&mut *tx)
    .await?;
    let current = Current {
        name,
        topic,
        description,
        private,
        read_only,
        archived,
        group_mentions: GroupMentions::from_db(&group_mentions),
    };
    if current.already(change) {
        return Ok(None);
    }
    let (column, text, flag) = match change {
        RoomEvent::Renamed { name } => ("name", Some(name.as_str()), false),
        RoomEvent::Topic { topic } => ("topic", topic.as_deref(), false),
        RoomEvent::Description { description } => ("description", description.as_deref(), false),
        RoomEvent::Privacy { private } => ("private", None, *private),
        RoomEvent::ReadOnly { read_only } => ("read_only", None, *read_only),
        RoomEvent::Archived { archived } => ("archived", None, *archived),
        RoomEvent::GroupMentions { allowed } => ("group_mentions", Some(allowed.as_str()), false),
        RoomEvent::Banned { .. } | RoomEvent::Unbanned { .. } => return Ok(None),
    };
    let sql = format!("UPDATE rooms SET {column} = $2 WHERE id = $1");
    let set = sqlx::query(&sql).bind(room_id);
    let set = match column {
        "private" | "read_only" | "archived" => set.bind(flag),
        _ => set.bind(text),
    };
    set.execute(&mut *tx).await.map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("Another room already has that name.".into())
        } else {
            e.into()
        }
    })?;
    let event = record(&mut tx, actor, room_id, change).await?;
    tx.commit().await?;
    Ok(Some(event))
}

pub(super) async fn ban(
    pool: &Pool,
    actor: UserId,
    room_id: RoomId,
    member: UserId,
    banned: bool,
) -> StoreResult<Option<Message>> {
    let (mut tx, access) = named_room(pool, actor, room_id).await?;
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(member)
            .fetch_optional(&mut *tx)
            .await?;
    let role = role.as_deref().map(Role::from_db);
    access.require(Action::Ban(role))?;
    if member == actor {
        return Err(StoreError::Invalid("You cannot ban yourself.".into()));
    }
    let username: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(member)
        .fetch_one(&mut *tx)
        .await?;
    let changed = if banned {
        if role == Some(Role::Owner) && owners(&mut tx, room_id).await? == 1 {
            return Err(StoreError::Invalid(
                "That is the room's only owner: make someone else an owner first.".into(),
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO bans (room_id, user_id, banned_by, banned_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(room_id)
        .bind(member)
        .bind(actor)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM memberships WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        inserted > 0
    } else {
        let deleted = sqlx::query("DELETE FROM bans WHERE room_id = $1 AND user_id = $2")
            .bind(room_id)
            .bind(member)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        deleted > 0
    };
    if !changed {
        return Ok(None);
    }
    let event = if banned {
        RoomEvent::Banned { username }
    } else {
        RoomEvent::Unbanned { username }
    };
    let event = record(&mut tx, actor, room_id, &event).await?;
    tx.commit().await?;
    Ok(Some(event))
}

pub(super) async fn bans(pool: &Pool, actor: UserId, room_id: RoomId) -> StoreResult<Vec<BanEntry>> {
    let mut conn = pool.acquire().await?;
    let access = Access::load(&mut conn, actor, room_id).await?;
    access.require(Action::Ban(None))?;
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(&format!(
        "SELECT u.username, b2.username, b.banned_at FROM bans b \
         JOIN users u ON u.id = b.user_id LEFT JOIN users b2 ON b2.id = b.banned_by \
         WHERE b.room_id = $1 ORDER BY {}",
        by_name("u.username")
    ))
    .bind(room_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(username, by, at)| BanEntry { username, by, at })
        .collect())
}

/// Refuses `user` coming into `room_id` while they are banned from it; `who` words the refusal
/// ("You are" when they join, "alice is" when someone adds them).
pub(super) async fn refuse_banned(
    conn: &mut Conn,
    room_id: RoomId,
    user: UserId,
    who: &str,
) -> StoreResult<()> {
    let banned: bool =
        sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $2)")
            .bind(room_id)
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
    if banned {
        return Err(StoreError::Forbidden(format!(
            "{who} banned from this room until a moderator lifts the ban."
        )));
    }
    Ok(())
}

/// Records `event`, done by `actor`, in the room's timeline: the room's next seq and rev, in
/// the caller's transaction (which holds the room). Times never go back within a room.
async fn record(
    conn: &mut Conn,
    actor: UserId,
    room_id: RoomId,
    event: &RoomEvent,
) -> StoreResult<Message> {
    let (seq, rev, at): (i64, i64, i64) = sqlx::query_as(&format!(
        "UPDATE rooms SET last_seq = last_seq + 1, last_rev = last_rev + 1, \
           last_message_at = {GREATEST}(last_message_at, $2) \
         WHERE id = $1 RETURNING last_seq, last_rev, last_message_at"
    ))
    .bind(room_id)
    .bind(now_ms())
    .fetch_one(&mut *conn)
    .await?;
    let json = serde_json::to_string(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let uid = uuid::Uuid::now_v7().to_string();
    sqlx::query(INSERT_MESSAGE)
        .bind(&uid)
        .bind(room_id)
        .bind(seq)
        .bind(actor)
        .bind("")
        .bind(at)
        .bind(None::<String>)
        .bind(rev)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(false)
        .bind(None::<String>)
        .bind(None::<String>)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE messages SET event = $3 WHERE room_id = $1 AND seq = $2")
        .bind(room_id)
        .bind(seq)
        .bind(json)
        .execute(&mut *conn)
        .await?;
    message_at(conn, room_id, seq).await
}
