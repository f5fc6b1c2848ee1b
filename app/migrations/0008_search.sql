-- Search: an FTS5 index over message text. It keeps no copy of the text (external content:
-- `messages` holds it) and is kept in step by triggers on every insert, edit, delete and
-- removal, whatever wrote the row (a post, an edit, a restore), so edited-away and deleted text
-- (a tombstone's body is empty) is never found. Words are runs of letters and digits, compared
-- ignoring case and diacritics; `crate::search` splits a query the same way.

CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_on_insert AFTER INSERT ON messages
BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (NEW.id, NEW.body);
END;

-- A reaction or a renumbering rewrites the row with the same text: nothing to do then.
CREATE TRIGGER messages_fts_on_change AFTER UPDATE OF body ON messages
WHEN OLD.body IS NOT NEW.body
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', OLD.id, OLD.body);
    INSERT INTO messages_fts (rowid, body) VALUES (NEW.id, NEW.body);
END;

CREATE TRIGGER messages_fts_on_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', OLD.id, OLD.body);
END;
