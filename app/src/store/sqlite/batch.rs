//! How SQLite inserts a batch of group commit's new messages (the rest is `store/sql/posts.rs`,
//! written once for both backends): the rows are read from one JSON array with `json_each`, so
//! a batch is one statement whatever the number of messages.

use serde::Serialize;
use sqlx::sqlite::SqliteConnection;

use super::posts::json;
use crate::model::{Message, RoomId, UserId};
use crate::store::group_commit::Post;
use crate::store::rows;

/// One row of the insert, serialized into the JSON array the statement reads.
#[derive(Serialize)]
struct NewRow<'a>(
    &'a str,
    RoomId,
    i64,
    UserId,
    &'a str,
    i64,
    Option<&'a str>,
    i64,
    Option<&'a str>,
    Option<String>,
    Option<String>,
);

/// Inserts the new messages, each from the author of its post.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    posts: &[&Post],
    messages: &[Message],
) -> Result<(), sqlx::Error> {
    let rows: Vec<NewRow> = posts
        .iter()
        .zip(messages)
        .map(|(post, m)| {
            NewRow(
                &m.uid,
                m.room_id,
                m.seq,
                post.author_id,
                &m.body,
                m.created_at,
                m.client_id.as_deref(),
                m.rev,
                Some(m.html.as_str()).filter(|h| !h.is_empty()),
                rows::list_json(&m.mentions),
                rows::list_json(&m.files),
            )
        })
        .collect();
    sqlx::query(
        "INSERT INTO messages \
           (uid, room_id, seq, author_id, body, created_at, client_id, rev, html, mentions, \
            files) \
         SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, \
                j.value ->> 5, j.value ->> 6, j.value ->> 7, j.value ->> 8, j.value ->> 9, \
                j.value ->> 10 \
         FROM json_each($1) j",
    )
    .bind(json(&rows))
    .execute(conn)
    .await?;
    Ok(())
}
