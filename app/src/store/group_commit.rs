//! Group commit for posts, shared by every backend. Every post waits for its commit to be
//! durable, and a durable commit costs far more than the rows it holds. So posts queue for one
//! writer task, which takes everything that arrived while the previous commit was on its way
//! and hands it to the backend's [`BatchWriter`] as one transaction. What a batch decides
//! before writing (who may post where, which posts are retries, which seqs each room hands
//! out) is the same everywhere and lives here; each post still gets its own answer.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::model::{Attachment, Message, RoomId, UserId};
use crate::rights::{Action, Standing};
use crate::store::{StoreError, StoreResult};

/// Most posts stored by one commit; more wait for the next.
const MAX_BATCH: usize = 512;
/// Posts waiting for the writer before callers wait for room in the queue.
const QUEUE: usize = 4096;

/// A post, owned, as it waits in the queue.
#[derive(Debug, Clone)]
pub(crate) struct Post {
    pub room_id: RoomId,
    pub author_id: UserId,
    pub body: String,
    pub client_id: Option<String>,
    /// The body as HTML ([`crate::markdown::render`]).
    pub html: String,
    pub mentions: Vec<String>,
    pub files: Vec<Attachment>,
    pub persona: Option<crate::model::Persona>,
}

/// A backend's way of storing one batch in one transaction.
#[async_trait]
pub(crate) trait BatchWriter: Send + Sync + 'static {
    /// `Err` means nothing was stored; otherwise each post has its own result, in order.
    async fn store(&self, posts: &[&Post]) -> Result<Vec<StoreResult<Message>>, sqlx::Error>;
}

struct Request {
    post: Post,
    reply: oneshot::Sender<StoreResult<Message>>,
}

/// The sending side of the writer tasks' queues: one lane per writer task.
#[derive(Clone)]
pub(crate) struct Posts {
    lanes: Arc<[mpsc::Sender<Request>]>,
}

impl Posts {
    /// Starts `lanes` writer tasks (at least one). A room's posts always take the same lane, so
    /// they are stored in the order they came, and two lanes never write to the same room
    /// (their batches cannot wait on each other). One lane suits a database with one writer
    /// (SQLite); more let a database that commits in parallel overlap one batch's commit with
    /// the next batch's work.
    pub fn spawn(writer: impl BatchWriter, lanes: usize) -> Self {
        let writer = Arc::new(writer);
        let lanes: Vec<_> = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(writer.clone(), rx));
                tx
            })
            .collect();
        Self {
            lanes: lanes.into(),
        }
    }

    /// Stores a post with the next commit and returns it once that commit is durable.
    pub async fn post(&self, post: Post) -> StoreResult<Message> {
        let (reply, answer) = oneshot::channel();
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        let lane = usize::try_from(post.room_id.rem_euclid(self.lanes.len() as i64)).unwrap_or(0);
        self.lanes[lane]
            .send(Request { post, reply })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn run(writer: Arc<impl BatchWriter>, mut rx: mpsc::Receiver<Request>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let posts: Vec<&Post> = batch.iter().map(|r| &r.post).collect();
        let started = std::time::Instant::now();
        match writer.store(&posts).await {
            Ok(results) => {
                crate::measure::committed(posts.len(), started.elapsed());
                for (request, result) in batch.drain(..).zip(results) {
                    // The caller may have gone (a closed socket); the message is stored anyway.
                    let _ = request.reply.send(result);
                }
            }
            Err(e) if !matches!(e, sqlx::Error::Database(_)) => {
                // Nothing was stored, and not because of any one post: the database is out of
                // reach (a dropped connection, no connection within the pool's wait). Retrying
                // each post would hold the queue for one wait per post; every caller is told
                // now, and their clients retry with the same client ids.
                tracing::error!("a batch of {} posts failed: {e}", batch.len());
                for request in batch.drain(..) {
                    let _ = request
                        .reply
                        .send(Err(StoreError::Database(same_fault(&e))));
                }
            }
            Err(e) => {
                // Nothing of the batch was stored, and the database refused something in it.
                // Store each post on its own, so that whatever failed fails only for its own
                // caller.
                tracing::warn!(
                    "a batch of {} posts failed ({e}); retrying one by one",
                    batch.len()
                );
                for request in batch.drain(..) {
                    let result = writer
                        .store(&[&request.post])
                        .await
                        .map_err(StoreError::from)
                        .and_then(|mut one| one.pop().unwrap_or_else(|| Err(not_found())));
                    let _ = request.reply.send(result);
                }
            }
        }
    }
}

