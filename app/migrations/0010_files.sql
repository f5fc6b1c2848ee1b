-- Files sent with messages: their metadata (JSON, as `Attachment`s) on the message itself, so
-- every read of a message has them and a tombstone (whose `files` is cleared) has none. The
-- bytes are kept outside the database, by content hash; the partial index lets a prune find
-- every hash still in use without reading the messages that have no files.
ALTER TABLE messages ADD COLUMN files TEXT;
CREATE INDEX messages_with_files ON messages (room_id, seq) WHERE files IS NOT NULL;
