-- The audit log: every admin action (from the web console or the command line), who took it,
-- when, on what, and from where. Rows are only ever added. The actor's name is kept as it was,
-- so a line still reads right after the account is renamed or removed.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    target   TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    origin   TEXT    NOT NULL
);
