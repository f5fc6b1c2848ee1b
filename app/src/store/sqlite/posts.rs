//! SQLite's side of group commit ([`crate::store::group_commit`]): one batch of posts in one
//! `BEGIN IMMEDIATE` transaction of a few statements, whatever the number of messages and
//! rooms, each statement reading its rows from a JSON array with `json_each`.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::Serialize;
use sqlx::{Row, SqlitePool};

use super::MESSAGE_COLUMNS;
use crate::model::{Message, RoomId, UserId};
use crate::store::group_commit::{BatchWriter, Facts, Post, Taken};
use crate::store::rows;
use crate::store::StoreResult;
use crate::timestamp::now_ms;

/// Writes batches through the single writer connection's pool.
pub(super) struct SqliteWriter(pub SqlitePool);

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

#[async_trait]
impl BatchWriter for SqliteWriter {
    async fn store(&self, posts: &[&Post]) -> Result<Vec<StoreResult<Message>>, sqlx::Error> {
        let mut tx = super::begin_write(&self.0).await?;
        let mut facts = Facts::default();

        // Who may post where, and the authors' names: one query for the distinct pairs.
        let rows = sqlx::query(
            "SELECT j.value ->> 0, j.value ->> 1, r.kind, \
               EXISTS(SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = j.value ->> 0), \
               (SELECT username FROM users WHERE id = j.value ->> 0) \
             FROM json_each(?1) j LEFT JOIN rooms r ON r.id = j.value ->> 1",
        )
        .bind(json(&Facts::pairs(posts)))
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let kind: Option<String> = row.try_get(2)?;
            facts.pair(
                row.try_get(0)?,
                row.try_get(1)?,
                kind.as_deref(),
                row.try_get(3)?,
                row.try_get(4)?,
            );
        }

        // Retries: client ids these authors already used.
        let ids = Facts::client_ids(posts);
        if !ids.is_empty() {
            let rows = sqlx::query(&format!(
                "SELECT {MESSAGE_COLUMNS}, m.author_id FROM json_each(?1) j \
                 JOIN messages m ON m.author_id = j.value ->> 0 AND m.client_id = j.value ->> 1 \
                 JOIN users u ON u.id = m.author_id"
            ))
            .bind(json(&ids))
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                facts.earlier(
                    row.try_get(rows::MESSAGE_COLUMN_COUNT)?,
                    rows::message(row)?,
                );
            }
        }

        let plan = facts.plan(posts);
        // Seqs: each room hands out a block in one statement for every room. A message's time
        // never goes back within a room (even if the clock does), so seq order and time order
        // agree; restore relies on that.
        let mut taken: HashMap<RoomId, Taken> = HashMap::with_capacity(plan.rooms.len());
        if !plan.rooms.is_empty() {
            let rows = sqlx::query(
                "UPDATE rooms SET last_seq = last_seq + c.value ->> 1, \
                   last_rev = last_rev + c.value ->> 1, \
                   last_message_at = MAX(last_message_at, ?2) \
                 FROM json_each(?1) c WHERE rooms.id = c.value ->> 0 \
                 RETURNING rooms.id, rooms.last_seq, rooms.last_rev, rooms.last_message_at",
            )
            .bind(json(&plan.rooms))
            .bind(now_ms())
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let last = Taken {
                    seq: row.try_get(1)?,
                    rev: row.try_get(2)?,
                    at: row.try_get(3)?,
                };
                taken.insert(row.try_get(0)?, last);
            }
        }
        let messages = plan.messages(&facts, &taken)?;
        if !messages.is_empty() {
            let rows: Vec<NewRow> = plan
                .fresh
                .iter()
                .zip(&messages)
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
                 FROM json_each(?1) j",
            )
            .bind(json(&rows))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(plan.answers(&messages))
    }
}

/// The JSON array a statement reads with `json_each`.
fn json<T: Serialize + ?Sized>(rows: &T) -> String {
    // Tuples of numbers and strings always serialize.
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned())
}
