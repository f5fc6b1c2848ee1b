//! Message search: a query typed by a user ([`crate::query`]) resolved against what the caller
//! may read (their rooms and DMs, the names in its filters) and asked of the store.

use crate::error::AppError;
use crate::model::{SearchHit, SearchResults, UserId};
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
    let hits = found
        .messages
        .into_iter()
        .filter_map(|message| {
            let room = rooms.iter().find(|r| r.id == message.room_id)?;
            Some(SearchHit {
                room_name: room.name.clone(),
                room_kind: room.kind,
                message,
            })
        })
        .collect();
    Ok(SearchResults {
        hits,
        next: found.next,
    })
}
