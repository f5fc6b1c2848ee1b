//! Group commit for posts. Every post waits for its commit to reach the disk (`synchronous=FULL`),
//! and a disk sync costs far more than the rows it makes durable. So posts queue for one writer
//! task, which takes everything that arrived while the previous commit was on its way and
//! stores it in one transaction of a few statements, however many messages and rooms it holds.
//! Each post still gets its own answer: its own error (not a member, a reused client id), or its
//! message with the seq the room gave it inside that commit.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{message_from_row, not_found, MESSAGE_COLUMNS};
use crate::model::{Message, RoomId, RoomKind, UserId};
use crate::store::{StoreError, StoreResult};
use crate::timestamp::now_ms;

/// Most posts stored by one commit; more wait for the next.
const MAX_BATCH: usize = 512;
/// Posts waiting for the writer before callers wait for room in the queue.
const QUEUE: usize = 4096;

/// A post, owned, as it waits in the queue.
#[derive(Debug, Clone)]
pub(super) struct Post {
    pub room_id: RoomId,
    pub author_id: UserId,
    pub body: String,
    pub client_id: Option<String>,
}

struct Request {
    post: Post,
    reply: oneshot::Sender<StoreResult<Message>>,
}

/// The sending side of the writer task's queue.
#[derive(Clone)]
pub(super) struct Posts {
    tx: mpsc::Sender<Request>,
}

impl Posts {
    /// Starts the writer task on `write` (the single writer connection's pool).
    pub fn spawn(write: SqlitePool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(write, rx));
        Self { tx }
    }

    /// Stores a post with the next commit and returns it once that commit is durable.
    pub async fn post(&self, post: Post) -> StoreResult<Message> {
        let (reply, answer) = oneshot::channel();
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        self.tx
            .send(Request { post, reply })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn run(write: SqlitePool, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let posts: Vec<&Post> = batch.iter().map(|r| &r.post).collect();
        match store_batch(&write, &posts).await {
            Ok(results) => {
                for (request, result) in batch.drain(..).zip(results) {
                    // The caller may have gone (a closed socket); the message is stored anyway.
                    let _ = request.reply.send(result);
                }
            }
            Err(e) => {
                // Nothing of the batch was stored. Store each post on its own, so that whatever
                // failed fails only for its own caller.
                tracing::warn!(
                    "a batch of {} posts failed ({e}); retrying one by one",
                    batch.len()
                );
                for request in batch.drain(..) {
                    let result = store_batch(&write, &[&request.post])
                        .await
                        .map_err(StoreError::from)
                        .and_then(|mut one| one.pop().unwrap_or_else(|| Err(not_found())));
                    let _ = request.reply.send(result);
                }
            }
        }
    }
}

/// What the batch learned about one (author, room) pair before writing.
struct Access {
    username: String,
    allowed: Result<(), fn() -> StoreError>,
}

fn forbidden() -> StoreError {
    StoreError::Forbidden("Join this room to post in it.".into())
}

fn reused() -> StoreError {
    StoreError::Invalid("That client message id was already used in another room.".into())
}

/// One row of the insert, serialized into the JSON array the statement reads.
#[derive(Serialize)]
struct Row7<'a>(&'a str, RoomId, i64, UserId, &'a str, i64, Option<&'a str>);

