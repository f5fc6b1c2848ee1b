//! PostgreSQL's four statements of group commit (the flow is `store/sql/posts.rs`, written once
//! for both backends): each takes its rows as bound arrays read with `UNNEST`. Several nodes
//! write at once: a batch locks its rooms' rows in id order (so two batches never deadlock) and
//! takes each room's next seqs under that lock. A client id that another node stored first
//! makes the insert fail on its unique key; group commit then retries the batch post by post,
//! and the retry finds the earlier message.

use sqlx::postgres::{PgConnection, PgRow};

use super::dialect::MESSAGE_COLUMNS;
use super::ROOM_KIND;
use crate::model::{Message, RoomId, UserId};
use crate::store::group_commit::Post;
use crate::store::rows;
use crate::store::StagedMessage;

/// For each `(author, room)`: author, room, the room's kind, the author's role in it (NULL:
/// not a member), name and admin flag, whether the room is read-only and archived, and the
/// author's display name and bot flag.
pub(super) async fn pairs(
    conn: &mut PgConnection,
    pairs: &[(UserId, RoomId)],
) -> Result<Vec<PgRow>, sqlx::Error> {
    let (authors, rooms): (Vec<UserId>, Vec<RoomId>) = pairs.iter().copied().unzip();
    sqlx::query(&format!(
        "SELECT p.author, p.room, {ROOM_KIND}, \
           (SELECT m.role FROM memberships m WHERE m.room_id = p.room AND m.user_id = p.author), \
           (SELECT username FROM users WHERE id = p.author), \
           (SELECT is_admin FROM users WHERE id = p.author), r.read_only, r.archived, \
           (SELECT display_name FROM users WHERE id = p.author), \
           (SELECT is_bot FROM users WHERE id = p.author) \
         FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS p(author, room) \
         LEFT JOIN rooms r ON r.id = p.room"
    ))
    .bind(&authors)
    .bind(&rooms)
    .fetch_all(conn)
    .await
}

/// The messages these `(author, client id)` pairs already sent, each followed by its author id.
pub(super) async fn earlier(
    conn: &mut PgConnection,
    ids: &[(UserId, &str)],
) -> Result<Vec<PgRow>, sqlx::Error> {
    let (authors, values): (Vec<UserId>, Vec<&str>) = ids.iter().copied().unzip();
    sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS}, m.author_id \
         FROM UNNEST($1::BIGINT[], $2::TEXT[]) AS p(author, client_id) \
         JOIN message_client_ids c ON c.author_id = p.author AND c.client_id = p.client_id \
         JOIN messages m ON m.room_id = c.room_id AND m.seq = c.seq \
         JOIN users u ON u.id = m.author_id"
    ))
    .bind(&authors)
    .bind(&values)
    .fetch_all(conn)
    .await
}

/// Takes a block of `count` seqs and revs in each `(room, count)`, the rooms' rows locked in id
/// order first, so batches from different nodes wait for each other instead of deadlocking;
/// returns each room's id, last seq, last rev and last message time after it.
pub(super) async fn take_seqs(
    conn: &mut PgConnection,
    rooms: &[(RoomId, i64)],
    now: i64,
) -> Result<Vec<PgRow>, sqlx::Error> {
    let (ids, counts): (Vec<RoomId>, Vec<i64>) = rooms.iter().copied().unzip();
    sqlx::query("SELECT id FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE rooms SET last_seq = rooms.last_seq + c.n, last_rev = rooms.last_rev + c.n, \
           last_message_at = GREATEST(rooms.last_message_at, $3) \
         FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS c(id, n) WHERE rooms.id = c.id \
         RETURNING rooms.id, rooms.last_seq, rooms.last_rev, rooms.last_message_at",
    )
    .bind(&ids)
    .bind(&counts)
    .bind(now)
    .fetch_all(conn)
    .await
}

/// Inserts the new messages, each from the author of its post, and their key-table rows.
pub(super) async fn insert(
    conn: &mut PgConnection,
    posts: &[&Post],
    messages: &[Message],
) -> Result<(), sqlx::Error> {
    let mut columns = Columns::default();
    for (post, message) in posts.iter().zip(messages) {
        columns.push(message, post.author_id);
    }
    columns.insert(conn).await?;
    Ok(())
}

/// New messages as the columns of one insert, each a bound array.
#[derive(Default)]
pub(super) struct Columns<'a> {
    uids: Vec<&'a str>,
    rooms: Vec<RoomId>,
    seqs: Vec<i64>,
    authors: Vec<UserId>,
    bodies: Vec<&'a str>,
    times: Vec<i64>,
    client_ids: Vec<Option<&'a str>>,
    revs: Vec<i64>,
    edited: Vec<Option<i64>>,
    deleted: Vec<Option<i64>>,
    reactions: Vec<Option<&'a str>>,
    html: Vec<Option<&'a str>>,
    mentions: Vec<Option<String>>,
    threads: Vec<Option<&'a str>>,
    also_in_room: Vec<bool>,
    files: Vec<Option<String>>,
    events: Vec<Option<&'a str>>,
    pinned_at: Vec<Option<i64>>,
    pinned_by: Vec<Option<UserId>>,
    personas: Vec<Option<String>>,
}

