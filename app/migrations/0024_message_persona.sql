-- The name and picture an incoming webhook's payload asks its message to be shown with
-- (Slack's `username` and `icon_url`), as JSON `{"name": …, "icon": {"sha256": …}}`: shown
-- beside the hook's bot, never in its place. The icon's bytes are a thumbnail in the file store.
ALTER TABLE messages ADD COLUMN persona TEXT;
