-- Notifications that reach a closed browser (Web Push, RFC 8030/8291/8292).
--
-- The instance's VAPID key pair: one row, made on first start (the private scalar; the public
-- key follows from it). Every node of a cluster signs with the same key, and a subscription is
-- bound to it, so rotating the key drops every subscription (`confab push rotate-keys`).
CREATE TABLE push_keys (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    private_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- One row per browser subscription. It belongs to the session that made it, so logging out,
-- a session expiring or "log out everywhere" stops that device's notifications too. An endpoint
-- is unique: the same browser subscribing again (even for another account, after logging in
-- as someone else) moves its one row.
CREATE TABLE push_subscriptions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_hash BLOB    NOT NULL REFERENCES sessions(token_hash) ON DELETE CASCADE,
    endpoint     TEXT    NOT NULL UNIQUE,
    -- The browser's P-256 public key (65 bytes, uncompressed) and auth secret (16 bytes).
    p256dh       BLOB    NOT NULL,
    auth         BLOB    NOT NULL,
    label        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id);
CREATE INDEX push_subscriptions_by_session ON push_subscriptions(session_hash);

-- Preferences: a muted room sends no notifications (unread is still counted); a user's level
-- says which messages notify at all.
ALTER TABLE memberships ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN notify TEXT NOT NULL DEFAULT 'mentions'
    CHECK (notify IN ('all', 'mentions', 'nothing'));
