//! What every store operation checks first, written once and compiled into each backend
//! (see `docs/architecture.md`, "One source for both databases"): whether a user may see and
//! use a room, and the errors the store's answers share.

use sqlx::Row;

use super::Conn;
use crate::model::{Role, RoomId, RoomKind, UserId};
use crate::rights::{Action, Standing};
use crate::store::{StoreError, StoreResult};

pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The SQL for a room's kind as [`RoomKind::from_db`] reads it (`r` the room): a named room's
/// `private` flag makes it `private`.
pub(crate) const ROOM_KIND: &str = "CASE WHEN r.private THEN 'private' ELSE r.kind END";

/// What a user may do in a room, read in the same transaction as the action it guards; the
/// rule itself is [`crate::rights`].
pub(super) struct Access {
    pub kind: RoomKind,
    pub is_member: bool,
    pub standing: Standing,
}

impl Access {
    /// The user's standing in the room. A room they may not know of (a private room or a
    /// conversation they are not in) is `NotFound`, the same answer as a room that does not
    /// exist.
    pub async fn load(conn: &mut Conn, user_id: UserId, room_id: RoomId) -> StoreResult<Self> {
        let row = sqlx::query(&format!(
            "SELECT {ROOM_KIND}, \
               (SELECT role FROM memberships WHERE room_id = r.id AND user_id = $2), \
               COALESCE((SELECT is_admin FROM users WHERE id = $2), FALSE), \
               r.read_only, r.archived \
             FROM rooms r WHERE r.id = $1"
        ))
        .bind(room_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Err(not_found());
        };
        let kind = RoomKind::from_db(&row.try_get::<String, _>(0)?);
        let role = row
            .try_get::<Option<String>, _>(1)?
            .map(|r| Role::from_db(&r));
        let standing = Standing {
            kind,
            role,
            admin: row.try_get(2)?,
            read_only: row.try_get(3)?,
            archived: row.try_get(4)?,
        };
        if !standing.sees() {
            return Err(not_found());
        }
        Ok(Access {
            kind,
            is_member: role.is_some(),
            standing,
        })
    }

    /// Members only: reading history and posting.
    pub fn require_member(&self, action: &str) -> StoreResult<()> {
        if self.is_member {
            Ok(())
        } else {
            Err(StoreError::Forbidden(format!(
                "Join this room to {action}."
            )))
        }
    }

    /// Refuses what [`crate::rights`] does not allow this user.
    pub fn require(&self, action: Action) -> StoreResult<()> {
        match self.standing.refusal(action) {
            None => Ok(()),
            Some(why) => Err(StoreError::Forbidden(why.into())),
        }
    }
}

pub(super) fn not_found() -> StoreError {
    StoreError::NotFound("That room does not exist, or you are not in it.".into())
}

pub(super) fn no_such_user(username: &str) -> StoreError {
    StoreError::NotFound(format!(
        "There is no user named \u{201c}{username}\u{201d}."
    ))
}

/// How many owners a room has.
pub(super) async fn owners(conn: &mut Conn, room_id: RoomId) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE room_id = $1 AND role = 'owner'",
    )
    .bind(room_id)
    .fetch_one(&mut *conn)
    .await?)
}
