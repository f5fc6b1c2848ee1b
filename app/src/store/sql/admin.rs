//! What the admin console reads and the audit log it keeps, written once for both backends
//! (`docs/architecture.md`, "One source for both databases"): the accounts with their last
//! visit and sessions, the public rooms and deleting one, the instance's figures, and the audit
//! log's lines.

use sqlx::Row;

use super::dialect::{by_name, lock_room, name_contains, DATABASE_BYTES, ROOM_TABLES};
use super::{Conn, Pool};
use crate::model::{AccountRow, AdminRoomRow, AuditEntry, InstanceFigures, RoomId, UserId};
use crate::store::{NewAudit, StoreResult};

/// Adds a line to the audit log.
pub(super) async fn record(pool: &Pool, entry: &NewAudit<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, target, detail, origin) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.at)
    .bind(entry.actor_id)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.detail)
    .bind(entry.origin)
    .execute(pool)
    .await?;
    Ok(())
}

/// Up to `limit` lines of the audit log older than the line `before` (or the newest), newest
/// first.
pub(super) async fn log(
    pool: &Pool,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, target, detail, origin FROM audit_log \
         WHERE $1 IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                id: row.try_get(0)?,
                at: row.try_get(1)?,
                actor: row.try_get(2)?,
                action: row.try_get(3)?,
                target: row.try_get(4)?,
                detail: row.try_get(5)?,
                origin: row.try_get(6)?,
            })
        })
        .collect()
}

/// Accounts whose name contains `search` (all for an empty one), in name order after `after`.
pub(super) async fn accounts(
    pool: &Pool,
    search: &str,
    after: Option<&str>,
    limit: u32,
    now: i64,
) -> StoreResult<Vec<AccountRow>> {
    let order = by_name("u.username");
    let rows = sqlx::query(&format!(
        "SELECT u.username, u.is_admin, u.disabled_at IS NOT NULL, u.created_at, u.last_seen_at, \
           (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > $4), \
           u.is_bot \
         FROM users u \
         WHERE ($1 = '' OR {contains}) AND ($2 IS NULL OR {order} > {after}) \
         ORDER BY {order} LIMIT $3",
        contains = name_contains("u.username", "$1"),
        after = by_name("$2"),
    ))
    .bind(search)
    .bind(after)
    .bind(i64::from(limit))
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AccountRow {
                username: row.try_get(0)?,
                is_admin: row.try_get(1)?,
                disabled: row.try_get(2)?,
                created_at: row.try_get(3)?,
                last_seen_at: row.try_get(4)?,
                sessions: row.try_get(5)?,
                bot: row.try_get(6)?,
            })
        })
        .collect()
}

/// Public rooms whose name contains `search` (all for an empty one), in name order after
/// `after`, with their member counts.
pub(super) async fn rooms(
    pool: &Pool,
    search: &str,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<AdminRoomRow>> {
    let order = by_name("r.name");
    let rows = sqlx::query(&format!(
        "SELECT r.id, r.name, (SELECT COUNT(*) FROM memberships m WHERE m.room_id = r.id), \
           r.last_seq, r.last_message_at, r.archived \
         FROM rooms r \
         WHERE r.kind = 'public' AND NOT r.private \
           AND ($1 = '' OR {contains}) AND ($2 IS NULL OR {order} > {after}) \
         ORDER BY {order} LIMIT $3",
        contains = name_contains("r.name", "$1"),
        after = by_name("$2"),
    ))
    .bind(search)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AdminRoomRow {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                members: row.try_get(2)?,
                messages: row.try_get(3)?,
                last_message_at: row.try_get(4)?,
                archived: row.try_get(5)?,
            })
        })
        .collect()
}

/// Deletes room `room_id` and every row that belongs to it, in the caller's transaction, once
/// the caller has checked who may. Answers its name and who its members were.
pub(super) async fn delete_room(
    conn: &mut Conn,
    room_id: RoomId,
) -> StoreResult<(String, Vec<UserId>)> {
    lock_room(conn, room_id).await?;
    let members: Vec<UserId> =
        sqlx::query_scalar("SELECT user_id FROM memberships WHERE room_id = $1 ORDER BY user_id")
            .bind(room_id)
            .fetch_all(&mut *conn)
            .await?;
    for table in ROOM_TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE room_id = $1"))
            .bind(room_id)
            .execute(&mut *conn)
            .await?;
    }
    let name: Option<String> = sqlx::query_scalar("DELETE FROM rooms WHERE id = $1 RETURNING name")
        .bind(room_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok((name.unwrap_or_default(), members))
}

/// What the instance holds.
pub(super) async fn figures(pool: &Pool) -> StoreResult<InstanceFigures> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM users), \
           (SELECT COUNT(*) FROM rooms WHERE kind = 'public' AND NOT private), \
           (SELECT COUNT(*) FROM rooms WHERE kind = 'public' AND private), \
           (SELECT COUNT(*) FROM rooms WHERE kind = 'dm'), \
           (SELECT COUNT(*) FROM messages)",
    )
    .fetch_one(pool)
    .await?;
    let database_bytes: i64 = sqlx::query_scalar(DATABASE_BYTES).fetch_one(pool).await?;
    Ok(InstanceFigures {
        users: row.try_get(0)?,
        rooms: row.try_get(1)?,
        private_rooms: row.try_get(2)?,
        dms: row.try_get(3)?,
        messages: row.try_get(4)?,
        database_bytes,
    })
}
