-- Registration control: an admin opens registration to anyone (the default), to holders of an
-- invite, or closes it. Settings are key/value rows; invites are kept as the SHA-256 of their
-- code (like sessions), used once, and expire.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE invites (
    code_hash  BYTEA  PRIMARY KEY,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_by    BIGINT REFERENCES users(id) ON DELETE SET NULL,
    used_at    BIGINT
);
