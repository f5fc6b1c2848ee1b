//! SQLite's side of backup and restore: the rows of one consistent snapshot for
//! [`crate::store::export`], a restore applied inside one transaction, and `VACUUM INTO`
//! snapshots.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::sqlite::{Sqlite, SqlitePool};
use sqlx::{QueryBuilder, Transaction};

use crate::model::{RoomId, UserId};
use crate::store::export::{ChunkRow, ExportSource, MESSAGE_CHUNK};
use crate::store::records::{Place, RoomRecord, UserRecord};
use crate::store::rows::{RoomRow, UserRow};
use crate::store::{RestoreCounts, RestoreTx, StagedMessage, StoreError, StoreResult};

/// Messages sent to SQLite per INSERT during a restore (7 values each, under SQLite's 32,766
/// bound parameters).
const STAGE_BATCH: usize = 2000;

/// A backup's reads, all in one read transaction (WAL gives it a snapshot).
pub(super) struct Source {
    tx: Transaction<'static, Sqlite>,
}

impl Source {
    pub(super) async fn begin(read: &SqlitePool) -> StoreResult<Self> {
        Ok(Self {
            tx: read.begin().await?,
        })
    }

    /// Ends the read transaction.
    pub(super) async fn finish(self) -> StoreResult<()> {
        Ok(self.tx.rollback().await?)
    }
}

#[async_trait]
impl ExportSource for Source {
    async fn users(&mut self) -> StoreResult<Vec<UserRow>> {
        let mut users = Vec::new();
        let mut rows =
            sqlx::query("SELECT id, username, is_admin, created_at, password_hash FROM users")
                .fetch(&mut *self.tx);
        while let Some(row) = rows.try_next().await? {
            users.push(crate::store::rows::user(&row)?);
        }
        Ok(users)
    }

    async fn rooms(&mut self) -> StoreResult<Vec<RoomRow>> {
        let rows = sqlx::query("SELECT id, name, dm_key, topic, created_by, created_at FROM rooms")
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(rows
            .iter()
            .map(crate::store::rows::room)
            .collect::<Result<_, _>>()?)
    }

    async fn memberships(&mut self) -> StoreResult<Vec<(RoomId, UserId, i64)>> {
        Ok(
            sqlx::query_as("SELECT room_id, user_id, joined_at FROM memberships")
                .fetch_all(&mut *self.tx)
                .await?,
        )
    }

    async fn authors(&mut self, room: RoomId) -> StoreResult<Vec<UserId>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT author_id FROM messages WHERE room_id = ?1")
                .bind(room)
                .fetch_all(&mut *self.tx)
                .await?,
        )
    }

    async fn count(&mut self, room: RoomId, since: i64, until: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE room_id = ?1 AND created_at >= ?2 AND created_at < ?3",
        )
        .bind(room)
        .bind(since)
        .bind(until)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    async fn messages(
        &mut self,
        room: RoomId,
        after: i64,
        window: Option<(i64, i64)>,
    ) -> StoreResult<Vec<ChunkRow>> {
        // A chunk is one row holding a JSON array: crossing from SQLite's worker thread once
        // per chunk instead of once per message doubles backup throughput.
        let sql = if window.is_none() {
            "SELECT json_group_array(json_array(uid, seq, author_id, body, created_at, client_id, \
               edited_at, deleted_at, reactions, mentions, thread_uid, \
               json(CASE WHEN also_in_room THEN 'true' ELSE 'false' END), files)) \
             FROM (SELECT * FROM messages WHERE room_id = ?1 AND seq > ?2 AND ?3 < ?4 \
                   ORDER BY seq LIMIT ?5)"
        } else {
            "SELECT json_group_array(json_array(uid, seq, author_id, body, created_at, client_id, \
               edited_at, deleted_at, reactions, mentions, thread_uid, \
               json(CASE WHEN also_in_room THEN 'true' ELSE 'false' END), files)) \
             FROM (SELECT * FROM messages WHERE room_id = ?1 AND seq > ?2 \
                   AND created_at >= ?3 AND created_at < ?4 ORDER BY seq LIMIT ?5)"
        };
        let (since, until) = window.unwrap_or((i64::MIN, i64::MAX));
        let chunk: String = sqlx::query_scalar(sql)
            .bind(room)
            .bind(after)
            .bind(since)
            .bind(until)
            .bind(MESSAGE_CHUNK)
            .fetch_one(&mut *self.tx)
            .await?;
        serde_json::from_str(&chunk)
            .map_err(|e| StoreError::Invalid(format!("reading messages of room {room}: {e}")))
    }
}

