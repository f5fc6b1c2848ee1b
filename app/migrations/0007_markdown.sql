-- Markdown and mentions. A message's HTML is rendered once, when it is stored or edited, and
-- read with it (NULL: a message from before this migration, rendered when read). Its mentions
-- are the usernames the server decided it names (a JSON array, NULL for none); the `mentions`
-- table indexes them by person so that the sidebar counts unread mentions with one range read.
-- Triggers keep that table in step with the column on every insert, edit and delete, whatever
-- wrote the row (a post, an edit, a restore).

ALTER TABLE messages ADD COLUMN html TEXT;
ALTER TABLE messages ADD COLUMN mentions TEXT;

CREATE TABLE mentions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
) WITHOUT ROWID;
CREATE INDEX mentions_by_message ON mentions(room_id, seq);

-- Nobody is told they mentioned themselves; a tombstone mentions nobody.
CREATE TRIGGER mentions_on_insert AFTER INSERT ON messages
WHEN NEW.mentions IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    INSERT OR IGNORE INTO mentions (user_id, room_id, seq)
    SELECT u.id, NEW.room_id, NEW.seq FROM json_each(NEW.mentions) j
    JOIN users u ON u.username = j.value WHERE u.id <> NEW.author_id;
END;

-- A reaction rewrites the row with the same mentions: nothing to do then.
CREATE TRIGGER mentions_on_change AFTER UPDATE OF mentions, deleted_at ON messages
WHEN OLD.mentions IS NOT NEW.mentions OR OLD.deleted_at IS NOT NEW.deleted_at
BEGIN
    DELETE FROM mentions WHERE room_id = OLD.room_id AND seq = OLD.seq;
    INSERT OR IGNORE INTO mentions (user_id, room_id, seq)
    SELECT u.id, NEW.room_id, NEW.seq FROM json_each(COALESCE(NEW.mentions, '[]')) j
    JOIN users u ON u.username = j.value
    WHERE u.id <> NEW.author_id AND NEW.deleted_at IS NULL;
END;
