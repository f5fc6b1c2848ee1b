-- Markdown and mentions. A message's HTML is rendered once, when it is stored or edited, and
-- read with it (NULL: a message from before this migration, rendered when read). Its mentions
-- are the usernames the server decided it names (a JSON array, NULL for none); the `mentions`
-- table indexes them by person so that the sidebar counts unread mentions with one range read.
-- A trigger keeps that table in step with the column on every insert, edit and delete,
-- whatever wrote the row (a post, an edit, a restore).

ALTER TABLE messages ADD COLUMN html TEXT;
ALTER TABLE messages ADD COLUMN mentions TEXT;

CREATE TABLE mentions (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);
CREATE INDEX mentions_by_message ON mentions (room_id, seq);

-- Nobody is told they mentioned themselves; a tombstone mentions nobody.
CREATE FUNCTION confab_index_mentions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM mentions WHERE room_id = OLD.room_id AND seq = OLD.seq;
    END IF;
    IF NEW.mentions IS NOT NULL AND NEW.deleted_at IS NULL THEN
        INSERT INTO mentions (user_id, room_id, seq)
        SELECT u.id, NEW.room_id, NEW.seq
        FROM jsonb_array_elements_text(NEW.mentions::jsonb) AS j(name)
        JOIN users u ON u.username = j.name
        WHERE u.id <> NEW.author_id
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER mentions_on_insert AFTER INSERT ON messages
FOR EACH ROW WHEN (NEW.mentions IS NOT NULL) EXECUTE FUNCTION confab_index_mentions();
-- A reaction rewrites the row with the same mentions: nothing to do then.
CREATE TRIGGER mentions_on_change AFTER UPDATE OF mentions, deleted_at ON messages
FOR EACH ROW WHEN (OLD.mentions IS DISTINCT FROM NEW.mentions
                   OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
EXECUTE FUNCTION confab_index_mentions();
