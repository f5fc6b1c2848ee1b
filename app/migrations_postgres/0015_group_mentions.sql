-- Mentions of a whole room. `@room` notifies every member and `@here` those online when it is
-- sent; a room's owners choose who may use them (`group_mentions`: everyone, moderators and
-- owners, or nobody). A message's `mentions` keep them as "@room" and "@here" (a username holds
-- no `@`). `@here` is stored with the names of those it reached, so the trigger needs nothing
-- more for it; `@room` is counted here for each member of the room when the message is stored
-- or edited.
ALTER TABLE rooms ADD COLUMN group_mentions TEXT NOT NULL DEFAULT 'everyone'
    CHECK (group_mentions IN ('everyone', 'moderators', 'nobody'));

CREATE OR REPLACE FUNCTION confab_index_mentions() RETURNS trigger LANGUAGE plpgsql AS $$
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
        IF NEW.mentions::jsonb ? '@room' THEN
            INSERT INTO mentions (user_id, room_id, seq)
            SELECT m.user_id, NEW.room_id, NEW.seq FROM memberships m
            WHERE m.room_id = NEW.room_id AND m.user_id <> NEW.author_id
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
