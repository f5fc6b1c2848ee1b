-- Room settings and the timeline events that record them. A named room has a description
-- besides its topic, may be read-only (an announcement room: only moderators and owners post
-- to its timeline; everyone reacts and replies in threads) and may be archived (no one posts;
-- it leaves its members' sidebars, is listed last in the directory, and stays readable and
-- searchable).
-- A change of a setting is a message of the room whose `event` (JSON) says what changed, so
-- it takes the room's next seq and rev and reaches every device as any message does.
-- Someone banned from a room is not in it and cannot join it or be added to it again until
-- they are unbanned.
ALTER TABLE rooms ADD COLUMN description TEXT;
ALTER TABLE rooms ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1));
ALTER TABLE rooms ADD COLUMN archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1));
ALTER TABLE messages ADD COLUMN event TEXT;
CREATE TABLE bans (
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    banned_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    banned_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