/// A restore in progress: one write transaction. Messages are appended to their rooms in
/// batches as they arrive, each taking the room's next seq; a room whose messages arrive out of
/// time order is renumbered once at the end. Memory stays flat: nothing but the current batch
/// and a cursor per room is held.
pub(super) struct Restore {
    tx: Transaction<'static, Sqlite>,
    batch: Vec<StagedMessage>,
    staged: u64,
    added: u64,
    counts: RestoreCounts,
    rooms: HashMap<RoomId, RoomCursor>,
    /// Where each restored reply is in the file, to name it if its root is missing.
    replies: HashMap<String, Place>,
}

/// Where a restore is in one room.
struct RoomCursor {
    /// The room's last seq before the restore; restored messages come after it.
    base: i64,
    /// The seq the next restored message takes.
    next: i64,
    /// Time of the last message appended; an earlier one makes the room `unordered`.
    last_at: i64,
    unordered: bool,
}

impl Restore {
    pub(super) async fn begin(write: &SqlitePool) -> StoreResult<Self> {
        Ok(Self {
            tx: super::begin_write(write).await?,
            batch: Vec::with_capacity(STAGE_BATCH),
            staged: 0,
            added: 0,
            counts: RestoreCounts::default(),
            rooms: HashMap::new(),
            replies: HashMap::new(),
        })
    }

