//! People's profiles in the database, written once and compiled into each backend
//! (`sqlite::profiles`, `postgres::profiles`): read by username for anyone signed in, and
//! changed by their owner, one part at a time (details, status, avatar). A status past its
//! `until` reads as none, so it clears itself without a sweeper.

use sqlx::Row;

use super::dialect::same_name;
use super::{no_such_user, Pool};
use crate::model::{Avatar, Profile, Status, UserId};
use crate::store::{ProfileChange, StoreError, StoreResult};
use crate::timestamp::now_ms;

pub(super) async fn profile(pool: &Pool, username: &str) -> StoreResult<Profile> {
    let row = sqlx::query(&format!(
        "SELECT username, display_name, status_emoji, status_text, status_until, time_zone, \
         avatar, avatar_small, is_admin, created_at FROM users WHERE {}",
        same_name("username", "$1")
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| no_such_user(username))?;
    let until: Option<i64> = row.try_get("status_until")?;
    let emoji: Option<String> = row.try_get("status_emoji")?;
    let text: Option<String> = row.try_get("status_text")?;
    let status = (until.is_none_or(|u| u > now_ms()) && (emoji.is_some() || text.is_some()))
        .then_some(Status { emoji, text, until });
    let large: Option<String> = row.try_get("avatar")?;
    let small: Option<String> = row.try_get("avatar_small")?;
    Ok(Profile {
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        status,
        time_zone: row.try_get("time_zone")?,
        avatar: large.zip(small).map(|(large, small)| Avatar { large, small }),
        is_admin: row.try_get("is_admin")?,
        joined_at: row.try_get("created_at")?,
    })
}

pub(super) async fn update(
    pool: &Pool,
    user_id: UserId,
    change: &ProfileChange<'_>,
) -> StoreResult<()> {
    let done = match change {
        ProfileChange::Details {
            display_name,
            time_zone,
        } => {
            sqlx::query("UPDATE users SET display_name = $2, time_zone = $3 WHERE id = $1")
                .bind(user_id)
                .bind(display_name)
                .bind(time_zone)
                .execute(pool)
                .await?
        }
        ProfileChange::Status(status) => {
            sqlx::query(
                "UPDATE users SET status_emoji = $2, status_text = $3, status_until = $4 \
                 WHERE id = $1",
            )
            .bind(user_id)
            .bind(status.and_then(|s| s.emoji.as_deref()))
            .bind(status.and_then(|s| s.text.as_deref()))
            .bind(status.and_then(|s| s.until))
            .execute(pool)
            .await?
        }
        ProfileChange::Avatar(avatar) => {
            sqlx::query("UPDATE users SET avatar = $2, avatar_small = $3 WHERE id = $1")
                .bind(user_id)
                .bind(avatar.map(|a| a.large.as_str()))
                .bind(avatar.map(|a| a.small.as_str()))
                .execute(pool)
                .await?
        }
    };
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound("That account no longer exists.".into()));
    }
    Ok(())
}
