//! Backup and restore in the database, written once and compiled into each backend
//! (`sqlite::backup`, `postgres::backup`): the reads of one consistent snapshot for
//! [`crate::store::export`], and a restore applied inside one write transaction. Restoring a
//! SQLite backup into PostgreSQL (and back) is how an instance moves between the two.
//!
//! What differs between the backends is named by the backend: the bulk steps in its `bulk`
//! module (how a snapshot is opened, how messages are inserted in batches, which key tables
//! follow a renumbering, the planner's statistics), and the dialect items `begin_write`,
//! `lock_room`, `LEAST`, `same_name`, `MESSAGE_BY_CLIENT_ID`, how a chunk of messages is read
//! (one JSON array, or rows), and whether a failed statement aborts the transaction.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use super::{bulk, Db, Pool, DIALECT};
use super::dialect::{begin_write, lock_room, same_name, LEAST, MESSAGE_BY_CLIENT_ID};
use crate::model::{Role, RoomId, UserId};
use crate::store::export::{ChunkRow, ExportSource, MESSAGE_CHUNK};
use crate::store::records::{Place, ProfileRecord, RoomRecord, UserRecord};
use crate::store::rows::{self, RoomRow, UserRow};
use crate::store::{RestoreCounts, RestoreTx, StagedMessage, StoreError, StoreResult};

/// Messages inserted per statement during a restore: 2,000 of 15 columns stays under SQLite's
/// 32,766 bound parameters, and PostgreSQL binds each column as one array.
const STAGE_BATCH: usize = 2000;

/// A backup's reads, all in one read transaction that sees one snapshot while others write.
pub(super) struct Source {
    tx: sqlx::Transaction<'static, Db>,
}

impl Source {
    pub(super) async fn begin(read: &Pool) -> StoreResult<Self> {
        Ok(Self {
            tx: bulk::begin_snapshot(read).await?,
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
        let rows =
            sqlx::query(
                "SELECT id, username, is_admin, created_at, password_hash, display_name, \
                 time_zone, status_emoji, status_text, status_until, avatar, avatar_small, is_bot \
                 FROM users",
            )
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(rows.iter().map(rows::user).collect::<Result<_, _>>()?)
    }

    async fn rooms(&mut self) -> StoreResult<Vec<RoomRow>> {
        let rows = sqlx::query(
            "SELECT id, name, dm_key, topic, created_by, created_at, private, description, \
               read_only, archived, group_mentions FROM rooms",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.iter().map(rows::room).collect::<Result<_, _>>()?)
    }

    async fn memberships(&mut self) -> StoreResult<Vec<(RoomId, UserId, i64, Role)>> {
        let rows: Vec<(RoomId, UserId, i64, String)> =
            sqlx::query_as("SELECT room_id, user_id, joined_at, role FROM memberships")
                .fetch_all(&mut *self.tx)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(room, user, at, role)| (room, user, at, Role::from_db(&role)))
            .collect())
    }

    async fn authors(&mut self, room: RoomId) -> StoreResult<Vec<UserId>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT author_id FROM messages WHERE room_id = $1")
                .bind(room)
                .fetch_all(&mut *self.tx)
                .await?,
        )
    }

    async fn count(&mut self, room: RoomId, since: i64, until: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE room_id = $1 AND created_at >= $2 AND created_at < $3",
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
        // See `Dialect::message_chunk`: one JSON array, or rows.
        let sql = DIALECT.message_chunk(window.is_some());
        let (since, until) = window.unwrap_or((i64::MIN, i64::MAX));
        if DIALECT.chunk_is_json() {
            let chunk: String = sqlx::query_scalar(&sql)
                .bind(room)
                .bind(after)
                .bind(since)
                .bind(until)
                .bind(MESSAGE_CHUNK)
                .fetch_one(&mut *self.tx)
                .await?;
            return serde_json::from_str(&chunk).map_err(|e| {
                StoreError::Invalid(format!("reading messages of room {room}: {e}"))
            });
        }
        Ok(sqlx::query_as(&sql)
            .bind(room)
            .bind(after)
            .bind(since)
            .bind(until)
            .bind(MESSAGE_CHUNK)
            .fetch_all(&mut *self.tx)
            .await?)
    }
}