    /// Appends the batch: drops messages already stored (or repeated in the batch), gives the
    /// rest their rooms' next seqs and inserts them with one statement.
    async fn flush(&mut self) -> StoreResult<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let mut known = QueryBuilder::<Sqlite>::new("SELECT uid FROM messages WHERE uid IN (");
        let mut ids = known.separated(", ");
        for m in &batch {
            ids.push_bind(m.uid.as_str());
        }
        known.push(")");
        let stored: Vec<String> = known
            .build_query_scalar::<String>()
            .fetch_all(&mut *self.tx)
            .await?;
        let mut seen: HashSet<&str> = stored.iter().map(String::as_str).collect();
        let mut rows = Vec::with_capacity(batch.len());
        for m in &batch {
            if !seen.insert(m.uid.as_str()) {
                continue;
            }
            let cursor = match self.rooms.get_mut(&m.room_id) {
                Some(cursor) => cursor,
                None => {
                    let (base, last_at): (i64, i64) =
                        sqlx::query_as("SELECT last_seq, last_message_at FROM rooms WHERE id = ?1")
                            .bind(m.room_id)
                            .fetch_one(&mut *self.tx)
                            .await?;
                    self.rooms.entry(m.room_id).or_insert(RoomCursor {
                        base,
                        next: base + 1,
                        last_at,
                        unordered: false,
                    })
                }
            };
            if m.created_at < cursor.last_at {
                cursor.unordered = true;
            }
            cursor.last_at = cursor.last_at.max(m.created_at);
            let seq = cursor.next;
            cursor.next += 1;
            if m.thread_uid.is_some() {
                self.replies.insert(m.uid.clone(), m.place);
            }
            rows.push((seq, m));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO messages \
             (uid, room_id, seq, author_id, body, created_at, client_id, edited_at, deleted_at, \
              reactions, html, mentions, thread_uid, also_in_room, files) ",
        );
        insert.push_values(&rows, |mut row, (seq, m)| {
            row.push_bind(m.uid.as_str())
                .push_bind(m.room_id)
                .push_bind(*seq)
                .push_bind(m.author_id)
                .push_bind(m.body.as_str())
                .push_bind(m.created_at)
                .push_bind(m.client_id.as_deref())
                .push_bind(m.edited_at)
                .push_bind(m.deleted_at)
                .push_bind(m.reactions.as_deref())
                .push_bind(m.html.as_deref())
                .push_bind(m.mentions.as_deref())
                .push_bind(m.thread_uid.as_deref())
                .push_bind(m.also_in_room)
                .push_bind(m.files.as_deref());
        });
        match insert.build().execute(&mut *self.tx).await {
            Ok(done) => self.added += done.rows_affected(),
            // Ids and seqs cannot collide here, so this is a client id used twice by one
            // author; only now is it worth finding out where.
            Err(e) if super::is_unique_violation(&e) => {
                return Err(self.client_id_clash(&rows).await)
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Names the first message of a failed batch whose client id another message of the same
    /// author (stored, or earlier in the batch) already uses.
    async fn client_id_clash(&mut self, rows: &[(i64, &StagedMessage)]) -> StoreError {
        let mut in_batch = HashSet::new();
        for (_, m) in rows {
            let Some(client_id) = &m.client_id else {
                continue;
            };
            let taken = !in_batch.insert((m.author_id, client_id.as_str()))
                || sqlx::query_scalar::<_, bool>(
                    "SELECT EXISTS(SELECT 1 FROM messages WHERE author_id = ?1 AND client_id = ?2)",
                )
                .bind(m.author_id)
                .bind(client_id)
                .fetch_one(&mut *self.tx)
                .await
                .unwrap_or(false);
            if taken {
                return StoreError::Invalid(format!(
                    "{}: client id {client_id:?} is already used by another message from the \
                     same author",
                    m.place
                ));
            }
        }
        StoreError::Invalid("a client id is used by two messages from the same author".into())
    }
}

#[async_trait]
impl RestoreTx for Restore {
    async fn user(&mut self, user: &UserRecord) -> StoreResult<UserId> {
        let existing: Option<UserId> =
            sqlx::query_scalar("SELECT id FROM users WHERE username = ?1")
                .bind(&user.name)
                .fetch_optional(&mut *self.tx)
                .await?;
        if let Some(id) = existing {
            sqlx::query(
                "UPDATE users SET created_at = MIN(created_at, ?2), \
                 password_hash = COALESCE(password_hash, ?3) WHERE id = ?1",
            )
            .bind(id)
            .bind(user.created_at)
            .bind(&user.password_hash)
            .execute(&mut *self.tx)
            .await?;
            return Ok(id);
        }
        self.counts.users_created += 1;
        Ok(sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, is_admin, created_at) \
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.admin)
        .bind(user.created_at)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    async fn room(&mut self, room: &RoomRecord, created_by: Option<UserId>) -> StoreResult<RoomId> {
        let existing: Option<RoomId> =
            sqlx::query_scalar("SELECT id FROM rooms WHERE kind = 'public' AND name = ?1")
                .bind(&room.room)
                .fetch_optional(&mut *self.tx)
                .await?;
        if let Some(id) = existing {
            sqlx::query(
                "UPDATE rooms SET created_at = MIN(created_at, ?2), topic = COALESCE(topic, ?3), \
                 created_by = COALESCE(created_by, ?4) WHERE id = ?1",
            )
            .bind(id)
            .bind(room.created_at)
            .bind(&room.topic)
            .bind(created_by)
            .execute(&mut *self.tx)
            .await?;
            return Ok(id);
        }
        self.counts.rooms_created += 1;
        Ok(sqlx::query_scalar(
            "INSERT INTO rooms (kind, name, topic, created_by, created_at) \
             VALUES ('public', ?1, ?2, ?3, ?4) RETURNING id",
        )
        .bind(&room.room)
        .bind(&room.topic)
        .bind(created_by)
        .bind(room.created_at)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    async fn dm(
        &mut self,
        people: &[UserId],
        created_at: i64,
        created_by: Option<UserId>,
    ) -> StoreResult<RoomId> {
        let key = crate::store::dm_key(people);
        let existing: Option<RoomId> = sqlx::query_scalar("SELECT id FROM rooms WHERE dm_key = ?1")
            .bind(&key)
            .fetch_optional(&mut *self.tx)
            .await?;
        let id = if let Some(id) = existing {
            sqlx::query(
                "UPDATE rooms SET created_at = MIN(created_at, ?2), \
                 created_by = COALESCE(created_by, ?3) WHERE id = ?1",
            )
            .bind(id)
            .bind(created_at)
            .bind(created_by)
            .execute(&mut *self.tx)
            .await?;
            id
        } else {
            self.counts.rooms_created += 1;
            sqlx::query_scalar(
                "INSERT INTO rooms (kind, dm_key, created_by, created_at) \
                 VALUES ('dm', ?1, ?2, ?3) RETURNING id",
            )
            .bind(&key)
            .bind(created_by)
            .bind(created_at)
            .fetch_one(&mut *self.tx)
            .await?
        };
        // Everyone in a direct conversation is always a member of it.
        for &person in people {
            self.member(id, person, created_at).await?;
        }
        Ok(id)
    }

    async fn member(&mut self, room: RoomId, user: UserId, joined_at: i64) -> StoreResult<()> {
        let present: bool = sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM memberships WHERE room_id = ?1 AND user_id = ?2)",
        )
        .bind(room)
        .bind(user)
        .fetch_one(&mut *self.tx)
        .await?;
        if present {
            sqlx::query(
                "UPDATE memberships SET joined_at = MIN(joined_at, ?3) \
                 WHERE room_id = ?1 AND user_id = ?2",
            )
            .bind(room)
            .bind(user)
            .bind(joined_at)
            .execute(&mut *self.tx)
            .await?;
        } else {
            self.counts.members_added += 1;
            // Marked with -1 and set to the room's last seq at `finish`: restored history is
            // read, not unread, for the members it brings.
            sqlx::query(
                "INSERT INTO memberships (room_id, user_id, joined_at, last_read_seq) \
                 VALUES (?1, ?2, ?3, -1)",
            )
            .bind(room)
            .bind(user)
            .bind(joined_at)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn message(&mut self, message: StagedMessage) -> StoreResult<()> {
        self.batch.push(message);
        self.staged += 1;
        if self.batch.len() >= STAGE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>, commit: bool) -> StoreResult<RestoreCounts> {
        self.flush().await?;
        if !self.replies.is_empty() {
            self.rooms_threads_checked().await?;
        }
        let restored: Vec<(RoomId, i64)> = self.rooms.iter().map(|(r, c)| (*r, c.base)).collect();
        for (room, cursor) in &self.rooms {
            if cursor.unordered {
                // Restored messages arrived out of time order: give them their seqs again, by
                // time, then by arrival (their provisional seq). Negating first keeps
                // UNIQUE(room_id, seq) satisfied on the way.
                sqlx::query("UPDATE messages SET seq = -seq WHERE room_id = ?1 AND seq > ?2")
                    .bind(room)
                    .bind(cursor.base)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query(
                    "UPDATE messages SET seq = ?2 + o.rn FROM \
                       (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, -seq) AS rn \
                        FROM messages WHERE room_id = ?1 AND seq < 0) AS o \
                     WHERE messages.id = o.id",
                )
                .bind(room)
                .bind(cursor.base)
                .execute(&mut *self.tx)
                .await?;
            }
            // Each restored message is a change the room's members have not seen: it takes
            // the room's next rev, in seq order.
            sqlx::query(
                "UPDATE messages SET rev = (SELECT last_rev FROM rooms WHERE id = ?1) + seq - ?2 \
                 WHERE room_id = ?1 AND seq > ?2",
            )
            .bind(room)
            .bind(cursor.base)
            .execute(&mut *self.tx)
            .await?;
            sqlx::query(
                "UPDATE rooms SET last_seq = ?2, last_rev = last_rev + ?2 - ?4, \
                 last_message_at = ?3 WHERE id = ?1",
            )
            .bind(room)
            .bind(cursor.next - 1)
            .bind(cursor.last_at)
            .bind(cursor.base)
            .execute(&mut *self.tx)
            .await?;
        }
        for (room, base) in restored {
            self.threads(room, base).await?;
        }
        sqlx::query(
            "UPDATE memberships SET last_read_seq = \
               (SELECT last_seq FROM rooms WHERE rooms.id = memberships.room_id) \
             WHERE last_read_seq = -1",
        )
        .execute(&mut *self.tx)
        .await?;
        let mut counts = self.counts;
        counts.messages_added = self.added;
        counts.messages_skipped = self.staged - self.added;
        if commit {
            self.tx.commit().await?;
        } else {
            self.tx.rollback().await?;
        }
        Ok(counts)
    }
}

/// `VACUUM INTO` a temporary name beside `path`, then rename: a reader of `path` never sees a
/// half-written copy. VACUUM INTO reads inside one transaction, so the copy is consistent while
/// writers carry on.
pub(super) async fn snapshot(read: &SqlitePool, path: &Path) -> StoreResult<()> {
    if path.exists() {
        return Err(StoreError::Conflict(format!(
            "{} already exists; choose a new file name.",
            path.display()
        )));
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not a file name", path.display())))?;
    let partial = path.with_file_name(format!(
        ".{}.partial-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let target = partial
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not UTF-8", path.display())))?;
    let result = sqlx::query("VACUUM INTO ?1")
        .bind(target)
        .execute(read)
        .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        StoreError::Database(sqlx::Error::Io(e))
    })
}

impl Restore {
    /// Every restored reply's root is a message of its room before it that is not a reply;
    /// the first that is not names its place in the file.
    async fn rooms_threads_checked(&mut self) -> StoreResult<()> {
        let stray: Option<(String, String)> = sqlx::query_as(
            "SELECT x.uid, x.thread_uid FROM messages x WHERE x.thread_uid IS NOT NULL \
               AND x.rev = 0 AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.uid = x.thread_uid \
                 AND r.room_id = x.room_id AND r.thread_uid IS NULL AND r.created_at <= x.created_at) \
             LIMIT 1",
        )
        .fetch_optional(&mut *self.tx)
        .await?;
        match stray {
            Some((uid, root)) => Err(crate::store::threads::stray_reply(
                self.replies.get(&uid).copied(),
                &root,
            )),
            None => Ok(()),
        }
    }

    /// After a room's restored messages took their seqs and revs: the roots they reply to
    /// count their replies again (and take the room's next revs), and the threads' authors
    /// follow them, having read them (restored history is read).
    async fn threads(&mut self, room: RoomId, base: i64) -> StoreResult<()> {
        let changed = sqlx::query(
            "UPDATE messages SET \
               reply_count = (SELECT COUNT(*) FROM messages x WHERE x.room_id = ?1 \
                 AND x.thread_uid = messages.uid AND x.deleted_at IS NULL), \
               last_reply_at = (SELECT MAX(x.created_at) FROM messages x WHERE x.room_id = ?1 \
                 AND x.thread_uid = messages.uid AND x.deleted_at IS NULL), \
               rev = (SELECT last_rev FROM rooms WHERE id = ?1) + o.rn \
             FROM (SELECT r.id, ROW_NUMBER() OVER (ORDER BY r.seq) AS rn FROM messages r \
                   WHERE r.room_id = ?1 AND r.uid IN (SELECT thread_uid FROM messages \
                     WHERE room_id = ?1 AND seq > ?2 AND thread_uid IS NOT NULL)) AS o \
             WHERE messages.id = o.id",
        )
        .bind(room)
        .bind(base)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(());
        }
        sqlx::query("UPDATE rooms SET last_rev = last_rev + ?2 WHERE id = ?1")
            .bind(room)
            .bind(i64::try_from(changed).unwrap_or(i64::MAX))
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT OR IGNORE INTO thread_follows (root_uid, user_id, room_id, last_read_seq) \
             SELECT DISTINCT f.root_uid, f.user_id, ?1, (SELECT last_seq FROM rooms WHERE id = ?1) \
             FROM (SELECT x.thread_uid AS root_uid, x.author_id AS user_id FROM messages x \
                   WHERE x.room_id = ?1 AND x.seq > ?2 AND x.thread_uid IS NOT NULL \
                   UNION SELECT r.uid, r.author_id FROM messages r JOIN messages x \
                   ON x.room_id = r.room_id AND x.thread_uid = r.uid \
                   WHERE r.room_id = ?1 AND x.seq > ?2) AS f",
        )
        .bind(room)
        .bind(base)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
