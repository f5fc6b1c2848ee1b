//! Rooms and DMs: the sidebar, the directory, creating, joining, leaving, adding and removing
//! members and setting their roles, a room's settings and bans, opening a DM.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{BanEntry, Member, Navigation, RoomId, RoomListing, RoomView};

/// The caller and their rooms and DMs.
#[server(endpoint = "sidebar")]
pub async fn get_navigation() -> Result<Navigation, AppError> {
    let user = super::ssr::require_user().await?;
    let store = super::ssr::state()?.store;
    let sidebar = store.sidebar(user.id).await?;
    let registration = if user.is_admin {
        Some(store.registration_mode().await?)
    } else {
        None
    };
    Ok(Navigation {
        user,
        sidebar,
        registration,
    })
}

/// Every public room.
#[server(endpoint = "rooms")]
pub async fn list_rooms() -> Result<Vec<RoomListing>, AppError> {
    let user = super::ssr::require_user().await?;
    Ok(super::ssr::state()?.store.public_rooms(user.id).await?)
}

/// Creates a room and takes the caller to it: public, or private when `private` is sent (any
/// value; a form's unticked checkbox sends nothing).
#[server(endpoint = "create_room")]
pub async fn create_room(
    name: String,
    topic: Option<String>,
    private: Option<String>,
) -> Result<RoomId, AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    let room =
        crate::chat::create_room(&state, &user, &name, topic.as_deref(), private.is_some()).await?;
    leptos_axum::redirect(&format!("/r/{}", room.id));
    Ok(room.id)
}

/// A room as the caller sees it.
#[server(endpoint = "room")]
pub async fn get_room(room_id: RoomId) -> Result<RoomView, AppError> {
    let user = super::ssr::require_user().await?;
    let mut view = super::ssr::state()?
        .store
        .room_view(user.id, room_id)
        .await?;
    view.viewer = user.username;
    Ok(view)
}

/// The members of a room with their presence: who is online, away, or when they were last seen.
#[server(endpoint = "members")]
pub async fn room_members(room_id: RoomId) -> Result<Vec<Member>, AppError> {
    let user = super::ssr::require_user().await?;
    // The room page's own list: every member, for mention suggestions and presence.
    let all = crate::store::MemberPage::ALL;
    crate::read::members(&super::ssr::state()?, &user, room_id, all).await
}

/// Marks a room read up to `seq` on every device of the caller; answers the stored position.
#[server(endpoint = "mark_read")]
pub async fn mark_read(room_id: RoomId, seq: i64) -> Result<i64, AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::mark_read(&super::ssr::state()?, &user, room_id, seq).await
}

/// Joins a public room.
#[server(endpoint = "join_room")]
pub async fn join_room(room_id: RoomId) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::join(&super::ssr::state()?, &user, room_id).await
}

/// Leaves a public room.
#[server(endpoint = "leave_room")]
pub async fn leave_room(room_id: RoomId) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::leave(&super::ssr::state()?, &user, room_id).await
}

/// Removes `username` from the room `room_id` (its moderators and owners, or an admin).
#[server(endpoint = "remove_member")]
pub async fn remove_member(room_id: RoomId, username: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::remove_member(&super::ssr::state()?, &user, room_id, &username).await
}

/// Adds `username` to the room `room_id` (any of its members may).
#[server(endpoint = "add_member")]
pub async fn add_member(room_id: RoomId, username: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::add_member(&super::ssr::state()?, &user, room_id, &username).await
}

/// Gives `username` the role `role` (owner, moderator or member) in the room `room_id` (its
/// owners, or an admin).
#[server(endpoint = "set_role")]
pub async fn set_role(room_id: RoomId, username: String, role: String) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::set_role(&super::ssr::state()?, &user, room_id, &username, &role).await
}

/// Changes one setting of the room `room_id`: `field` is name, topic, description (empty text
/// clears a topic or description; moderators and owners), private, read_only or archived
/// (`true`/`false`, or a checkbox's `on`; owners), or group_mentions (`everyone`, `moderators`
/// or `nobody`: who may use `@room` and `@here`; owners). The change is recorded in the room's
/// timeline. A checkbox form sends `flag` as a hidden field and `value` only when ticked.
#[server(endpoint = "configure_room")]
pub async fn configure_room(
    room_id: RoomId,
    field: String,
    value: Option<String>,
) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let value = value.unwrap_or_default();
    let setting = crate::chat::Setting::parse(&field, &value)?;
    crate::chat::configure_room(&super::ssr::state()?, &user, room_id, setting).await?;
    Ok(())
}

/// Bans `username` from the room `room_id` (removing them), or with `lift` set lifts the ban:
/// its moderators and owners, or an admin.
#[server(endpoint = "ban")]
pub async fn ban(room_id: RoomId, username: String, lift: Option<String>) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    crate::chat::ban(&state, &user, room_id, &username, lift.is_none()).await
}

/// The people banned from the room `room_id`, for its moderators and owners.
#[server(endpoint = "bans")]
pub async fn room_bans(room_id: RoomId) -> Result<Vec<BanEntry>, AppError> {
    let user = super::ssr::require_user().await?;
    Ok(super::ssr::state()?.store.bans(user.id, room_id).await?)
}

/// Opens (creating on first use) the conversation with `username` (one name, or several
/// separated by commas or spaces for a group) and takes the caller to it.
#[server(endpoint = "open_dm")]
pub async fn open_dm(username: String) -> Result<RoomId, AppError> {
    let user = super::ssr::require_user().await?;
    let room_id = crate::chat::open_dm(&super::ssr::state()?, &user, &username).await?;
    leptos_axum::redirect(&format!("/r/{room_id}"));
    Ok(room_id)
}
