//! PostgreSQL's side of search ([`crate::search`]): the generated `search` tsvector and its GIN
//! index (migration 0006), newest first by time. The page cursor is the last hit's
//! `created_at:room_id:seq`, so paging is stable however many messages share a millisecond.
//! A search that runs longer than its time limit is cancelled (`statement_timeout`).

use sqlx::PgPool;

use super::dialect::MESSAGE_COLUMNS;
use crate::query::Term;
use crate::store::rows;
use crate::store::{bad_page, search_too_slow, Found, SearchFilter, StoreError, StoreResult};

/// PostgreSQL's code for a statement cancelled by `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

/// The `tsquery` for `terms`: each word quoted (it holds only letters and digits, so nothing in
/// it is tsquery syntax), a phrase's words adjacent (`<->`), all terms required.
fn ts_query(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| {
            let last = t.words.len().saturating_sub(1);
            t.words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let star = if t.prefix && i == last { ":*" } else { "" };
                    format!("'{w}'{star}")
                })
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .map(|phrase| format!("({phrase})"))
        .collect::<Vec<_>>()
        .join(" & ")
}

/// The position a page ends at, as its cursor says.
fn position(page: Option<&str>) -> StoreResult<(i64, i64, i64)> {
    let Some(page) = page else {
        return Ok((i64::MAX, i64::MAX, i64::MAX));
    };
    let mut parts = page.split(':').map(str::parse::<i64>);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Ok(at)), Some(Ok(room)), Some(Ok(seq)), None) => Ok((at, room, seq)),
        _ => Err(bad_page()),
    }
}

pub(super) async fn search(
    pool: &PgPool,
    user_id: i64,
    filter: &SearchFilter<'_>,
) -> StoreResult<Found> {
    let (at, room, seq) = position(filter.page)?;
    let matching = if filter.terms.is_empty() {
        "$1::TEXT IS NULL"
    } else {
        "m.search @@ to_tsquery('simple', $1)"
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE {matching} \
           AND m.room_id IN (SELECT room_id FROM memberships WHERE user_id = $2) \
           AND ($3::BIGINT IS NULL OR m.author_id = $3) AND ($4::BIGINT IS NULL OR m.room_id = $4) \
           AND ($5::BIGINT IS NULL OR m.created_at < $5) \
           AND ($6::BIGINT IS NULL OR m.created_at >= $6) \
           AND (m.created_at, m.room_id, m.seq) < ($7, $8, $9) \
           AND m.deleted_at IS NULL AND m.body <> '' \
         ORDER BY m.created_at DESC, m.room_id DESC, m.seq DESC LIMIT $10"
    );
    let words = (!filter.terms.is_empty()).then(|| ts_query(filter.terms));
    // Connections plan once for all parameters (`force_generic_plan`, right for the fixed reads
    // of history). Here the best plan depends on the words: walking the time index backwards
    // for a frequent word, the GIN index for a rare one. Plan this query for its values.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "SET LOCAL statement_timeout = {}",
        filter.time_limit.as_millis().max(1)
    ))
    .execute(&mut *tx)
    .await?;
    let rows = sqlx::query(&sql)
        .bind(words)
        .bind(user_id)
        .bind(filter.author)
        .bind(filter.room)
        .bind(filter.before)
        .bind(filter.after)
        .bind(at)
        .bind(room)
        .bind(seq)
        .bind(i64::from(filter.limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED) => {
                search_too_slow()
            }
            _ => StoreError::from(e),
        })?;
    tx.commit().await?;
    let mut messages = rows
        .iter()
        .map(rows::message)
        .collect::<Result<Vec<_>, _>>()?;
    let more = messages.len() > filter.limit as usize;
    messages.truncate(filter.limit as usize);
    let next = match (more, messages.last()) {
        (true, Some(m)) => Some(format!("{}:{}:{}", m.created_at, m.room_id, m.seq)),
        _ => None,
    };
    Ok(Found { messages, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_quoted_and_phrases_are_adjacent() {
        let terms = crate::query::parse(r#"deploy "rolled back" roll* "up to"*"#)
            .map(|q| q.terms)
            .unwrap_or_default();
        assert_eq!(
            ts_query(&terms),
            "('deploy') & ('rolled' <-> 'back') & ('roll':*) & ('up' <-> 'to':*)"
        );
    }

    #[test]
    fn cursors_are_read_back_or_refused() {
        assert!(matches!(position(Some("12:3:4")), Ok((12, 3, 4))));
        assert!(position(Some("12:3")).is_err());
        assert!(position(Some("x:3:4")).is_err());
    }
}
