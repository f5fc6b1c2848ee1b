//! Rooms and DMs: the sidebar, the directory, creating, joining, leaving, opening a DM.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{Navigation, RoomId, RoomListing, RoomView};

/// The caller and their rooms and DMs.
#[server(endpoint = "sidebar")]
pub async fn get_navigation() -> Result<Navigation, AppError> {
    let user = super::ssr::require_user().await?;
    let sidebar = super::ssr::state()?.store.sidebar(user.id).await?;
    Ok(Navigation { user, sidebar })
}

/// Every public room.
#[server(endpoint = "rooms")]
pub async fn list_rooms() -> Result<Vec<RoomListing>, AppError> {
    let user = super::ssr::require_user().await?;
    Ok(super::ssr::state()?.store.public_rooms(user.id).await?)
}

/// Creates a public room and takes the caller to it.
#[server(endpoint = "create_room")]
pub async fn create_room(name: String, topic: Option<String>) -> Result<RoomId, AppError> {
    let user = super::ssr::require_user().await?;
    let name = crate::validate::room_name(&name)?;
    let topic = crate::validate::topic(topic.as_deref())?;
    let state = super::ssr::state()?;
    let room = state
        .store
        .create_room(user.id, &name, topic.as_deref())
        .await?;
    crate::live::membership_changed(&state, user.id, room.id, true).await;
    leptos_axum::redirect(&format!("/r/{}", room.id));
    Ok(room.id)
}

/// A room as the caller sees it.
#[server(endpoint = "room")]
pub async fn get_room(room_id: RoomId) -> Result<RoomView, AppError> {
    let user = super::ssr::require_user().await?;
    Ok(super::ssr::state()?
        .store
        .room_view(user.id, room_id)
        .await?)
}

/// Joins a public room.
#[server(endpoint = "join_room")]
pub async fn join_room(room_id: RoomId) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    state.store.join_room(user.id, room_id).await?;
    crate::live::membership_changed(&state, user.id, room_id, true).await;
    Ok(())
}

/// Leaves a public room.
#[server(endpoint = "leave_room")]
pub async fn leave_room(room_id: RoomId) -> Result<(), AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    state.store.leave_room(user.id, room_id).await?;
    crate::live::membership_changed(&state, user.id, room_id, false).await;
    Ok(())
}

/// Opens (creating on first use) the DM with `username` and takes the caller to it.
#[server(endpoint = "open_dm")]
pub async fn open_dm(username: String) -> Result<RoomId, AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    let store = &state.store;
    let wanted = username.trim();
    if wanted.is_empty() {
        return Err(AppError::BadRequest("Enter a username.".into()));
    }
    let Some(other) = store.user_by_name(wanted).await? else {
        return Err(AppError::NotFound(format!(
            "There is no user named {wanted}."
        )));
    };
    let room_id = store.open_dm(user.id, other.id).await?;
    crate::live::membership_changed(&state, user.id, room_id, true).await;
    crate::live::membership_changed(&state, other.id, room_id, true).await;
    leptos_axum::redirect(&format!("/r/{room_id}"));
    Ok(room_id)
}
