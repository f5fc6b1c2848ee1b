-- Registration control: an admin opens registration to anyone (the default), to holders of an
-- invite, or closes it. Settings are key/value rows; invites are kept as the SHA-256 of their
-- code (like sessions), used once, and expire.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE invites (
    code_hash  BLOB    PRIMARY KEY,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    used_at    INTEGER
);