/// Stores `posts` in one transaction. `Err` means nothing was stored; otherwise each post has
/// its own result, in order.
async fn store_batch(
    write: &SqlitePool,
    posts: &[&Post],
) -> Result<Vec<StoreResult<Message>>, sqlx::Error> {
    let mut tx = super::begin_write(write).await?;

    // Who may post where, and the authors' names: one query for the distinct pairs.
    let mut pairs: Vec<(UserId, RoomId)> = posts.iter().map(|p| (p.author_id, p.room_id)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let rows = sqlx::query(
        "SELECT j.value ->> 0, j.value ->> 1, r.kind, \
           EXISTS(SELECT 1 FROM memberships m WHERE m.room_id = r.id AND m.user_id = j.value ->> 0), \
           (SELECT username FROM users WHERE id = j.value ->> 0) \
         FROM json_each(?1) j LEFT JOIN rooms r ON r.id = j.value ->> 1",
    )
    .bind(json(&pairs))
    .fetch_all(&mut *tx)
    .await?;
    let mut access: HashMap<(UserId, RoomId), Access> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let kind: Option<String> = row.try_get(2)?;
        let member: bool = row.try_get(3)?;
        let allowed = match kind.as_deref().map(RoomKind::from_db) {
            None => Err(not_found as fn() -> StoreError),
            Some(_) if member => Ok(()),
            // A DM is invisible to everyone outside it.
            Some(RoomKind::Dm) => Err(not_found as fn() -> StoreError),
            Some(RoomKind::Public) => Err(forbidden as fn() -> StoreError),
        };
        let username: Option<String> = row.try_get(4)?;
        access.insert(
            (row.try_get(0)?, row.try_get(1)?),
            Access {
                username: username.unwrap_or_default(),
                allowed,
            },
        );
    }

    // Retries: client ids these authors already used.
    let ids: Vec<(UserId, &str)> = posts
        .iter()
        .filter_map(|p| Some((p.author_id, p.client_id.as_deref()?)))
        .collect();
    let mut earlier: HashMap<(UserId, String), Message> = HashMap::new();
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
            let message = message_from_row(row)?;
            let author: UserId = row.try_get(7)?;
            let client_id = message.client_id.clone().unwrap_or_default();
            earlier.insert((author, client_id), message);
        }
    }

    // Decide each post: an error, an earlier message, or new (index into `fresh`).
    enum Outcome {
        Done(StoreResult<Message>),
        Fresh(usize),
    }
    let mut outcomes = Vec::with_capacity(posts.len());
    let mut fresh: Vec<usize> = Vec::new();
    let mut fresh_by_id: HashMap<(UserId, &str), usize> = HashMap::new();
    for (i, post) in posts.iter().enumerate() {
        let pair = (post.author_id, post.room_id);
        if let Some(Err(err)) = access.get(&pair).map(|a| a.allowed) {
            outcomes.push(Outcome::Done(Err(err())));
            continue;
        }
        if let Some(client_id) = post.client_id.as_deref() {
            if let Some(message) = earlier.get(&(post.author_id, client_id.to_owned())) {
                outcomes.push(Outcome::Done(if message.room_id == post.room_id {
                    Ok(message.clone())
                } else {
                    Err(reused())
                }));
                continue;
            }
            // The same client id twice in one batch: the second is a retry of the first.
            if let Some(&first) = fresh_by_id.get(&(post.author_id, client_id)) {
                outcomes.push(if posts[fresh[first]].room_id == post.room_id {
                    Outcome::Fresh(first)
                } else {
                    Outcome::Done(Err(reused()))
                });
                continue;
            }
            fresh_by_id.insert((post.author_id, client_id), fresh.len());
        }
        outcomes.push(Outcome::Fresh(fresh.len()));
        fresh.push(i);
    }

    // Seqs: each room hands out a block, in arrival order, in one statement for every room.
    let mut per_room: HashMap<RoomId, i64> = HashMap::new();
    for &i in &fresh {
        *per_room.entry(posts[i].room_id).or_default() += 1;
    }
    let mut next: HashMap<RoomId, (i64, i64)> = HashMap::with_capacity(per_room.len());
    if !per_room.is_empty() {
        // A message's time never goes back within a room (even if the clock does), so seq
        // order and time order agree; restore relies on that.
        let rows = sqlx::query(
            "UPDATE rooms SET last_seq = last_seq + c.value ->> 1, \
               last_message_at = MAX(last_message_at, ?2) \
             FROM json_each(?1) c WHERE rooms.id = c.value ->> 0 \
             RETURNING rooms.id, rooms.last_seq, rooms.last_message_at",
        )
        .bind(json(&per_room.iter().collect::<Vec<_>>()))
        .bind(now_ms())
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let room: RoomId = row.try_get(0)?;
            let last: i64 = row.try_get(1)?;
            let n = per_room.get(&room).copied().unwrap_or(0);
            next.insert(room, (last - n + 1, row.try_get(2)?));
        }
    }
    let mut messages: Vec<Message> = Vec::with_capacity(fresh.len());
    for &i in &fresh {
        let post = posts[i];
        let Some((seq, at)) = next.get_mut(&post.room_id) else {
            return Err(sqlx::Error::RowNotFound);
        };
        messages.push(Message {
            uid: uuid::Uuid::now_v7().to_string(),
            room_id: post.room_id,
            seq: *seq,
            author: access
                .get(&(post.author_id, post.room_id))
                .map(|a| a.username.clone())
                .unwrap_or_default(),
            body: post.body.clone(),
            created_at: *at,
            client_id: post.client_id.clone(),
        });
        *seq += 1;
    }
    if !messages.is_empty() {
        let rows: Vec<Row7> = fresh
            .iter()
            .zip(&messages)
            .map(|(&i, m)| {
                Row7(
                    &m.uid,
                    m.room_id,
                    m.seq,
                    posts[i].author_id,
                    &m.body,
                    m.created_at,
                    m.client_id.as_deref(),
                )
            })
            .collect();
        sqlx::query(
            "INSERT INTO messages (uid, room_id, seq, author_id, body, created_at, client_id) \
             SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4, \
                    j.value ->> 5, j.value ->> 6 \
             FROM json_each(?1) j",
        )
        .bind(json(&rows))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Done(result) => result,
            Outcome::Fresh(k) => Ok(messages[k].clone()),
        })
        .collect())
}

/// The JSON array a statement reads with `json_each`.
fn json<T: Serialize + ?Sized>(rows: &T) -> String {
    // Tuples of numbers and strings always serialize.
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned())
}
