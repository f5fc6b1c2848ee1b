//! The reads every client shares: a page of a room's history (or of a thread), a room's changes,
//! members and pins, and a person's profile, asked for by the UI's server functions and by the
//! HTTP API (`/api/v1`) alike, so both are bounded, rate-limited and paged the same way.

use crate::error::AppError;
use crate::model::{Changes, HistoryPage, Member, Message, Presence, Profile, RoomId, User};
use crate::state::AppState;
use crate::store::MemberPage;

/// Which page of history to read, as a client asks for it (not yet checked).
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryAsk<'a> {
    /// Exclusive seq bounds; without either the page is the newest.
    pub before: Option<i64>,
    pub after: Option<i64>,
    /// RFC 3339: from the first message at or after that instant, oldest first.
    pub since: Option<&'a str>,
    /// Messages per page: 50 when not said, at most 100.
    pub limit: Option<u32>,
    /// The replies of the thread of the message with this seq, instead of the timeline.
    pub thread: Option<i64>,
}

/// A page of `room_id`'s history as `user` may read it, oldest first, cut to what one answer
/// may carry.
pub async fn history(
    state: &AppState,
    user: &User,
    room_id: RoomId,
    ask: HistoryAsk<'_>,
) -> Result<HistoryPage, AppError> {
    let since = match ask.since.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(crate::timestamp::parse_rfc3339(text).ok_or_else(|| {
            AppError::BadRequest(format!(
                "since: {text:?} is not an RFC 3339 date (e.g. 2024-01-31T09:00:00Z)."
            ))
        })?),
        None => None,
    };
    state.limits.read(user.id)?;
    let forwards = ask.after.is_some() || since.is_some();
    let query = crate::store::HistoryQuery {
        before: ask.before,
        after: ask.after,
        since,
        limit: crate::validate::page_limit(ask.limit),
        thread: ask.thread,
    };
    let mut page = state.store.history(user.id, room_id, query).await?;
    page.fit(crate::validate::PAGE_MAX_BYTES, forwards);
    Ok(page)
}

/// What changed in `room_id` after `after_rev`, in rev order, `limit` at a time (50 when not
/// said, at most 100).
pub async fn changes(
    state: &AppState,
    user: &User,
    room_id: RoomId,
    after_rev: i64,
    limit: Option<u32>,
) -> Result<Changes, AppError> {
    let limit = crate::validate::page_limit(limit);
    state.limits.read(user.id)?;
    let mut changes = state
        .store
        .changes(user.id, room_id, after_rev, limit)
        .await?;
    changes.fit(crate::validate::PAGE_MAX_BYTES);
    Ok(changes)
}

/// A page of the members of `room_id` (see [`MemberPage`]) with their presence (who is
/// online, away, or when they were last seen), for one who may see the room.
pub async fn members(
    state: &AppState,
    user: &User,
    room_id: RoomId,
    page: MemberPage<'_>,
) -> Result<Vec<Member>, AppError> {
    state.limits.read(user.id)?;
    let stored = state.store.room_members(user.id, room_id, page).await?;
    let ids: Vec<_> = stored.iter().map(|m| m.id).collect();
    let presence = state.bus.presence(&ids).await;
    Ok(stored
        .into_iter()
        .zip(presence)
        .map(|(m, presence)| Member {
            username: m.username,
            presence,
            last_seen: (presence == Presence::Offline)
                .then_some(m.last_seen_at)
                .flatten(),
            role: m.role,
            bot: m.bot,
        })
        .collect())
}

/// The pinned messages of `room_id`, newest pin first, for one who may see the room.
pub async fn pins(
    state: &AppState,
    user: &User,
    room_id: RoomId,
) -> Result<Vec<Message>, AppError> {
    state.limits.read(user.id)?;
    Ok(state.store.pins(user.id, room_id).await?)
}

/// `username`'s profile, as their card shows it to anyone signed in.
pub async fn profile(state: &AppState, user: &User, username: &str) -> Result<Profile, AppError> {
    state.limits.read(user.id)?;
    Ok(state.store.profile(username.trim()).await?)
}