/// An equal of a fault that is not about any one row, for each caller of a failed batch
/// (`sqlx::Error` cannot be cloned).
fn same_fault(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

fn not_found() -> StoreError {
    StoreError::NotFound("That room does not exist, or you are not in it.".into())
}

fn reused() -> StoreError {
    StoreError::Invalid("That client message id was already used in another room.".into())
}

/// Why a post is refused before it is written: its room is unknown to its author (no such
/// room, or a secret one they are not in), or [`crate::rights`] says no.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    NotFound,
    Forbidden(&'static str),
}

impl Refusal {
    fn error(self) -> StoreError {
        match self {
            Refusal::NotFound => not_found(),
            Refusal::Forbidden(why) => StoreError::Forbidden(why.into()),
        }
    }
}

/// An author's name and their right to post in a room (or why not).
type Access = (Names, Result<(), Refusal>);

/// An author's username and display name (if they set one).
type Names = (String, Option<String>, bool);

/// What a batch knows before writing: each (author, room) pair's right to post and the
/// author's name, and the earlier messages of any client ids the posts carry.
#[derive(Default)]
pub(crate) struct Facts {
    access: HashMap<(UserId, RoomId), Access>,
    earlier: HashMap<(UserId, String), Message>,
}

impl Facts {
    /// The distinct (author, room) pairs of a batch, sorted.
    pub fn pairs(posts: &[&Post]) -> Vec<(UserId, RoomId)> {
        let mut pairs: Vec<_> = posts.iter().map(|p| (p.author_id, p.room_id)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// The (author, client id) pairs of a batch's posts that carry one.
    pub fn client_ids<'p>(posts: &[&'p Post]) -> Vec<(UserId, &'p str)> {
        posts
            .iter()
            .filter_map(|p| Some((p.author_id, p.client_id.as_deref()?)))
            .collect()
    }

    /// Records what the database says about a pair: the author's standing in the room
    /// (`None`: no such room), and the author's username and display name.
    pub fn pair(
        &mut self,
        author: UserId,
        room: RoomId,
        standing: Option<Standing>,
        (username, display_name, bot): (Option<String>, Option<String>, bool),
    ) {
        let allowed = match standing {
            // A private room or a DM is invisible to everyone outside it.
            Some(s) if s.sees() => match s.refusal(Action::Post) {
                None => Ok(()),
                Some(why) => Err(Refusal::Forbidden(why)),
            },
            _ => Err(Refusal::NotFound),
        };
        self.access.insert(
            (author, room),
            ((username.unwrap_or_default(), display_name, bot), allowed),
        );
    }

    /// Records a message stored earlier under its author's client id.
    pub fn earlier(&mut self, author: UserId, message: Message) {
        let client_id = message.client_id.clone().unwrap_or_default();
        self.earlier.insert((author, client_id), message);
    }

    /// Decides each post: an error, an earlier message, or new.
    pub fn plan<'p>(&self, posts: &[&'p Post]) -> Plan<'p> {
        let mut outcomes = Vec::with_capacity(posts.len());
        let mut fresh: Vec<&'p Post> = Vec::new();
        let mut fresh_by_id: HashMap<(UserId, &str), usize> = HashMap::new();
        for post in posts {
            if let Some((_, Err(err))) = self.access.get(&(post.author_id, post.room_id)) {
                outcomes.push(Outcome::Done(Box::new(Err(err.error()))));
                continue;
            }
            if let Some(client_id) = post.client_id.as_deref() {
                if let Some(message) = self.earlier.get(&(post.author_id, client_id.to_owned())) {
                    outcomes.push(Outcome::Done(Box::new(
                        if message.room_id == post.room_id {
                            Ok(message.clone())
                        } else {
                            Err(reused())
                        },
                    )));
                    continue;
                }
                // The same client id twice in one batch: the second is a retry of the first.
                if let Some(&first) = fresh_by_id.get(&(post.author_id, client_id)) {
                    outcomes.push(if fresh[first].room_id == post.room_id {
                        Outcome::Fresh(first)
                    } else {
                        Outcome::Done(Box::new(Err(reused())))
                    });
                    continue;
                }
                fresh_by_id.insert((post.author_id, client_id), fresh.len());
            }
            outcomes.push(Outcome::Fresh(fresh.len()));
            fresh.push(post);
        }
        let mut per_room: HashMap<RoomId, i64> = HashMap::new();
        for post in &fresh {
            *per_room.entry(post.room_id).or_default() += 1;
        }
        let mut rooms: Vec<(RoomId, i64)> = per_room.into_iter().collect();
        rooms.sort_unstable();
        Plan {
            outcomes,
            fresh,
            rooms,
        }
    }

    fn names(&self, post: &Post) -> Names {
        self.access
            .get(&(post.author_id, post.room_id))
            .map(|(names, _)| names.clone())
            .unwrap_or_default()
    }
}

