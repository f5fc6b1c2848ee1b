//! What every store operation checks first, written once and compiled into each backend
//! (see `docs/architecture.md`, "One source for both databases"): whether a user may see and
//! use a room, and the errors the store's answers share.

use sqlx::Row;

use super::Conn;
use crate::model::{RoomId, RoomKind, UserId};
use crate::store::{StoreError, StoreResult};

pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// What a user may do in a room, read in the same transaction as the action it guards.
pub(super) struct Access {
    pub kind: RoomKind,
    pub is_member: bool,
}

impl Access {
    pub async fn load(conn: &mut Conn, user_id: UserId, room_id: RoomId) -> StoreResult<Self> {
        let row = sqlx::query(
            "SELECT r.kind, EXISTS(SELECT 1 FROM memberships WHERE room_id = r.id AND user_id = $2) \
             FROM rooms r WHERE r.id = $1",
        )
        .bind(room_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Err(not_found());
        };
        let kind: String = row.try_get(0)?;
        let access = Access {
            kind: RoomKind::from_db(&kind),
            is_member: row.try_get(1)?,
        };
        // A DM is invisible to everyone outside it: same answer as a room that does not exist.
        if access.kind == RoomKind::Dm && !access.is_member {
            return Err(not_found());
        }
        Ok(access)
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
}

pub(super) fn not_found() -> StoreError {
    StoreError::NotFound("That room does not exist, or you are not in it.".into())
}

pub(super) fn no_such_user(username: &str) -> StoreError {
    StoreError::NotFound(format!(
        "There is no user named \u{201c}{username}\u{201d}."
    ))
}
