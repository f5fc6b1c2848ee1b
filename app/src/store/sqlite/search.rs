//! SQLite's side of search ([`crate::search`]): the FTS5 index `messages_fts` (migration
//! 0008), walked newest first. Results come in the order messages were stored (`messages.id`,
//! descending), which FTS5 hands out without sorting, so a page costs the same whether a word is
//! in ten messages or in a million; the page cursor is the last id shown. A search that walks
//! for longer than its time limit is interrupted (SQLite's progress handler).

use std::time::Instant;

use sqlx::{Row, SqlitePool};

use super::dialect::MESSAGE_COLUMNS;
use crate::query::Term;
use crate::store::rows::{self, MESSAGE_COLUMN_COUNT};
use crate::store::{bad_page, search_too_slow, Found, SearchFilter, StoreError, StoreResult};

/// SQLite virtual-machine steps between looks at the clock (a fraction of a millisecond).
const STEPS_PER_LOOK: i32 = 1_000;
/// SQLite's code for a statement stopped by the progress handler.
const SQLITE_INTERRUPT: &str = "9";

/// The FTS5 query for `terms`: each a quoted phrase (its words hold only letters and digits, so
/// nothing in them is FTS5 syntax), all required.
fn fts_query(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| {
            let star = if t.prefix { "*" } else { "" };
            format!("\"{}\"{star}", t.words.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

pub(super) async fn search(
    pool: &SqlitePool,
    user_id: i64,
    filter: &SearchFilter<'_>,
) -> StoreResult<Found> {
    let below = match filter.page {
        Some(page) => page.parse::<i64>().map_err(|_| bad_page())?,
        None => i64::MAX,
    };
    // Without words, the same filters over the messages themselves, newest first.
    let (source, order, matching) = if filter.terms.is_empty() {
        ("messages m", "m.id", "?1 IS NULL")
    } else {
        // CROSS JOIN keeps the index outermost (SQLite never reorders one): walking it newest
        // first is what makes a page cheap.
        (
            "messages_fts f CROSS JOIN messages m ON m.id = f.rowid",
            "f.rowid",
            "messages_fts MATCH ?1",
        )
    };
    // The filters are checked on each row met (`+` keeps SQLite from answering them through an
    // index and sorting what it finds): walking newest first, a page is found in the first few
    // dozen rows unless the filters are very narrow.
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS}, m.id FROM {source} JOIN users u ON u.id = m.author_id \
         WHERE {matching} \
           AND +m.room_id IN (SELECT room_id FROM memberships WHERE user_id = ?2) \
           AND (?3 IS NULL OR +m.author_id = ?3) AND (?4 IS NULL OR +m.room_id = ?4) \
           AND (?5 IS NULL OR m.created_at < ?5) AND (?6 IS NULL OR m.created_at >= ?6) \
           AND {order} < ?7 AND m.deleted_at IS NULL AND m.body <> '' \
         ORDER BY {order} DESC LIMIT ?8"
    );
    let matching = (!filter.terms.is_empty()).then(|| fts_query(filter.terms));
    let mut conn = pool.acquire().await?;
    let deadline = Instant::now() + filter.time_limit;
    conn.lock_handle()
        .await?
        .set_progress_handler(STEPS_PER_LOOK, move || Instant::now() < deadline);
    let rows = sqlx::query(&sql)
        .bind(matching)
        .bind(user_id)
        .bind(filter.author)
        .bind(filter.room)
        .bind(filter.before)
        .bind(filter.after)
        .bind(below)
        .bind(i64::from(filter.limit) + 1)
        .fetch_all(&mut *conn)
        .await;
    // The connection goes back to the pool without the deadline, or not at all.
    let removed = match conn.lock_handle().await {
        Ok(mut handle) => {
            handle.remove_progress_handler();
            true
        }
        Err(_) => false,
    };
    if !removed {
        conn.close_on_drop();
    }
    let rows = rows.map_err(|e| match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(SQLITE_INTERRUPT) => {
            search_too_slow()
        }
        _ => StoreError::from(e),
    })?;
    let more = rows.len() > filter.limit as usize;
    let kept = &rows[..rows.len().min(filter.limit as usize)];
    let next = match (more, kept.last()) {
        (true, Some(last)) => Some(last.try_get::<i64, _>(MESSAGE_COLUMN_COUNT)?.to_string()),
        _ => None,
    };
    let messages = kept.iter().map(rows::message).collect::<Result<_, _>>()?;
    Ok(Found { messages, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_a_quoted_phrase() {
        let terms = crate::query::parse(r#"deploy "rolled back" roll* NEAR(x)"#)
            .map(|q| q.terms)
            .unwrap_or_default();
        assert_eq!(
            fts_query(&terms),
            r#""deploy" AND "rolled back" AND "roll"* AND "NEAR x""#
        );
    }
}