impl<'a> Columns<'a> {
    /// Adds a message from `author` (a [`Message`] carries the author's name, not their id).
    pub fn push(&mut self, message: &'a Message, author: UserId) {
        self.uids.push(&message.uid);
        self.rooms.push(message.room_id);
        self.seqs.push(message.seq);
        self.authors.push(author);
        self.bodies.push(&message.body);
        self.times.push(message.created_at);
        self.client_ids.push(message.client_id.as_deref());
        self.revs.push(message.rev);
        self.edited.push(None);
        self.deleted.push(None);
        self.reactions.push(None);
        self.html
            .push(Some(message.html.as_str()).filter(|h| !h.is_empty()));
        self.mentions.push(rows::list_json(&message.mentions));
        self.threads.push(None);
        self.also_in_room.push(false);
        self.files.push(rows::list_json(&message.files));
        self.events.push(None);
        self.pinned_at.push(None);
        self.pinned_by.push(None);
        self.personas
            .push(rows::persona_json(message.persona().as_ref()));
    }

    /// Adds a restored message with the seq the restore gave it.
    pub fn push_staged(&mut self, message: &'a StagedMessage, seq: i64) {
        self.uids.push(&message.uid);
        self.rooms.push(message.room_id);
        self.seqs.push(seq);
        self.authors.push(message.author_id);
        self.bodies.push(&message.body);
        self.times.push(message.created_at);
        self.client_ids.push(message.client_id.as_deref());
        // Restored messages take their revs when the restore finishes.
        self.revs.push(0);
        self.edited.push(message.edited_at);
        self.deleted.push(message.deleted_at);
        self.reactions.push(message.reactions.as_deref());
        self.html.push(message.html.as_deref());
        self.mentions.push(message.mentions.clone());
        self.threads.push(message.thread_uid.as_deref());
        self.also_in_room.push(message.also_in_room);
        self.files.push(message.files.clone());
        self.events.push(message.event.as_deref());
        self.pinned_at.push(message.pinned.map(|p| p.0));
        self.pinned_by.push(message.pinned.map(|p| p.1));
        self.personas.push(message.persona.clone());
    }

    /// Inserts the messages and their rows in the two key tables, in one statement, and
    /// returns how many messages it stored.
    pub async fn insert(&self, conn: &mut sqlx::PgConnection) -> Result<u64, sqlx::Error> {
        let inserted: i64 = sqlx::query_scalar(
            "WITH m AS ( \
               INSERT INTO messages (uid, room_id, seq, author_id, body, created_at, client_id, \
                                     rev, edited_at, deleted_at, reactions, html, mentions, \
                                     thread_uid, also_in_room, files, event, pinned_at, \
                                     pinned_by, persona) \
               SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], \
                                    $5::TEXT[], $6::BIGINT[], $7::TEXT[], $8::BIGINT[], \
                                    $9::BIGINT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[], \
                                    $13::TEXT[], $14::TEXT[], $15::BOOLEAN[], $16::TEXT[], \
                                    $17::TEXT[], $18::BIGINT[], $19::BIGINT[], \
                                    $20::TEXT[]) \
               RETURNING uid, room_id, seq, author_id, client_id), \
             u AS (INSERT INTO message_uids (uid, room_id, seq) SELECT uid, room_id, seq FROM m), \
             c AS (INSERT INTO message_client_ids (author_id, client_id, room_id, seq) \
                   SELECT author_id, client_id, room_id, seq FROM m WHERE client_id IS NOT NULL) \
             SELECT COUNT(*) FROM m",
        )
        .bind(&self.uids)
        .bind(&self.rooms)
        .bind(&self.seqs)
        .bind(&self.authors)
        .bind(&self.bodies)
        .bind(&self.times)
        .bind(&self.client_ids)
        .bind(&self.revs)
        .bind(&self.edited)
        .bind(&self.deleted)
        .bind(&self.reactions)
        .bind(&self.html)
        .bind(&self.mentions)
        .bind(&self.threads)
        .bind(&self.also_in_room)
        .bind(&self.files)
        .bind(&self.events)
        .bind(&self.pinned_at)
        .bind(&self.pinned_by)
        .bind(&self.personas)
        .fetch_one(&mut *conn)
        .await?;
        Ok(u64::try_from(inserted).unwrap_or(0))
    }
}
