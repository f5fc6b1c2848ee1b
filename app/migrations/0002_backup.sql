-- Backup and restore: a room remembers the time of its newest message so that a message's time
-- never goes back within a room (restore orders messages by time; see docs/backup-formats.md),
-- and history can be read from a date onwards without scanning the room.

ALTER TABLE rooms ADD COLUMN last_message_at INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET last_message_at = COALESCE((SELECT MAX(created_at) FROM messages WHERE room_id = rooms.id), 0);

CREATE INDEX messages_by_room_time ON messages(room_id, created_at);
