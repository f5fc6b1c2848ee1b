-- Private rooms and room roles. A named room (kind 'public') may be private: only its members
-- see that it exists. Every membership has a role: the owner manages roles and settings,
-- moderators remove members and delete messages, members post and invite. (`kind` keeps its
-- two values; widening its CHECK would mean rebuilding the table in SQLite.)
ALTER TABLE rooms ADD COLUMN private INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1));
ALTER TABLE memberships ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'moderator', 'member'));
-- Until now a room's creator had the owner's powers.
UPDATE memberships SET role = 'owner'
 WHERE EXISTS (SELECT 1 FROM rooms r WHERE r.id = memberships.room_id AND r.kind = 'public'
                AND r.created_by = memberships.user_id);
