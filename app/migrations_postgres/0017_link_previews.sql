-- Link previews (see `crate::preview`). A message shows the card of its first link once the
-- server has fetched it: `preview` is the card (JSON) and `preview_image` its thumbnail's hash,
-- kept apart so that a prune of the file store finds the bytes still in use. `link_previews`
-- keeps what each URL gave (a NULL `preview`: no card) for a while, so a link posted often is
-- fetched once.
ALTER TABLE messages ADD COLUMN preview TEXT;
ALTER TABLE messages ADD COLUMN preview_image TEXT;
CREATE TABLE link_previews (
    url TEXT PRIMARY KEY,
    preview TEXT,
    image TEXT,
    fetched_at BIGINT NOT NULL
);
CREATE INDEX link_previews_by_age ON link_previews (fetched_at);
