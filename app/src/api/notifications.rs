//! Notifications: the caller's settings (level, muted rooms, devices), subscribing this
//! browser to push, removing a device. They change only what the caller is sent, so they
//! write to the store directly; the pushes themselves start in the one write path
//! (`crate::chat::post` → `crate::push::send`).

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{NotificationSettings, NotifyLevel, PushDevice, RoomId};

/// The caller's notification settings, with the key this instance's pushes are signed with.
#[server(endpoint = "notifications")]
pub async fn get_notifications() -> Result<NotificationSettings, AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    let (level, muted) = state.store.push().notify_prefs(user.id).await?;
    let devices = state.store.push().push_devices(user.id).await?;
    Ok(NotificationSettings {
        level,
        vapid_public_key: pusher(&state)?.public_key().to_owned(),
        devices,
        muted,
    })
}

/// Stores this browser's push subscription (`PushSubscription.toJSON()`'s endpoint and keys)
/// for the caller's session: logging out ends it.
#[server(endpoint = "subscribe_push")]
pub async fn subscribe_push(
    endpoint: String,
    p256dh: String,
    auth: String,
) -> Result<PushDevice, AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    let parts = super::ssr::request_parts()?;
    let token = crate::auth::session_token(&parts.headers).ok_or_else(AppError::login_required)?;
    state.limits.subscribe(user.id)?;
    let checked =
        crate::push::subscription(&endpoint, &p256dh, &auth, pusher(&state)?.allowed_origins())?;
    let agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let label = crate::push::device_label(agent);
    let hash = crate::auth::token_hash(&token);
    Ok(state
        .store
        .push()
        .add_push_subscription(crate::store::NewSubscription {
            user_id: user.id,
            session_hash: &hash,
            endpoint: &checked.endpoint,
            p256dh: &checked.p256dh,
            auth: &checked.auth,
            label: &label,
            max_per_user: crate::push::MAX_DEVICES_PER_USER,
        })
        .await?)
}

/// Removes one of the caller's devices: it gets no more pushes.
#[server(endpoint = "remove_push_device")]
pub async fn remove_push_device(id: i64) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    Ok(super::ssr::state()?
        .store
        .push()
        .remove_push_device(user.id, id)
        .await?)
}

/// Sets which messages notify the caller: `all`, `mentions` or `nothing`.
#[server(endpoint = "set_notify_level")]
pub async fn set_notify_level(level: String) -> Result<NotifyLevel, AppError> {
    let user = super::ssr::require_user().await?;
    let level = NotifyLevel::parse(&level).ok_or_else(|| {
        AppError::BadRequest("Choose a notification level: all, mentions or nothing.".into())
    })?;
    super::ssr::state()?
        .store
        .push()
        .set_notify_level(user.id, level)
        .await?;
    Ok(level)
}

/// Mutes (no notifications; unread still counted) or unmutes one of the caller's rooms.
#[server(endpoint = "mute_room")]
pub async fn mute_room(room_id: RoomId, muted: bool) -> Result<bool, AppError> {
    let user = super::ssr::require_user().await?;
    super::ssr::state()?
        .store
        .push()
        .set_muted(user.id, room_id, muted)
        .await?;
    Ok(muted)
}

#[cfg(feature = "ssr")]
fn pusher(
    state: &crate::state::AppState,
) -> Result<&std::sync::Arc<crate::push::send::Pusher>, AppError> {
    state.push.as_ref().ok_or_else(|| {
        tracing::error!("a notification call reached a server without push set up");
        AppError::Internal
    })
}
