-- Profiles: what a person says of themselves besides their username, which stays the unique
-- handle. A display name, a status (an emoji and words, with an optional time it clears at,
-- UTC ms), an IANA time zone so others see their local time, and an avatar: the SHA-256 of
-- its 128 px and 64 px squares, re-encoded by the server and kept in the file store (the
-- uploaded bytes are never kept). NULL is "not set" for each.
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN status_emoji TEXT;
ALTER TABLE users ADD COLUMN status_text TEXT;
ALTER TABLE users ADD COLUMN status_until BIGINT;
ALTER TABLE users ADD COLUMN time_zone TEXT;
ALTER TABLE users ADD COLUMN avatar TEXT;
ALTER TABLE users ADD COLUMN avatar_small TEXT;
