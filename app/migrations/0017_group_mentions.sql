-- Mentions of a whole room. `@room` notifies every member and `@here` those online when it is
-- sent; a room's owners choose who may use them (`group_mentions`: everyone, moderators and
-- owners, or nobody). A message's `mentions` keep them as "@room" and "@here" (a username holds
-- no `@`). `@here` is stored with the names of those it reached, so the triggers need nothing
-- more for it; `@room` is counted here for each member of the room when the message is stored
-- or edited.
ALTER TABLE rooms ADD COLUMN group_mentions TEXT NOT NULL DEFAULT 'everyone'
    CHECK (group_mentions IN ('everyone', 'moderators', 'nobody'));

DROP TRIGGER mentions_on_insert;
DROP TRIGGER mentions_on_change;

CREATE TRIGGER mentions_on_insert AFTER INSERT ON messages
WHEN NEW.mentions IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    INSERT OR IGNORE INTO mentions (user_id, room_id, seq)
    SELECT u.id, NEW.room_id, NEW.seq FROM json_each(NEW.mentions) j
    JOIN users u ON u.username = j.value WHERE u.id <> NEW.author_id;
    INSERT OR IGNORE INTO mentions (user_id, room_id, seq)
    SELECT m.user_id, NEW.room_id, NEW.seq FROM memberships m
    WHERE m.room_id = NEW.room_id AND m.user_id <> NEW.author_id
      AND EXISTS (SELECT 1 FROM json_each(NEW.mentions) j WHERE j.value = '@room');
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
    INSERT OR IGNORE INTO mentions (user_id, room_id, seq)
    SELECT m.user_id, NEW.room_id, NEW.seq FROM memberships m
    WHERE m.room_id = NEW.room_id AND m.user_id <> NEW.author_id AND NEW.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM json_each(COALESCE(NEW.mentions, '[]')) j WHERE j.value = '@room');
END;