/// A restore in progress: one write transaction. Messages are appended to their rooms in
/// batches as they arrive, each taking the room's next seq (the room held against live posts,
/// from any node); a room whose messages arrive out of time order is renumbered once at the
/// end. Memory stays flat: nothing but the current batch and a cursor per room is held.
pub(super) struct Restore {
    tx: sqlx::Transaction<'static, Db>,
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
    pub(super) async fn begin(write: &Pool) -> StoreResult<Self> {
        Ok(Self {
            tx: begin_write(write).await?,
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
        let uids: Vec<&str> = batch.iter().map(|m| m.uid.as_str()).collect();
        let stored = bulk::stored_uids(&mut self.tx, &uids).await?;
        let mut seen: HashSet<&str> = stored.iter().map(String::as_str).collect();
        let mut rows = Vec::with_capacity(batch.len());
        for m in &batch {
            if !seen.insert(m.uid.as_str()) {
                continue;
            }
            let cursor = match self.rooms.get_mut(&m.room_id) {
                Some(cursor) => cursor,
                None => {
                    lock_room(&mut self.tx, m.room_id).await?;
                    let (base, last_at): (i64, i64) =
                        sqlx::query_as("SELECT last_seq, last_message_at FROM rooms WHERE id = $1")
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
                self.replies.insert(m.uid.clone(), m.place.clone());
            }
            rows.push((seq, m));
        }
        if rows.is_empty() {
            return Ok(());
        }
        // Where a failed statement aborts the transaction, the batch goes in inside a
        // savepoint that can be rolled back to, to look for the clash after.
        let guarded = DIALECT.aborts_on_error();
        if guarded {
            self.run("SAVEPOINT batch").await?;
        }
        match bulk::insert(&mut self.tx, &rows).await {
            Ok(added) => {
                self.added += added;
                if guarded {
                    self.run("RELEASE SAVEPOINT batch").await?;
                }
            }
            // Ids and seqs cannot collide here, so this is a client id used twice by one
            // author; only now is it worth finding out where.
            Err(e) if super::is_unique_violation(&e) => {
                if guarded {
                    self.run("ROLLBACK TO SAVEPOINT batch").await?;
                }
                return Err(self.client_id_clash(&rows).await);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Runs one statement without parameters in the restore's transaction.
    async fn run(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Names the first message of a failed batch whose client id another message of the same
    /// author (stored, or earlier in the batch) already uses.
    async fn client_id_clash(&mut self, rows: &[(i64, &StagedMessage)]) -> StoreError {
        let taken_sql = format!("SELECT EXISTS({MESSAGE_BY_CLIENT_ID})");
        let mut in_batch = HashSet::new();
        for (_, m) in rows {
            let Some(client_id) = &m.client_id else {
                continue;
            };
            let taken = !in_batch.insert((m.author_id, client_id.as_str()))
                || sqlx::query_scalar::<_, bool>(&taken_sql)
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

    /// Gives a room's restored messages their seqs again, by time, then by arrival (their
    /// provisional seq), and points the backend's key tables at the new seqs.
    async fn renumber(&mut self, room: RoomId, base: i64) -> StoreResult<()> {
        // Negating first keeps the (room_id, seq) key unique on the way.
        sqlx::query("UPDATE messages SET seq = -seq WHERE room_id = $1 AND seq > $2")
            .bind(room)
            .bind(base)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "UPDATE messages SET seq = $2 + o.rn FROM \
               (SELECT seq AS old, ROW_NUMBER() OVER (ORDER BY created_at, -seq) AS rn \
                FROM messages WHERE room_id = $1 AND seq < 0) AS o \
             WHERE messages.room_id = $1 AND messages.seq = o.old",
        )
        .bind(room)
        .bind(base)
        .execute(&mut *self.tx)
        .await?;
        for keys in bulk::RENUMBERED_KEYS {
            sqlx::query(keys)
                .bind(room)
                .bind(base)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Every restored reply's root is a message of its room before it that is not a reply;
    /// the first that is not names its place in the file.
    async fn threads_checked(&mut self) -> StoreResult<()> {
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
                self.replies.get(&uid).cloned(),
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
               reply_count = (SELECT COUNT(*) FROM messages x WHERE x.room_id = $1 \
                 AND x.thread_uid = messages.uid AND x.deleted_at IS NULL), \
               last_reply_at = (SELECT MAX(x.created_at) FROM messages x WHERE x.room_id = $1 \
                 AND x.thread_uid = messages.uid AND x.deleted_at IS NULL), \
               rev = (SELECT last_rev FROM rooms WHERE id = $1) + o.rn \
             FROM (SELECT r.seq, ROW_NUMBER() OVER (ORDER BY r.seq) AS rn FROM messages r \
                   WHERE r.room_id = $1 AND r.uid IN (SELECT thread_uid FROM messages \
                     WHERE room_id = $1 AND seq > $2 AND thread_uid IS NOT NULL)) AS o \
             WHERE messages.room_id = $1 AND messages.seq = o.seq",
        )
        .bind(room)
        .bind(base)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(());
        }
        sqlx::query("UPDATE rooms SET last_rev = last_rev + $2 WHERE id = $1")
            .bind(room)
            .bind(i64::try_from(changed).unwrap_or(i64::MAX))
            .execute(&mut *self.tx)
            .await?;
        // `WHERE true`: SQLite would read the `ON` of `ON CONFLICT` after a subquery in `FROM`
        // as a join's.
        sqlx::query(
            "INSERT INTO thread_follows (root_uid, user_id, room_id, last_read_seq) \
             SELECT DISTINCT f.root_uid, f.user_id, CAST($1 AS BIGINT), \
               (SELECT last_seq FROM rooms WHERE id = $1) \
             FROM (SELECT x.thread_uid AS root_uid, x.author_id AS user_id FROM messages x \
                   WHERE x.room_id = $1 AND x.seq > $2 AND x.thread_uid IS NOT NULL \
                   UNION SELECT r.uid, r.author_id FROM messages r JOIN messages x \
                   ON x.room_id = r.room_id AND x.thread_uid = r.uid \
                   WHERE r.room_id = $1 AND x.seq > $2) AS f \
             WHERE true ON CONFLICT DO NOTHING",
        )
        .bind(room)
        .bind(base)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

impl Restore {
    /// Fills what `id`'s profile leaves unset from a backup's: what an account already says of
    /// itself stands (a status, and a picture, as a whole).
    async fn fill_profile(&mut self, id: UserId, profile: &ProfileRecord) -> StoreResult<()> {
        let avatar = profile.avatar.as_ref();
        sqlx::query(
            "UPDATE users SET display_name = COALESCE(display_name, $2), \
             time_zone = COALESCE(time_zone, $3), \
             status_emoji = CASE WHEN status_emoji IS NULL AND status_text IS NULL \
                 THEN $4 ELSE status_emoji END, \
             status_until = CASE WHEN status_emoji IS NULL AND status_text IS NULL \
                 THEN $6 ELSE status_until END, \
             status_text = CASE WHEN status_emoji IS NULL AND status_text IS NULL \
                 THEN $5 ELSE status_text END, \
             avatar_small = CASE WHEN avatar IS NULL THEN $8 ELSE avatar_small END, \
             avatar = COALESCE(avatar, $7) WHERE id = $1",
        )
        .bind(id)
        .bind(&profile.display_name)
        .bind(&profile.time_zone)
        .bind(&profile.status_emoji)
        .bind(&profile.status_text)
        .bind(profile.status_until)
        .bind(avatar.map(|a| a.large.as_str()))
        .bind(avatar.map(|a| a.small.as_str()))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl RestoreTx for Restore {
    async fn user(&mut self, user: &UserRecord) -> StoreResult<UserId> {
        let existing: Option<UserId> = sqlx::query_scalar(&format!(
            "SELECT id FROM users WHERE {}",
            same_name("username", "$1")
        ))
        .bind(&user.name)
        .fetch_optional(&mut *self.tx)
        .await?;
        let id = match existing {
            Some(id) => {
                sqlx::query(&format!(
                    "UPDATE users SET created_at = {LEAST}(created_at, $2), \
                     password_hash = COALESCE(password_hash, $3) WHERE id = $1"
                ))
                .bind(id)
                .bind(user.created_at)
                .bind(&user.password_hash)
                .execute(&mut *self.tx)
                .await?;
                id
            }
            None => {
                self.counts.users_created += 1;
                sqlx::query_scalar(
                    "INSERT INTO users (username, password_hash, is_admin, created_at, is_bot) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&user.name)
                .bind(&user.password_hash)
                .bind(user.admin)
                .bind(user.created_at)
                .bind(user.bot)
                .fetch_one(&mut *self.tx)
                .await?
            }
        };
        if !user.profile.is_empty() {
            self.fill_profile(id, &user.profile).await?;
        }
        Ok(id)
    }

    async fn room(&mut self, room: &RoomRecord, created_by: Option<UserId>) -> StoreResult<RoomId> {
        let existing: Option<RoomId> = sqlx::query_scalar(&format!(
            "SELECT id FROM rooms WHERE kind = 'public' AND {}",
            same_name("name", "$1")
        ))
        .bind(&room.room)
        .fetch_optional(&mut *self.tx)
        .await?;
        if let Some(id) = existing {
            // Merging never makes a private room public, nor opens a read-only or archived one,
            // nor lets more people use `@room` than either side did.
            sqlx::query(&format!(
                "UPDATE rooms SET created_at = {LEAST}(created_at, $2), \
                 topic = COALESCE(topic, $3), created_by = COALESCE(created_by, $4), \
                 private = (private OR $5), description = COALESCE(description, $6), \
                 read_only = (read_only OR $7), archived = (archived OR $8), \
                 group_mentions = CASE \
                   WHEN 'nobody' IN (group_mentions, $9) THEN 'nobody' \
                   WHEN 'moderators' IN (group_mentions, $9) THEN 'moderators' \
                   ELSE 'everyone' END \
                 WHERE id = $1"
            ))
            .bind(id)
            .bind(room.created_at)
            .bind(&room.topic)
            .bind(created_by)
            .bind(room.private)
            .bind(&room.description)
            .bind(room.read_only)
            .bind(room.archived)
            .bind(room.group_mentions.as_str())
            .execute(&mut *self.tx)
            .await?;
            return Ok(id);
        }
        self.counts.rooms_created += 1;
        Ok(sqlx::query_scalar(
            "INSERT INTO rooms (kind, name, topic, created_by, created_at, private, description, \
               read_only, archived, group_mentions) \
             VALUES ('public', $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&room.room)
        .bind(&room.topic)
        .bind(created_by)
        .bind(room.created_at)
        .bind(room.private)
        .bind(&room.description)
        .bind(room.read_only)
        .bind(room.archived)
        .bind(room.group_mentions.as_str())
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
        let existing: Option<RoomId> = sqlx::query_scalar("SELECT id FROM rooms WHERE dm_key = $1")
            .bind(&key)
            .fetch_optional(&mut *self.tx)
            .await?;
        let id = if let Some(id) = existing {
            sqlx::query(&format!(
                "UPDATE rooms SET created_at = {LEAST}(created_at, $2), \
                 created_by = COALESCE(created_by, $3) WHERE id = $1"
            ))
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
                 VALUES ('dm', $1, $2, $3) RETURNING id",
            )
            .bind(&key)
            .bind(created_by)
            .bind(created_at)
            .fetch_one(&mut *self.tx)
            .await?
        };
        // Everyone in a direct conversation is always a member of it.
        for &person in people {
            self.member(id, person, created_at, None).await?;
        }
        Ok(id)
    }

    async fn member(
        &mut self,
        room: RoomId,
        user: UserId,
        joined_at: i64,
        role: Option<Role>,
    ) -> StoreResult<()> {
        let present: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE room_id = $1 AND user_id = $2")
                .bind(room)
                .bind(user)
                .fetch_optional(&mut *self.tx)
                .await?;
        if let Some(present) = present {
            // A merge keeps the higher of the two roles.
            let role = role.unwrap_or(Role::Member).max(Role::from_db(&present));
            sqlx::query(&format!(
                "UPDATE memberships SET joined_at = {LEAST}(joined_at, $3), role = $4 \
                 WHERE room_id = $1 AND user_id = $2"
            ))
            .bind(room)
            .bind(user)
            .bind(joined_at)
            .bind(role.as_str())
            .execute(&mut *self.tx)
            .await?;
        } else {
            self.counts.members_added += 1;
            // Marked with -1 and set to the room's last seq at `finish`: restored history is
            // read, not unread, for the members it brings.
            sqlx::query(
                "INSERT INTO memberships (room_id, user_id, joined_at, last_read_seq, role) \
                 VALUES ($1, $2, $3, -1, $4)",
            )
            .bind(room)
            .bind(user)
            .bind(joined_at)
            .bind(role.unwrap_or(Role::Member).as_str())
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
            self.threads_checked().await?;
        }
        let rooms: Vec<(RoomId, RoomCursor)> = self.rooms.drain().collect();
        for (room, cursor) in rooms {
            if cursor.unordered {
                self.renumber(room, cursor.base).await?;
            }
            // Each restored message is a change the room's members have not seen: it takes
            // the room's next rev, in seq order.
            sqlx::query(
                "UPDATE messages SET rev = (SELECT last_rev FROM rooms WHERE id = $1) + seq - $2 \
                 WHERE room_id = $1 AND seq > $2",
            )
            .bind(room)
            .bind(cursor.base)
            .execute(&mut *self.tx)
            .await?;
            sqlx::query(
                "UPDATE rooms SET last_seq = $2, last_rev = last_rev + $2 - $4, \
                 last_message_at = $3 WHERE id = $1",
            )
            .bind(room)
            .bind(cursor.next - 1)
            .bind(cursor.last_at)
            .bind(cursor.base)
            .execute(&mut *self.tx)
            .await?;
            self.threads(room, cursor.base).await?;
        }
        sqlx::query(
            "UPDATE memberships SET last_read_seq = \
               (SELECT last_seq FROM rooms WHERE rooms.id = memberships.room_id) \
             WHERE last_read_seq = -1",
        )
        .execute(&mut *self.tx)
        .await?;
        // A named room left with no owner (a backup from before roles, or one that left the
        // owners out) is owned by its creator, when they are in it.
        sqlx::query(
            "UPDATE memberships SET role = 'owner' \
             WHERE EXISTS (SELECT 1 FROM rooms r WHERE r.id = memberships.room_id \
                             AND r.kind = 'public' AND r.created_by = memberships.user_id) \
               AND NOT EXISTS (SELECT 1 FROM memberships o \
                                WHERE o.room_id = memberships.room_id AND o.role = 'owner')",
        )
        .execute(&mut *self.tx)
        .await?;
        if commit {
            bulk::restored(&mut self.tx, self.added).await?;
        }
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
