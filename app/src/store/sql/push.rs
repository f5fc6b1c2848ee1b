//! The SQL of push notifications (the instance's VAPID key, browsers' subscriptions, and the
//! preferences the notification rule reads), written once and compiled into each backend
//! (`sqlite::push`, `postgres::push`): their dialects agree on all of it.

use super::{Backend, ROOM_KIND};
use super::dialect::{DISPLAY_NAME};
use crate::model::{NotifyLevel, PushDevice, RoomId, UserId};
use crate::store::{
    found_device, found_membership, push_service, push_target, stored_level,
    NewSubscription, PushTarget, PushTargetRow, StoreError, StoreResult,
};
use crate::timestamp::now_ms;

type DeviceRow = (i64, String, i64, String);

fn device((id, label, created_at, endpoint): DeviceRow) -> PushDevice {
    PushDevice {
        id,
        label,
        created_at,
        service: push_service(&endpoint),
        endpoint,
    }
}

#[async_trait::async_trait]
impl crate::store::PushStore for Backend {
async fn push_key(&self, generated: &[u8]) -> StoreResult<Vec<u8>> {
    let pool = &self.write;
    let insert = "INSERT INTO push_keys (id, private_key, created_at) \
                  VALUES (1, $1, $2) ON CONFLICT DO NOTHING";
    sqlx::query(insert)
        .bind(generated)
        .bind(now_ms())
        .execute(pool)
        .await?;
    let select = "SELECT private_key FROM push_keys WHERE id = 1";
    Ok(sqlx::query_scalar(select).fetch_one(pool).await?)
}

async fn replace_push_key(&self, key: &[u8]) -> StoreResult<u64> {
    let pool = &self.write;
    let mut tx = pool.begin().await?;
    let dropped = sqlx::query("DELETE FROM push_subscriptions")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let upsert = "INSERT INTO push_keys (id, private_key, created_at) VALUES (1, $1, $2) \
                  ON CONFLICT (id) DO UPDATE SET private_key = excluded.private_key, \
                  created_at = excluded.created_at";
    sqlx::query(upsert)
        .bind(key)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(dropped)
}

async fn add_push_subscription(&self, new: NewSubscription<'_>,
) -> StoreResult<PushDevice> {
    let pool = &self.write;
    let mut tx = pool.begin().await?;
    let known = "SELECT p256dh, auth FROM push_subscriptions WHERE endpoint = $1";
    let known: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as(known)
        .bind(new.endpoint)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some((p256dh, auth)) = &known {
        if *p256dh != new.p256dh || *auth != new.auth {
            return Err(StoreError::Conflict(
                "That push endpoint is already subscribed with other keys.".into(),
            ));
        }
    }
    let count = "SELECT COUNT(*) FROM push_subscriptions \
                 WHERE user_id = $1 AND endpoint <> $2";
    let others: i64 = sqlx::query_scalar(count)
        .bind(new.user_id)
        .bind(new.endpoint)
        .fetch_one(&mut *tx)
        .await?;
    if usize::try_from(others).unwrap_or(usize::MAX) >= new.max_per_user {
        return Err(StoreError::Conflict(format!(
            "Push notifications are on for {others} devices of yours already (at most \
             {}). Remove one under Notifications first.",
            new.max_per_user
        )));
    }
    let upsert = "INSERT INTO push_subscriptions \
           (user_id, session_hash, endpoint, p256dh, auth, label, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, \
           session_hash = excluded.session_hash, label = excluded.label \
         RETURNING id, label, created_at, endpoint";
    let row: DeviceRow = sqlx::query_as(upsert)
        .bind(new.user_id)
        .bind(new.session_hash)
        .bind(new.endpoint)
        .bind(new.p256dh)
        .bind(new.auth)
        .bind(new.label)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(device(row))
}

async fn push_devices(&self, user_id: UserId) -> StoreResult<Vec<PushDevice>> {
    let pool = &self.read;
    let select = "SELECT id, label, created_at, endpoint FROM push_subscriptions \
                  WHERE user_id = $1 ORDER BY id";
    let rows: Vec<DeviceRow> = sqlx::query_as(select)
        .bind(user_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(device).collect())
}

async fn remove_push_device(&self, user_id: UserId, id: i64) -> StoreResult<()> {
    let pool = &self.write;
    let delete = "DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2";
    let removed = sqlx::query(delete)
        .bind(id)
        .bind(user_id)
        .execute(pool)
        .await?
        .rows_affected();
    found_device(removed)
}

async fn remove_push_endpoint(&self, endpoint: &str) -> StoreResult<()> {
    let pool = &self.write;
    sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1")
        .bind(endpoint)
        .execute(pool)
        .await?;
    Ok(())
}

async fn set_muted(&self, user_id: UserId,
    room_id: RoomId,
    muted: bool,
) -> StoreResult<()> {
    let pool = &self.write;
    let update = "UPDATE memberships SET muted = $3 WHERE user_id = $1 AND room_id = $2";
    let changed = sqlx::query(update)
        .bind(user_id)
        .bind(room_id)
        .bind(muted)
        .execute(pool)
        .await?
        .rows_affected();
    found_membership(changed)
}

async fn set_notify_level(&self, user_id: UserId,
    level: NotifyLevel,
) -> StoreResult<()> {
    let pool = &self.write;
    sqlx::query("UPDATE users SET notify = $2 WHERE id = $1")
        .bind(user_id)
        .bind(level.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

async fn notify_prefs(&self, user_id: UserId,
) -> StoreResult<(NotifyLevel, Vec<RoomId>)> {
    let pool = &self.read;
    let level: Option<String> =
        sqlx::query_scalar("SELECT notify FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    let select = "SELECT room_id FROM memberships WHERE user_id = $1 AND muted \
                  ORDER BY room_id";
    let muted = sqlx::query_scalar(select)
        .bind(user_id)
        .fetch_all(pool)
        .await?;
    Ok((stored_level(level.as_deref()), muted))
}

async fn push_targets(&self, room_id: RoomId,
    author_id: UserId,
    thread: Option<i64>,
) -> StoreResult<Vec<PushTarget>> {
    let pool = &self.read;
    // The room's name as each owner sees it: the display name with the owner as viewer.
    let name = DISPLAY_NAME.replace("$1", "m.user_id");
    let select = format!(
        "SELECT m.user_id, u.username, u.notify, m.muted, \
           EXISTS (SELECT 1 FROM thread_follows f JOIN messages root \
                     ON root.room_id = m.room_id AND root.seq = $2 \
                    AND f.root_uid = root.uid \
                   WHERE f.user_id = m.user_id), \
           {name}, {ROOM_KIND}, s.endpoint, s.p256dh, s.auth \
         FROM memberships m JOIN rooms r ON r.id = m.room_id \
         JOIN users u ON u.id = m.user_id AND u.disabled_at IS NULL \
         JOIN push_subscriptions s ON s.user_id = m.user_id \
         JOIN sessions se ON se.token_hash = s.session_hash AND se.expires_at > $4 \
         WHERE m.room_id = $1 AND m.user_id <> $3 ORDER BY m.user_id, s.id"
    );
    let rows: Vec<PushTargetRow> = sqlx::query_as(&select)
        .bind(room_id)
        .bind(thread)
        .bind(author_id)
        .bind(now_ms())
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(push_target).collect())
}
}
