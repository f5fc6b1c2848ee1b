//! SQLite's four statements of group commit (the flow is `store/sql/posts.rs`, written once for
//! both backends): each reads its rows from one JSON array with `json_each`, so a batch is a
//! few statements whatever the number of messages and rooms.

use serde::Serialize;
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::dialect::MESSAGE_COLUMNS;
use super::ROOM_KIND;
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
    Option<String>,
);

/// For each `(author, room)`: author, room, the room's kind, the author's role in it (NULL:
/// not a member), name and admin flag, whether the room is read-only and archived, and the
/// author's display name and bot flag.
pub(super) async fn pairs(
    conn: &mut SqliteConnection,
    pairs: &[(UserId, RoomId)],
) -> Result<Vec<SqliteRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT j.value ->> 0, j.value ->> 1, {ROOM_KIND}, \
           (SELECT m.role FROM memberships m WHERE m.room_id = r.id AND m.user_id = j.value ->> 0), \
           (SELECT username FROM users WHERE id = j.value ->> 0), \
           (SELECT is_admin FROM users WHERE id = j.value ->> 0), r.read_only, r.archived, \
           (SELECT display_name FROM users WHERE id = j.value ->> 0), \
           (SELECT is_bot FROM users WHERE id = j.value ->> 0) \
         FROM json_each($1) j LEFT JOIN rooms r ON r.id = j.value ->> 1"
    ))
    .bind(json(pairs))
    .fetch_all(conn)
    .await
}

/// The messages these `(author, client id)` pairs already sent, each followed by its author id.
pub(super) async fn earlier(
    conn: &mut SqliteConnection,
    ids: &[(UserId, &str)],
) -> Result<Vec<SqliteRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS}, m.author_id FROM json_each($1) j \
         JOIN messages m ON m.author_id = j.value ->> 0 AND m.client_id = j.value ->> 1 \
         JOIN users u ON u.id = m.author_id"
    ))
    .bind(json(ids))
    .fetch_all(conn)
    .await
}

/// Takes a block of `count` seqs and revs in each `(room, count)`; returns each room's id, last
/// seq, last rev and last message time after it.
pub(super) async fn take_seqs(
    conn: &mut SqliteConnection,
    rooms: &[(RoomId, i64)],
    now: i64,
) -> Result<Vec<SqliteRow>, sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET last_seq = last_seq + c.value ->> 1, \
           last_rev = last_rev + c.value ->> 1, \
           last_message_at = MAX(last_message_at, $2) \
         FROM json_each($1) c WHERE rooms.id = c.value ->> 0 \
         RETURNING rooms.id, rooms.last_seq, rooms.last_rev, rooms.last_message_at",
    )
    .bind(json(rooms))
    .bind(now)
    .fetch_all(conn)
    .await
}

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
                rows::persona_json(m.persona().as_ref()),
            )
        })
        .collect();
    sqlx::query(
        "INSERT INTO messages \
           (uid, room_id, seq, author_id, body, created_at, client_id, rev, html, mentions, \
            files, persona) \
         SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, \
                j.value ->> 5, j.value ->> 6, j.value ->> 7, j.value ->> 8, j.value ->> 9, \
                j.value ->> 10, j.value ->> 11 \
         FROM json_each($1) j",
    )
    .bind(json(&rows))
    .execute(conn)
    .await?;
    Ok(())
}

/// The JSON array a statement reads with `json_each`.
fn json<T: Serialize + ?Sized>(rows: &T) -> String {
    // Tuples of numbers and strings always serialize.
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned())
}
