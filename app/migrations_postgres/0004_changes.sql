-- Edits, deletes and reactions: every change in a room (a post, an edit, a delete, a reaction)
-- takes the room's next rev, in the same transaction, so a client that was away asks for
-- "everything after rev R" and gets the current state of each message that changed. Seqs stay
-- gap-free: a deleted message is kept as a tombstone (empty body, deleted_at set).

ALTER TABLE rooms ADD COLUMN last_rev BIGINT NOT NULL DEFAULT 0;
UPDATE rooms SET last_rev = last_seq;

ALTER TABLE messages ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN deleted_at BIGINT;
-- Reactions as one JSON array of {emoji, users} (NULL: none), rewritten with the message's rev
-- by the transaction that changes them: every read of a message carries them at no extra cost.
ALTER TABLE messages ADD COLUMN reactions TEXT;
UPDATE messages SET rev = seq;
CREATE INDEX messages_by_room_rev ON messages (room_id, rev);

-- Client ids of edits and deletes, so that a retried change is carried out once.
CREATE TABLE message_changes (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL,
    room_id    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