enum Outcome {
    /// Answered without a new row (boxed: a message is large, and most posts are fresh).
    Done(Box<StoreResult<Message>>),
    /// The new message at this index of [`Plan::fresh`].
    Fresh(usize),
}

/// A room's counters after a batch took its block: the last seq and rev handed out, and the
/// time its new messages carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    pub seq: i64,
    pub rev: i64,
    pub at: i64,
}

/// A batch, decided.
pub(crate) struct Plan<'p> {
    outcomes: Vec<Outcome>,
    /// The posts to store, in arrival order.
    pub fresh: Vec<&'p Post>,
    /// How many new messages each room gets, by room id.
    pub rooms: Vec<(RoomId, i64)>,
}

impl Plan<'_> {
    /// The new messages, given what each room handed out after the batch took its block
    /// ([`Taken`]): a room's block of seqs and of revs goes to its posts in arrival order.
    pub fn messages(
        &self,
        facts: &Facts,
        taken: &HashMap<RoomId, Taken>,
    ) -> Result<Vec<Message>, sqlx::Error> {
        let mut next: HashMap<RoomId, Taken> = HashMap::with_capacity(self.rooms.len());
        for (room, n) in &self.rooms {
            let last = taken.get(room).copied().ok_or(sqlx::Error::RowNotFound)?;
            next.insert(
                *room,
                Taken {
                    seq: last.seq - n + 1,
                    rev: last.rev - n + 1,
                    at: last.at,
                },
            );
        }
        let mut messages = Vec::with_capacity(self.fresh.len());
        for post in &self.fresh {
            let Some(next) = next.get_mut(&post.room_id) else {
                return Err(sqlx::Error::RowNotFound);
            };
            let (author, author_name, author_bot) = facts.names(post);
            let mut message = Message {
                uid: uuid::Uuid::now_v7().to_string(),
                room_id: post.room_id,
                seq: next.seq,
                author,
                author_name,
                author_bot,
                body: post.body.clone(),
                created_at: next.at,
                client_id: post.client_id.clone(),
                rev: next.rev,
                edited_at: None,
                deleted_at: None,
                reactions: Vec::new(),
                html: post.html.clone(),
                mentions: post.mentions.clone(),
                files: post.files.clone(),
                ..Message::default()
            };
            message.set_persona(post.persona.clone());
            messages.push(message);
            next.seq += 1;
            next.rev += 1;
        }
        Ok(messages)
    }

    /// Each post's answer, in order, once `messages` (from [`Plan::messages`]) are committed.
    pub fn answers(self, messages: &[Message]) -> Vec<StoreResult<Message>> {
        self.outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Outcome::Done(result) => *result,
                Outcome::Fresh(k) => messages.get(k).cloned().ok_or_else(not_found),
            })
            .collect()
    }
}
