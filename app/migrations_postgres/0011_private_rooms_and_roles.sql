-- Private rooms and room roles. A named room (kind 'public') may be private: only its members
-- see that it exists. Every membership has a role: the owner manages roles and settings,
-- moderators remove members and delete messages, members post and invite.
ALTER TABLE rooms ADD COLUMN private BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE memberships ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'moderator', 'member'));
-- Until now a room's creator had the owner's powers.
UPDATE memberships SET role = 'owner'
  FROM rooms r
 WHERE r.id = memberships.room_id AND r.kind = 'public' AND r.created_by = memberships.user_id;
