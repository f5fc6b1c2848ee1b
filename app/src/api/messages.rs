//! History, posting, and changing what was posted (edits, deletes, and catching up on them).

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{Changes, HistoryPage, Message, RoomId, SearchResults, Thread};

/// A page of a room's history, oldest first. `before`/`after` are exclusive seq bounds; without
/// them the page is the newest. `since` (RFC 3339) starts at the first message at or after that
/// instant, oldest first; page on with `after` = the last seq received. `limit` defaults to 50
/// and is capped at 100.
#[server(endpoint = "history")]
pub async fn get_history(
    room_id: RoomId,
    before: Option<i64>,
    after: Option<i64>,
    since: Option<String>,
    limit: Option<u32>,
) -> Result<HistoryPage, AppError> {
    let user = super::ssr::require_user().await?;
    let ask = crate::read::HistoryAsk {
        before,
        after,
        since: since.as_deref(),
        limit,
        thread: None,
    };
    crate::read::history(&super::ssr::state()?, &user, room_id, ask).await
}

/// Posts a message. Returns once it is durably stored, with its seq. A retry with the same
/// `client_id` returns the original message instead of storing a second one. With `thread`
/// (the seq of a message) it is a reply in that message's thread; `also_in_room` (`true` or a
/// checked box's `on`) shows it in the room's timeline too. A form posted without JavaScript
/// is sent back to where it came from.
#[server(endpoint = "post_message")]
pub async fn post_message(
    room_id: RoomId,
    text: String,
    client_id: Option<String>,
    thread: Option<i64>,
    also_in_room: Option<String>,
) -> Result<Message, AppError> {
    let user = super::ssr::require_user().await?;
    let also_in_room = crate::validate::checkbox("also_in_room", also_in_room.as_deref())?;
    let post = crate::chat::Post {
        room_id,
        text: &text,
        client_id: client_id.as_deref(),
        thread,
        also_in_room,
        files: &[],
        budget_drawn: false,
        persona: None,
    };
    let message = crate::chat::post(
        &super::ssr::state()?,
        &user,
        post,
        crate::chat::Answer::Returned,
    )
    .await?;
    if message.thread.is_some() {
        super::ssr::back_to_message(&message)?;
    }
    Ok(message)
}

/// Runs a slash command typed in the message box that is not a message (`/topic`, `/invite`,
/// `/leave`, `/mute`; see `crate::slash`). Answers what was done, in words.
#[server(endpoint = "run_command")]
pub async fn run_command(room_id: RoomId, text: String) -> Result<String, AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::command(&super::ssr::state()?, &user, room_id, &text).await
}

/// Replaces the text of one of the caller's messages. Returns the stored message (with its new
/// rev) once the change is durable. A retry with the same `client_id` changes nothing more.
/// A form posted without JavaScript is sent back to the room.
#[server(endpoint = "edit_message")]
pub async fn edit_message(
    room_id: RoomId,
    seq: i64,
    text: String,
    client_id: Option<String>,
) -> Result<Message, AppError> {
    super::ssr::change_message(crate::chat::Change {
        room_id,
        seq,
        client_id: client_id.as_deref(),
        action: crate::chat::Action::Edit(&text),
    })
    .await
}

/// Deletes a message (one's own; in a public room its creator and admins may delete anyone's),
/// leaving a tombstone that keeps its place. Returns the tombstone.
#[server(endpoint = "delete_message")]
pub async fn delete_message(
    room_id: RoomId,
    seq: i64,
    client_id: Option<String>,
) -> Result<Message, AppError> {
    super::ssr::change_message(crate::chat::Change {
        room_id,
        seq,
        client_id: client_id.as_deref(),
        action: crate::chat::Action::Delete,
    })
    .await
}

/// Adds the caller's reaction `emoji` to a message, or takes it back if it is there. Returns
/// the message with its reactions once stored.
#[server(endpoint = "react")]
pub async fn react(
    room_id: RoomId,
    seq: i64,
    emoji: String,
    client_id: Option<String>,
) -> Result<Message, AppError> {
    super::ssr::change_message(crate::chat::Change {
        room_id,
        seq,
        client_id: client_id.as_deref(),
        action: crate::chat::Action::React(&emoji),
    })
    .await
}

