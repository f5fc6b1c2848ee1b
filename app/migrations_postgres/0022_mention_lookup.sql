-- A message's mentions are found by name through the index on lower(username), the only one
-- `users` has for names: the trigger that fills `mentions` compared `username` itself, which no
-- index serves, so every post that named someone read the whole `users` table inside its room's
-- write lock. Stored mentions are usernames as spelled, so comparing lower-cased finds the same
-- people.
CREATE OR REPLACE FUNCTION confab_index_mentions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM mentions WHERE room_id = OLD.room_id AND seq = OLD.seq;
    END IF;
    IF NEW.mentions IS NOT NULL AND NEW.deleted_at IS NULL THEN
        INSERT INTO mentions (user_id, room_id, seq)
        SELECT u.id, NEW.room_id, NEW.seq
        FROM jsonb_array_elements_text(NEW.mentions::jsonb) AS j(name)
        JOIN users u ON lower(u.username) = lower(j.name)
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
