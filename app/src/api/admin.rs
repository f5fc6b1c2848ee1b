//! The admin console's one read (the instance's figures and settings, a page of accounts, a
//! page of public rooms, a page of the audit log, and the newest invites) and its room actions
//! (archive, delete). Its account actions (moderating an account, registration, invites) are in
//! `api::auth`. Only instance admins get an answer; anyone else is told there is nothing here.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::model::{
    AccountRow, AdminRoomRow, AuditEntry, InstanceFigures, InviteRow, RegistrationMode, RoomId,
};

/// Accounts shown on one page of the console.
pub const ACCOUNTS_PAGE: u32 = 50;
/// Rooms shown on one page of the console.
pub const ROOMS_PAGE: u32 = 50;
/// Audit log lines shown on one page of the console.
pub const AUDIT_PAGE: u32 = 50;
/// Invites listed, newest first.
pub const INVITES_SHOWN: u32 = 20;

/// What the admin console shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub figures: InstanceFigures,
    /// Live connections on the node that answered.
    pub sockets: usize,
    /// The instance's push (VAPID) public key.
    pub push_key: Option<String>,
    /// The limits the node runs with, by name.
    pub limits: Vec<(String, String)>,
    pub registration: RegistrationMode,
    /// The newest invites, in any state, and the time the console was read (to say which are
    /// still open).
    pub invites: Vec<InviteRow>,
    pub now: i64,
    /// The page of accounts asked for, and the name the next page starts after, if any.
    pub accounts: Vec<AccountRow>,
    pub more_accounts: Option<String>,
    /// The page of public rooms asked for, and the name the next page starts after, if any.
    pub rooms: Vec<AdminRoomRow>,
    pub more_rooms: Option<String>,
    /// The page of the audit log asked for, and the line the next (older) page starts before.
    pub audit: Vec<AuditEntry>,
    pub older_audit: Option<i64>,
}

/// The console: accounts whose name contains `search`, after the name `after`; public rooms
/// whose name contains `rooms`, after the name `rooms_after`; the audit log before the line
/// `before`.
#[server(endpoint = "admin_console")]
pub async fn admin_console(
    search: Option<String>,
    after: Option<String>,
    before: Option<i64>,
    rooms: Option<String>,
    rooms_after: Option<String>,
) -> Result<AdminView, AppError> {
    use super::ssr::{require_admin, state};
    require_admin().await?;
    let state = state()?;
    let store = state.store.as_ref();
    let search = search_words(search.as_deref())?;
    let room_search = search_words(rooms.as_deref())?;
    let now = crate::timestamp::now_ms();
    let mut accounts = store
        .accounts(search, after.as_deref(), ACCOUNTS_PAGE + 1, now)
        .await?;
    let more_accounts = next_page(&mut accounts, ACCOUNTS_PAGE, |a| a.username.clone());
    let mut rooms = store
        .admin_rooms(room_search, rooms_after.as_deref(), ROOMS_PAGE + 1)
        .await?;
    let more_rooms = next_page(&mut rooms, ROOMS_PAGE, |r| r.name.clone());
    let mut audit = store.audit_log(before, AUDIT_PAGE + 1).await?;
    let older_audit = next_page(&mut audit, AUDIT_PAGE, |line| line.id);
    Ok(AdminView {
        figures: store.figures().await?,
        sockets: crate::chat::open_sockets(&state),
        push_key: state.push.as_ref().map(|p| p.public_key().to_owned()),
        limits: state
            .limits
            .listed()
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
        registration: store.registration_mode().await?,
        invites: store.invites(INVITES_SHOWN).await?,
        now,
        accounts,
        more_accounts,
        rooms,
        more_rooms,
        audit,
        older_audit,
    })
}

/// What an admin does to a room from the console.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoomAction {
    Archive,
    Unarchive,
    Delete,
}

/// An admin archives a public room (no one posts; its members keep reading it), brings it
/// back, or deletes it with its whole history (`action`: `archive`, `unarchive`, `delete`).
/// Deleting asks for the room's name as typed confirmation (`confirm`). Every action goes to
/// the audit log. Answers what was done.
#[server(endpoint = "admin_room")]
pub async fn admin_room(
    room_id: RoomId,
    action: String,
    confirm: Option<String>,
) -> Result<String, AppError> {
    use super::ssr::{require_admin, state};
    let (admin, origin) = require_admin().await?;
    let action = match action.as_str() {
        "archive" => RoomAction::Archive,
        "unarchive" => RoomAction::Unarchive,
        "delete" => RoomAction::Delete,
        _ => {
            return Err(AppError::BadRequest(
                "A room action is archive, unarchive or delete.".into(),
            ))
        }
    };
    let state = state()?;
    let actor = crate::auth::Actor {
        admin: Some(&admin),
        origin: &origin,
    };
    let view = state.store.room_view(admin.id, room_id).await?;
    let name = view.room.name.clone();
    let (done, audited) = match action {
        RoomAction::Archive | RoomAction::Unarchive => {
            let archived = action == RoomAction::Archive;
            let setting = crate::chat::Setting::Archived(archived);
            crate::chat::configure_room(&state, &admin, room_id, setting).await?;
            if archived {
                (format!("Room {name} archived."), "room_archived")
            } else {
                (format!("Room {name} unarchived."), "room_unarchived")
            }
        }
        RoomAction::Delete => {
            let typed = confirm.unwrap_or_default();
            if !typed.trim().eq_ignore_ascii_case(&name) {
                return Err(AppError::BadRequest(format!(
                    "To delete {name}, type its name to confirm."
                )));
            }
            crate::chat::delete_room(&state, &admin, room_id).await?;
            (
                format!("Room {name} deleted with its history."),
                "room_deleted",
            )
        }
    };
    let detail = format!("room {room_id}");
    actor
        .audit(state.store.as_ref(), audited, &name, &detail)
        .await;
    Ok(done)
}

/// A console search as typed: trimmed, at most 64 characters.
#[cfg(feature = "ssr")]
fn search_words(search: Option<&str>) -> Result<&str, AppError> {
    let search = search.unwrap_or_default().trim();
    if search.chars().count() > 64 {
        return Err(AppError::BadRequest(
            "Search for at most 64 characters of a name.".into(),
        ));
    }
    Ok(search)
}

/// Keeps the first `page` of `rows` (read one past it) and, when there were more, says where
/// the next page starts: after the last row kept.
#[cfg(feature = "ssr")]
fn next_page<T, K>(rows: &mut Vec<T>, page: u32, key: impl Fn(&T) -> K) -> Option<K> {
    let page = page as usize;
    if rows.len() <= page {
        return None;
    }
    rows.truncate(page);
    rows.last().map(key)
}
