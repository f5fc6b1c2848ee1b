//! Message search: a query typed by a user ([`crate::query`]) resolved against what the caller
//! may read (their rooms and DMs, the names in its filters) and asked of the store.

use crate::error::AppError;
use crate::model::{RoomId, RoomKind, SearchHit, SearchResults, UserId};
use crate::query::parse;
use crate::state::AppState;
use crate::store::SearchFilter;

/// Results per page.
pub const PAGE: u32 = 20;

/// Searches what `user_id` may read (the rooms and DMs they are in), newest first, a page of at
/// most [`PAGE`] hits after the page whose `next` cursor is `page` (the store's own cursor).
pub async fn run(
    state: &AppState,
    user_id: UserId,
    text: &str,
    page: Option<&str>,
) -> Result<SearchResults, AppError> {
    let query = parse(text)?;
    state.limits.search(user_id)?;
    let sidebar = state.store.sidebar(user_id).await?;
    let rooms: Vec<_> = sidebar.rooms.into_iter().chain(sidebar.dms).collect();
    let room = match &query.room {
        Some(name) => Some(
            rooms
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name))
                .map(|r| r.id)
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "in: you are not in a room or DM called \u{201c}{name}\u{201d}."
                    ))
                })?,
        ),
        None => None,
    };
    let author = match &query.from {
        Some(name) => Some(
            state
                .store
                .user_by_name(name)
                .await?
                .map(|u| u.id)
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "from: there is no user called \u{201c}{name}\u{201d}."
                    ))
                })?,
        ),
        None => None,
    };
    let filter = SearchFilter {
        terms: &query.terms,
        author,
        room,
        before: query.before,
        after: query.after,
        page,
        limit: PAGE,
        time_limit: crate::store::SEARCH_TIME_LIMIT,
    };
    let found = state.store.search(user_id, &filter).await?;
    // An archived room has left the sidebar but stays searchable by its members: its name is
    // read once (a page holds at most `PAGE` hits).
    let mut rooms: Vec<(RoomId, String, RoomKind)> =
        rooms.into_iter().map(|r| (r.id, r.name, r.kind)).collect();
    let mut hits = Vec::with_capacity(found.messages.len());
    for message in found.messages {
        if !rooms.iter().any(|r| r.0 == message.room_id) {
            match state.store.room_view(user_id, message.room_id).await {
                Ok(view) => rooms.push((view.room.id, view.room.name, view.room.kind)),
                Err(crate::store::StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some((_, name, kind)) = rooms.iter().find(|r| r.0 == message.room_id) {
            hits.push(SearchHit {
                room_name: name.clone(),
                room_kind: *kind,
                message,
            });
        }
    }
    Ok(SearchResults {
        hits,
        next: found.next,
    })
}
