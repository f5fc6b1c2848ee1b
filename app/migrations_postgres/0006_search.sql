-- Search: each message's words as a tsvector, generated from its text (so an edit or a delete,
-- whose tombstone has no text, updates it in the same write), with a GIN index. Words are runs
-- of letters and digits, as in SQLite's index and `crate::search`'s reading of a query: the
-- text's other characters become spaces before PostgreSQL's parser sees it, so an address like
-- "ops@example.com" is three words on both backends. The 'simple' configuration lowercases and
-- does not stem.

ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS
    (to_tsvector('simple', regexp_replace(body, '[^[:alnum:]]+', ' ', 'g'))) STORED;
CREATE INDEX messages_search ON messages USING gin (search);
-- Newest first over every room, in the order results (and their page cursor) go.
CREATE INDEX messages_by_time ON messages (created_at, room_id, seq);
