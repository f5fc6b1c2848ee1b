-- Live: read state per membership (unread counts, shared by every device of a user) and when a
-- user was last connected (shown as "last seen" to people who share a room with them).

-- The highest seq this member has read in the room. Existing memberships start fully read, so
-- upgrading does not flood everyone with old history marked unread.
ALTER TABLE memberships ADD COLUMN last_read_seq INTEGER NOT NULL DEFAULT 0;
UPDATE memberships SET last_read_seq = (SELECT last_seq FROM rooms WHERE rooms.id = memberships.room_id);

-- UTC milliseconds when the user's last live connection closed; NULL if never connected.
ALTER TABLE users ADD COLUMN last_seen_at INTEGER;
