-- Bot accounts and incoming webhooks (see `crate::webhooks`). A bot is an account with no
-- password that programs act as; everywhere a name shows, it is marked as a bot. An incoming
-- webhook is a secret URL a room's moderators make: a POST of a Slack-style payload to it posts
-- into `room_id` as the hook's own bot `bot_id`. As with tokens, only the secret's SHA-256 is
-- kept. Deleting the room deletes its hooks; the bot stays, as the author of what it posted.
ALTER TABLE users ADD COLUMN is_bot BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE incoming_webhooks (
    hook_hash    BYTEA  PRIMARY KEY,
    room_id      BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    bot_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by   BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX incoming_webhooks_by_room ON incoming_webhooks (room_id);
