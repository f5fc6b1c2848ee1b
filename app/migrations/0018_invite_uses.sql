-- Invites an admin makes for more than one person, and takes back. An invite admits up to
-- `max_uses` registrations before it expires (the invites made before this admitted one);
-- `uses` counts them, and `used_by`/`used_at` keep the latest. A revoked invite admits no one.
ALTER TABLE invites ADD COLUMN max_uses INTEGER NOT NULL DEFAULT 1 CHECK (max_uses >= 1);
ALTER TABLE invites ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invites ADD COLUMN revoked_at INTEGER;
UPDATE invites SET uses = 1 WHERE used_at IS NOT NULL;
