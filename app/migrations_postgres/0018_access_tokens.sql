-- Personal access tokens (see `crate::tokens`): what a script, a CI job or a bot shows in
-- `Authorization: Bearer` to use the HTTP API as its owner. As with sessions, only the token's
-- SHA-256 is kept, so a leaked database leaks no live token. `scopes` is the words it was
-- granted ("read write admin"); a NULL `expires_at` never expires. Revoking deletes the row.
CREATE TABLE access_tokens (
    token_hash   BYTEA  PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id);
