-- Outgoing webhooks (see `crate::outgoing`). A room's moderators name a URL, trigger words and
-- a bot; a message in the room that starts with a trigger word, or mentions the bot, is POSTed
-- there as JSON, signed with HMAC-SHA256 under `secret`, which is kept as it is because every
-- delivery is signed with it. An answer's text is posted as the bot. Deleting the room deletes
-- its hooks; the bot stays, as the author of what it posted.
CREATE TABLE outgoing_webhooks (
    hook_id      TEXT    PRIMARY KEY,
    room_id      BIGINT  NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    bot_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    url          TEXT    NOT NULL,
    triggers     TEXT    NOT NULL,
    secret       TEXT    NOT NULL,
    created_by   BIGINT  REFERENCES users(id) ON DELETE SET NULL,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    last_status  TEXT
);
CREATE INDEX outgoing_webhooks_by_room ON outgoing_webhooks (room_id);
