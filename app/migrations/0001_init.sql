-- Confab's first schema: accounts, sessions, rooms (public rooms and DMs), memberships, messages.
-- Times are UTC milliseconds since the Unix epoch.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    -- NULL for accounts that cannot log in (e.g. restored from a backup without credentials).
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- Server-side sessions: the cookie holds a random token, the table only its SHA-256.
CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE rooms (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('public', 'dm')),
    -- Public rooms: the display name, unique ignoring case. DMs: NULL.
    name       TEXT    COLLATE NOCASE UNIQUE,
    topic      TEXT,
    -- DMs: "<lower user id>:<higher user id>", so a pair has exactly one DM.
    dm_key     TEXT    UNIQUE,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    -- The highest seq handed out in this room; bumped in the same transaction as the insert.
    last_seq   INTEGER NOT NULL DEFAULT 0,
    CHECK ((kind = 'public' AND name IS NOT NULL AND dm_key IS NULL)
        OR (kind = 'dm' AND name IS NULL AND dm_key IS NOT NULL))
);

CREATE TABLE memberships (
    room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
-- "Which rooms is this user in" (the sidebar).
CREATE INDEX memberships_by_user ON memberships(user_id, room_id);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    -- Stable, globally unique id (UUIDv7), kept across backup and restore.
    uid        TEXT    NOT NULL UNIQUE,
    room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    author_id  INTEGER NOT NULL REFERENCES users(id),
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    -- Chosen by the sending client; a retry with the same id returns the first message.
    client_id  TEXT,
    UNIQUE (room_id, seq),
    UNIQUE (author_id, client_id)
);
-- (room_id, seq) is unique, so its index serves "last N of room R" and "page before seq S of room R"
-- as an index range scan; no other index is needed for history.

INSERT INTO rooms (kind, name, topic, created_at)
VALUES ('public', 'general', 'Everyone, everything.', CAST(strftime('%s', 'now') AS INTEGER) * 1000);
