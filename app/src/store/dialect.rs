//! What SQLite and PostgreSQL spell differently, one item per difference, both spellings side
//! by side. The store written once for both backends (`store/sql/`) names these through its
//! backend's [`Dialect`]; all else in its SQL is common to both. What differs in more than
//! spelling (full-text search, partitions and their key tables, bulk binding) stays in each
//! backend's own modules.

/// The SQL dialect a backend speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The statement that starts a write transaction. SQLite takes the database's write lock
    /// at once (`BEGIN IMMEDIATE`): another process on the same file (a second node, a
    /// `confab restore`) then waits its turn for up to the busy timeout, where a deferred
    /// `BEGIN` would fail with "database is locked" when its first read is overtaken by the
    /// other's commit. PostgreSQL's default isolation serves, as what must be taken in turn is
    /// held by [`Dialect::lock_room`].
    pub(crate) const fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// The statement (`$1` the room) that holds a room for the rest of a write transaction, so
    /// that changes take its seqs and revs in turn: none on SQLite, whose `BEGIN IMMEDIATE`
    /// holds the database's one write lock already; on PostgreSQL, shared by every node, the
    /// room's row `FOR UPDATE`.
    pub(crate) const fn lock_room(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE"),
        }
    }

    /// Whether a failed statement aborts the whole transaction: PostgreSQL's does, so a
    /// statement that may fail and be looked into runs inside a savepoint; SQLite undoes only
    /// the failed statement, and a savepoint would only cost it a sub-journal of the pages the
    /// transaction had already changed.
    pub(crate) const fn aborts_on_error(self) -> bool {
        match self {
            Self::Sqlite => false,
            Self::Postgres => true,
        }
    }

    /// The two-argument maximum: SQLite's scalar `MAX`, PostgreSQL's `GREATEST`.
    pub(crate) const fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "MAX",
            Self::Postgres => "GREATEST",
        }
    }

    /// The two-argument minimum: SQLite's scalar `MIN`, PostgreSQL's `LEAST`.
    pub(crate) const fn least(self) -> &'static str {
        match self {
            Self::Sqlite => "MIN",
            Self::Postgres => "LEAST",
        }
    }

    /// `column` names the same user (or room) as `other`, ignoring case, as the unique index
    /// compares them: SQLite's name columns collate `NOCASE`; PostgreSQL's index is on
    /// `lower(…)`.
    pub(crate) fn same_name(self, column: &str, other: &str) -> String {
        match self {
            Self::Sqlite => format!("{column} = {other}"),
            Self::Postgres => format!("lower({column}) = lower({other})"),
        }
    }

    /// `column` contains `needle` anywhere, ignoring case (a search box): no `LIKE`, so a `%`
    /// or `_` typed into the box is looked for as itself.
    pub(crate) fn name_contains(self, column: &str, needle: &str) -> String {
        match self {
            Self::Sqlite => format!("instr(lower({column}), lower({needle})) > 0"),
            Self::Postgres => format!("strpos(lower({column}), lower({needle})) > 0"),
        }
    }

    /// The database's size on disk, in bytes: SQLite's pages, PostgreSQL's own count.
    pub(crate) const fn database_bytes(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            }
            Self::Postgres => "SELECT pg_database_size(current_database())",
        }
    }

    /// `expr` as a sort key that ignores case.
    pub(crate) fn by_name(self, expr: &str) -> String {
        match self {
            Self::Sqlite => format!("{expr} COLLATE NOCASE"),
            Self::Postgres => format!("lower({expr})"),
        }
    }

    /// The display name of a room for viewer `$1`: the room's name, or for a direct
    /// conversation the other members, comma-separated in name order (yourself for a
    /// note-to-self).
    pub(crate) const fn display_name(self) -> &'static str {
        match self {
            Self::Sqlite => "COALESCE(r.name, \
     (SELECT group_concat(u.username, ', ' ORDER BY u.username COLLATE NOCASE, u.id) FROM memberships o \
      JOIN users u ON u.id = o.user_id WHERE o.room_id = r.id AND o.user_id <> $1), \
     (SELECT username FROM users WHERE id = $1))",
            Self::Postgres => "COALESCE(r.name, \
     (SELECT string_agg(u.username, ', ' ORDER BY lower(u.username), u.id) FROM memberships o \
      JOIN users u ON u.id = o.user_id WHERE o.room_id = r.id AND o.user_id <> $1), \
     (SELECT username FROM users WHERE id = $1))",
        }
    }

    /// What the sidebar sorts by: SQLite may order by the output column; PostgreSQL cannot use
    /// an output column inside an expression of `ORDER BY`, so it repeats the expression.
    pub(crate) const fn display_name_sort(self) -> &'static str {
        match self {
            Self::Sqlite => "display_name",
            Self::Postgres => self.display_name(),
        }
    }

    /// Columns of a message joined with its author (`m`, `u`), in `rows::message` order. They
    /// differ in how a message is found by uid (PostgreSQL's `messages` is partitioned by room,
    /// so its unique uids are the table `message_uids`) and how followers are aggregated.
    pub(crate) const fn message_columns(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "m.uid, m.room_id, m.seq, u.username, m.body, m.created_at, \
     m.client_id, m.rev, m.edited_at, m.deleted_at, m.reactions, m.html, m.mentions, \
     (SELECT t.seq FROM messages t WHERE t.uid = m.thread_uid), m.also_in_room, \
     m.reply_count, m.last_reply_at, \
     CASE WHEN m.last_reply_at IS NOT NULL THEN (SELECT json_group_array(username) FROM \
       (SELECT fu.username FROM thread_follows f JOIN users fu ON fu.id = f.user_id \
        WHERE f.root_uid = m.uid ORDER BY fu.username COLLATE NOCASE)) END, m.files, m.event, \
     m.pinned_at, (SELECT pu.username FROM users pu WHERE pu.id = m.pinned_by), m.preview, \
     u.display_name, u.is_bot, m.persona"
            }
            Self::Postgres => {
                "m.uid, m.room_id, m.seq, u.username, m.body, m.created_at, \
     m.client_id, m.rev, m.edited_at, m.deleted_at, m.reactions, m.html, m.mentions, \
     (SELECT t.seq FROM message_uids t WHERE t.uid = m.thread_uid), m.also_in_room, \
     m.reply_count, m.last_reply_at, \
     CASE WHEN m.last_reply_at IS NOT NULL THEN (SELECT json_agg(fu.username \
       ORDER BY lower(fu.username))::text FROM thread_follows f \
       JOIN users fu ON fu.id = f.user_id WHERE f.root_uid = m.uid) END, m.files, m.event, \
     m.pinned_at, (SELECT pu.username FROM users pu WHERE pu.id = m.pinned_by), m.preview, \
     u.display_name, u.is_bot, m.persona"
            }
        }
    }

    /// The message `(room_id, seq)` an author sent with a client id (`$1` author, `$2` client
    /// id): on PostgreSQL the unique pair lives in `message_client_ids`.
    pub(crate) const fn message_by_client_id(self) -> &'static str {
        match self {
            Self::Sqlite => "SELECT room_id, seq FROM messages WHERE author_id = $1 AND client_id = $2",
            Self::Postgres => "SELECT room_id, seq FROM message_client_ids WHERE author_id = $1 AND client_id = $2",
        }
    }

    /// Inserts one message: uid, room, seq, author, body, time, client id, rev, html, mentions,
    /// thread root, also in the room, files, persona (`$1`…`$14`); on PostgreSQL with the
    /// partitioned
    /// table's two unique keys, `message_uids` and `message_client_ids`, in the same statement.
    pub(crate) const fn insert_message(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "INSERT INTO messages (uid, room_id, seq, author_id, body, \
     created_at, client_id, rev, html, mentions, thread_uid, also_in_room, files, persona) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            }
            Self::Postgres => {
                "WITH m AS (INSERT INTO messages (uid, room_id, seq, author_id, \
       body, created_at, client_id, rev, html, mentions, thread_uid, also_in_room, files, \
       persona) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     RETURNING uid, room_id, seq, author_id, client_id), \
   u AS (INSERT INTO message_uids (uid, room_id, seq) SELECT uid, room_id, seq FROM m) \
   INSERT INTO message_client_ids (author_id, client_id, room_id, seq) \
   SELECT author_id, client_id, room_id, seq FROM m WHERE client_id IS NOT NULL"
            }
        }
    }

    /// Whether [`Dialect::message_chunk`] reads a chunk as one row holding a JSON array (SQLite:
    /// crossing from its worker thread once per chunk instead of once per message doubles
    /// backup throughput) rather than as rows (PostgreSQL, whose rows decode 15% faster than
    /// its `json_agg`, measured).
    pub(crate) const fn chunk_is_json(self) -> bool {
        matches!(self, Self::Sqlite)
    }

    /// Up to `$5` messages of room `$1` after seq `$2` created in `[$3, $4)`, in seq order, in
    /// [`crate::store::export::ChunkRow`] order: as one JSON array of arrays where
    /// [`Dialect::chunk_is_json`], else as rows. SQLite's planner is given no time range when
    /// there is none (`windowed` false), so it walks the room's seq index alone.
    pub(crate) fn message_chunk(self, windowed: bool) -> String {
        let range = if windowed {
            "created_at >= $3 AND created_at < $4"
        } else {
            "$3 < $4"
        };
        match self {
            Self::Sqlite => format!(
                "SELECT json_group_array(json_array(uid, seq, author_id, body, created_at, \
                   client_id, edited_at, deleted_at, reactions, mentions, thread_uid, \
                   json(CASE WHEN also_in_room THEN 'true' ELSE 'false' END), files, event, \
                   pinned_at, pinned_by, persona)) \
                 FROM (SELECT * FROM messages WHERE room_id = $1 AND seq > $2 AND {range} \
                       ORDER BY seq LIMIT $5)"
            ),
            Self::Postgres => "SELECT uid, seq, author_id, body, created_at, client_id, \
                   edited_at, deleted_at, reactions, mentions, thread_uid, also_in_room, files, \
                   event, pinned_at, pinned_by, persona \
                 FROM messages WHERE room_id = $1 AND seq > $2 \
                   AND created_at >= $3 AND created_at < $4 ORDER BY seq LIMIT $5"
                .to_owned(),
        }
    }

    /// The tables holding a room's rows by `room_id`, in the order a deleted room's rows go:
    /// what points at its messages first. PostgreSQL adds the partitioned `messages`' two
    /// key tables; SQLite's search index follows `messages` by trigger.
    pub(crate) const fn room_tables(self) -> &'static [&'static str] {
        match self {
            Self::Sqlite => &[
                "mentions",
                "message_changes",
                "thread_follows",
                "bans",
                "memberships",
                "messages",
            ],
            Self::Postgres => &[
                "mentions",
                "message_changes",
                "thread_follows",
                "bans",
                "memberships",
                "message_uids",
                "message_client_ids",
                "messages",
            ],
        }
    }

    /// The names bound as `$2` (a JSON array on SQLite, a `TEXT[]` on PostgreSQL), as rows of
    /// one column `name`.
    pub(crate) const fn names_in_2(self) -> &'static str {
        match self {
            Self::Sqlite => "SELECT value AS name FROM json_each($2)",
            Self::Postgres => "SELECT name FROM UNNEST($2::TEXT[]) AS j(name)",
        }
    }

    /// The ids bound as `$1` (a JSON array on SQLite, a `BIGINT[]` on PostgreSQL), as rows of
    /// one column `id`.
    pub(crate) const fn ids_in_1(self) -> &'static str {
        match self {
            Self::Sqlite => "SELECT value AS id FROM json_each($1)",
            Self::Postgres => "SELECT id FROM UNNEST($1::BIGINT[]) AS j(id)",
        }
    }
}