/// Pins a message to its room, or with `unpin` set (any value) unpins it: the room's
/// moderators and owners (either member of a conversation). Returns the message once stored.
#[server(endpoint = "pin")]
pub async fn pin_message(
    room_id: RoomId,
    seq: i64,
    unpin: Option<String>,
    client_id: Option<String>,
) -> Result<Message, AppError> {
    super::ssr::change_message(crate::chat::Change {
        room_id,
        seq,
        client_id: client_id.as_deref(),
        action: crate::chat::Action::Pin(unpin.is_none()),
    })
    .await
}

/// Removes the link preview from one of the caller's messages (it does not come back unless
/// an edit changes the link). Returns the message once stored.
#[server(endpoint = "remove_preview")]
pub async fn remove_preview(
    room_id: RoomId,
    seq: i64,
    client_id: Option<String>,
) -> Result<Message, AppError> {
    super::ssr::change_message(crate::chat::Change {
        room_id,
        seq,
        client_id: client_id.as_deref(),
        action: crate::chat::Action::RemovePreview,
    })
    .await
}

/// The room's pinned messages, newest pin first, for its members.
#[server(endpoint = "pins")]
pub async fn room_pins(room_id: RoomId) -> Result<Vec<Message>, AppError> {
    let user = super::ssr::require_user().await?;
    crate::read::pins(&super::ssr::state()?, &user, room_id).await
}

/// A thread: its root (the message at `seq`, or the root of the reply at `seq`) and its newest
/// replies before `before` (50 by default, at most 100), oldest first.
#[server(endpoint = "thread")]
pub async fn get_thread(
    room_id: RoomId,
    seq: i64,
    before: Option<i64>,
    limit: Option<u32>,
) -> Result<Thread, AppError> {
    let user = super::ssr::require_user().await?;
    let state = super::ssr::state()?;
    state.limits.read(user.id)?;
    let store = state.store;
    let mut root = store.message(user.id, room_id, seq).await?;
    if let Some(root_seq) = root.thread {
        root = store.message(user.id, room_id, root_seq).await?;
    }
    let query = crate::store::HistoryQuery {
        before,
        limit: crate::validate::page_limit(limit),
        thread: Some(root.seq),
        ..Default::default()
    };
    let mut replies = store.history(user.id, room_id, query).await?;
    replies.fit(crate::validate::PAGE_MAX_BYTES, false);
    Ok(Thread { root, replies })
}

/// Marks the thread of `root` read up to `seq` on every device of the caller (a thread they
/// follow); answers the stored position, 0 for a thread they do not follow.
#[server(endpoint = "mark_thread_read")]
pub async fn mark_thread_read(room_id: RoomId, root: i64, seq: i64) -> Result<i64, AppError> {
    let user = super::ssr::require_user().await?;
    crate::chat::mark_thread_read(&super::ssr::state()?, &user, room_id, root, seq).await
}

/// What changed in a room after `after_rev`: the current state of every message posted,
/// edited or deleted since, in rev order (`limit` defaults to 50, at most 100). Page on with
/// `after_rev` = the last message's rev while `complete` is false.
#[server(endpoint = "changes")]
pub async fn get_changes(
    room_id: RoomId,
    after_rev: i64,
    limit: Option<u32>,
) -> Result<Changes, AppError> {
    let user = super::ssr::require_user().await?;
    crate::read::changes(&super::ssr::state()?, &user, room_id, after_rev, limit).await
}

/// Messages the caller can read (rooms and DMs they are in) matching `q`, newest first, 20 per
/// page: words, "quoted phrases", `word*` prefixes, and the filters `from:user`, `in:room`,
/// `before:YYYY-MM-DD`, `after:YYYY-MM-DD` (UTC days, both exclusive). Pass a page's `next`
/// back as `page` for older results.
#[server(endpoint = "search")]
pub async fn search_messages(q: String, page: Option<String>) -> Result<SearchResults, AppError> {
    let user = super::ssr::require_user().await?;
    let page = page.as_deref().map(str::trim).filter(|p| !p.is_empty());
    crate::search::run(&super::ssr::state()?, user.id, &q, page).await
}
