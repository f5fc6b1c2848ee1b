-- Threads. A reply is a message of its root's room that names the root by uid (which backup
-- and restore keep, while a restore may give seqs anew). It takes the room's next seq and rev
-- like any message, so seq stays gap-free and catching up by rev sees it; the room's timeline
-- leaves it out unless it was also sent to the room. A root keeps how many replies it has
-- (tombstones not counted) and when the newest came, so the timeline shows both without a join.
ALTER TABLE messages ADD COLUMN thread_uid TEXT;
ALTER TABLE messages ADD COLUMN also_in_room INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at INTEGER;
CREATE INDEX messages_by_thread ON messages(room_id, thread_uid, seq) WHERE thread_uid IS NOT NULL;

-- Who follows a thread (the root's author, everyone who replied, everyone a reply mentioned)
-- and how far each has read it: replies by others after that count as unread for them.
CREATE TABLE thread_follows (
    root_uid      TEXT    NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id       INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    last_read_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (root_uid, user_id)
) WITHOUT ROWID;
CREATE INDEX thread_follows_by_user ON thread_follows(user_id, room_id);
