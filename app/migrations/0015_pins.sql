-- Pinned messages: when, and by whom. A room's moderators and owners pin (either member of a
-- conversation); a room's pins are listed newest pin first. Pinning takes the room's next rev,
-- like any change, so every device catches up on it.
ALTER TABLE messages ADD COLUMN pinned_at INTEGER;
ALTER TABLE messages ADD COLUMN pinned_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX messages_pinned ON messages (room_id, pinned_at) WHERE pinned_at IS NOT NULL;
